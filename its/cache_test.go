package its

import (
	"sync"
	"testing"

	"github.com/gicits/gicits/model"
)

// cacheIDs covers both halves of the cache: the dense arrays (both IDs
// below 2^16) and the hash table (either ID above), at page and chunk
// edges.
var cacheIDs = []struct {
	dev model.DeviceID
	ev  model.EventID
}{
	{0, 0}, {0, 15}, {0, 16}, {1, 0}, {255, 7}, {256, 7}, {0xFFFF, 0xFFFF},
	{0x10000, 0}, {0, 0x10000}, {0xFFFFFFFF, 0x7FFFFFFF}, {0x12345678, 3},
}

func TestTranslationCacheInsertLookupRemove(t *testing.T) {
	c := newTranslationCache()
	for i, id := range cacheIDs {
		if _, ok := c.lookup(id.dev, id.ev); ok {
			t.Fatalf("empty cache hit %#x/%d", id.dev, id.ev)
		}
		c.insert(id.dev, id.ev, cacheValue(model.LPIBase+model.INTID(i), uint32(i)))
	}
	if got := c.len(); got != len(cacheIDs) {
		t.Fatalf("len = %d, want %d", got, len(cacheIDs))
	}
	for i, id := range cacheIDs {
		v, ok := c.lookup(id.dev, id.ev)
		if want := cacheValue(model.LPIBase+model.INTID(i), uint32(i)); !ok || v != want {
			t.Errorf("lookup %#x/%d = %#x, %v; want %#x", id.dev, id.ev, v, ok, want)
		}
	}
	// Neighbours of cached IDs are not hits, nor is an EventID that
	// differs from a cached one only in bit 31 (the hash table's marker).
	for _, id := range []struct {
		dev model.DeviceID
		ev  model.EventID
	}{{0, 1}, {1, 1}, {2, 0}, {0xFFFF, 0xFFFE}, {0x10001, 0}, {0, 0x10001}, {0x12345678, 0x80000003}, {0x10000, 0x80000000}, {0, 0x80000000}} {
		if v, ok := c.lookup(id.dev, id.ev); ok {
			t.Errorf("lookup %#x/%d hit %#x, never cached", id.dev, id.ev, v)
		}
	}
	// Re-inserting replaces; removing twice is harmless.
	c.insert(0, 0, cacheValue(9000, 7))
	if v, _ := c.lookup(0, 0); v != cacheValue(9000, 7) {
		t.Errorf("after re-insert lookup 0/0 = %#x", v)
	}
	for _, id := range cacheIDs {
		c.remove(id.dev, id.ev)
		c.remove(id.dev, id.ev)
		if _, ok := c.lookup(id.dev, id.ev); ok {
			t.Errorf("removed %#x/%d still hits", id.dev, id.ev)
		}
	}
	if got := c.len(); got != 0 {
		t.Fatalf("len after removing all = %d", got)
	}
	c.insert(5, 5, cacheValue(8200, 1))
	c.insert(0x20000, 5, cacheValue(8201, 1))
	c.flush()
	if _, ok := c.lookup(5, 5); ok || c.len() != 0 {
		t.Fatal("flush left an entry")
	}
	if _, ok := c.lookup(0x20000, 5); ok {
		t.Fatal("flush left a hash table entry")
	}
}

// Growing the hash table and a device's page table keeps every entry.
func TestTranslationCacheGrows(t *testing.T) {
	c := newTranslationCache()
	const n = 5000
	val := func(i int) uint64 { return cacheValue(model.LPIBase+model.INTID(i), uint32(i)) }
	for i := range n {
		c.insert(model.DeviceID(0x10000+i%37), model.EventID(i), val(i)) // hash table
		c.insert(3, model.EventID(n-1-i), val(i))                        // one device, growing backwards and forwards
	}
	for i := range n {
		if v, ok := c.lookup(model.DeviceID(0x10000+i%37), model.EventID(i)); !ok || v != val(i) {
			t.Fatalf("hash entry %d lost after growth: %#x %v", i, v, ok)
		}
		if v, ok := c.lookup(3, model.EventID(n-1-i)); !ok || v != val(i) {
			t.Fatalf("dense entry %d lost after growth: %#x %v", n-1-i, v, ok)
		}
	}
	for i := range n / 2 { // removals leave keys behind; inserts must still find room
		c.remove(model.DeviceID(0x10000+i%37), model.EventID(i))
	}
	for i := range n {
		c.insert(model.DeviceID(0x20000+i), 1, val(i))
	}
	if got, want := c.len(), 2*n+n-n/2; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
}

// Readers run without locks while writers insert, grow, remove and flush:
// the race detector must stay quiet, and a hit must only ever return a
// value that was stored for that very (DeviceID, EventID).
func TestTranslationCacheConcurrentReaders(t *testing.T) {
	c := newTranslationCache()
	// The value encodes its key, so a reader can check it.
	val := func(dev model.DeviceID, ev model.EventID) uint64 {
		return cacheValue(model.INTID(uint32(dev)<<8|uint32(ev)&0xFF|1), uint32(ev))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				dev := model.DeviceID(i % 300)
				if g == 1 {
					dev += 0x10000 // the hash table
				}
				ev := model.EventID(i % 211)
				if v, ok := c.lookup(dev, ev); ok && v != val(dev, ev) {
					t.Errorf("lookup %#x/%d returned %#x, stored for another key", dev, ev, v)
					return
				}
			}
		})
	}
	for round := range 30 {
		for i := range 3000 {
			for _, base := range []model.DeviceID{0, 0x10000} {
				dev, ev := base+model.DeviceID(i%300), model.EventID(i%211)
				c.insert(dev, ev, val(dev, ev))
				if i%3 == 0 {
					c.remove(dev, ev)
				}
			}
		}
		if round%10 == 9 {
			c.flush()
		}
	}
	close(stop)
	wg.Wait()
}
