package its

import (
	"sync"
	"sync/atomic"

	"github.com/gicits/gicits/model"
)

// translationCache maps (DeviceID, EventID) to the INTID the event
// translates to and the LPI's translation generation at the time
// (Redistributors.Generation). Lookups take no lock and write nothing
// shared; inserts, removals and flushes are serialised by mu.
//
// # Notes
//
// Small IDs (DeviceID and EventID both below 2^16, which covers KVM's
// GITS_TYPER and every device Linux creates) are looked up in dense
// per-device arrays: a two-level directory by DeviceID, then pages of 16
// entries by EventID. A device's entries are contiguous and nothing is
// hashed, so a million cached translations take 8.5 bytes each and an MSI
// touches one cold cache line for them. Larger IDs go to an open-addressing
// hash table with linear probing.
//
// Both are read and written with atomic operations only, and both keep
// one rule: a reader that found its (DeviceID, EventID) can only ever read
// a value stored for that same pair, current or stale. In the hash table a
// slot's key, once set, never changes for the life of the table (removal
// zeroes the value and leaves the key); in the dense arrays the position
// is the key. Stale values are harmless: every removal goes with a
// revocation of the LPI's generation, and the MSI path makes an LPI
// pending only if the generation it read is still current
// (Redistributors.PendTranslated). Structures grow by copying into new
// ones published with one atomic store; readers still holding the old
// ones see at worst a stale value.
type translationCache struct {
	dir [denseDevices >> 8]atomic.Pointer[devChunk]
	tab atomic.Pointer[cacheTable]

	mu   sync.Mutex // writers
	live int        // entries with a value, both structures
	used int        // hash table slots with a key
}

// Dense arrays cover DeviceIDs and EventIDs below these.
const (
	denseDevices = 1 << 16
	denseEvents  = 1 << 16
	evPageShift  = 4
)

// devChunk is the second level of the device directory: 256 devices.
type devChunk [256]atomic.Pointer[devCache]

// devCache is one device's dense entries: pages of 16 EventIDs, allocated
// when an entry in them is first cached.
type devCache struct {
	pages []atomic.Pointer[evPage]
}

type evPage [1 << evPageShift]atomic.Uint64

type cacheTable struct {
	shift uint // 64 - log2(len(slots))
	mask  uint64
	slots []cacheSlot
}

// cacheSlot is one hash table entry. key is a cacheKey (keyUsed set), or
// 0 for a slot never used; val is a cacheValue, or 0 for no entry (INTID 0
// is never an LPI, so no value is 0).
type cacheSlot struct {
	key atomic.Uint64
	val atomic.Uint64
}

// keyUsed marks a used slot's key. Mapped EventIDs have at most 31 bits
// (package its refuses wider GITS_TYPER.ID_bits), so bit 31 of a cacheKey
// is free; lookup refuses an MSI whose EventID has it set, which would
// otherwise alias EventID &^ 1<<31.
const keyUsed = 1 << 31

// minCacheSlots is the smallest table.
const minCacheSlots = 64

func newTranslationCache() *translationCache {
	c := &translationCache{}
	c.tab.Store(newCacheTable(minCacheSlots))
	return c
}

func newCacheTable(n int) *cacheTable {
	shift := uint(64)
	for 1<<(64-shift) < n {
		shift--
	}
	size := 1 << (64 - shift)
	return &cacheTable{shift: shift, mask: uint64(size - 1), slots: make([]cacheSlot, size)}
}

func cacheKey(dev model.DeviceID, ev model.EventID) uint64 {
	return uint64(dev)<<32 | uint64(ev) | keyUsed
}

func cacheValue(intid model.INTID, gen uint32) uint64 {
	return uint64(intid) | uint64(gen)<<32
}

// home is key's first slot: a multiplicative hash (Fibonacci hashing), so
// the events of one device spread over the table.
func (t *cacheTable) home(key uint64) uint64 {
	return (key * 0x9E3779B97F4A7C15) >> t.shift
}

// lookup returns the value cached for (dev, ev), or false. It takes no
// lock.
func (c *translationCache) lookup(dev model.DeviceID, ev model.EventID) (uint64, bool) {
	if dev < denseDevices && ev < denseEvents {
		ch := c.dir[dev>>8].Load()
		if ch == nil {
			return 0, false
		}
		d := ch[dev&0xFF].Load()
		if d == nil || uint64(ev>>evPageShift) >= uint64(len(d.pages)) {
			return 0, false
		}
		p := d.pages[ev>>evPageShift].Load()
		if p == nil {
			return 0, false
		}
		v := p[ev&(1<<evPageShift-1)].Load()
		return v, v != 0
	}
	if ev&keyUsed != 0 {
		return 0, false // no EventID this wide is ever mapped (nor cached)
	}
	key := cacheKey(dev, ev)
	t := c.tab.Load()
	for i := t.home(key); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		switch s.key.Load() {
		case key:
			v := s.val.Load()
			return v, v != 0
		case 0:
			return 0, false
		}
	}
}

// denseEntry returns the dense entry of (dev, ev), or nil. alloc creates
// what is missing. Called with mu held.
func (c *translationCache) denseEntry(dev model.DeviceID, ev model.EventID, alloc bool) *atomic.Uint64 {
	ch := c.dir[dev>>8].Load()
	if ch == nil {
		if !alloc {
			return nil
		}
		ch = new(devChunk)
		c.dir[dev>>8].Store(ch)
	}
	d := ch[dev&0xFF].Load()
	pi := int(ev >> evPageShift)
	if d == nil || pi >= len(d.pages) {
		if !alloc {
			return nil
		}
		// A new device, or one with more events than before: a bigger
		// page table sharing the old pages, published whole.
		n := &devCache{pages: make([]atomic.Pointer[evPage], min(max(pi+1, 2*lenPages(d)), denseEvents>>evPageShift))}
		if d != nil {
			for i := range d.pages {
				n.pages[i].Store(d.pages[i].Load())
			}
		}
		ch[dev&0xFF].Store(n)
		d = n
	}
	p := d.pages[pi].Load()
	if p == nil {
		if !alloc {
			return nil
		}
		p = new(evPage)
		d.pages[pi].Store(p)
	}
	return &p[ev&(1<<evPageShift-1)]
}

func lenPages(d *devCache) int {
	if d == nil {
		return 0
	}
	return len(d.pages)
}

// slot returns key's slot in t, or the free slot where it goes. Called
// with mu held; t is never full.
func (t *cacheTable) slot(key uint64) *cacheSlot {
	for i := t.home(key); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if k := s.key.Load(); k == key || k == 0 {
			return s
		}
	}
}

func (c *translationCache) insert(dev model.DeviceID, ev model.EventID, v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dev < denseDevices && ev < denseEvents {
		e := c.denseEntry(dev, ev, true)
		if e.Swap(v) == 0 {
			c.live++
		}
		return
	}
	key := cacheKey(dev, ev)
	s := c.tab.Load().slot(key)
	if s.key.Load() == 0 {
		if (c.used+1)*4 > len(c.tab.Load().slots)*3 {
			c.rebuild(c.hashLive() + 1)
			s = c.tab.Load().slot(key)
		}
		if s.key.Load() == 0 {
			c.used++
		}
	}
	if s.val.Load() == 0 {
		c.live++
	}
	s.val.Store(v)
	s.key.Store(key) // publishes the slot: the value is in place first
}

// hashLive counts the hash table's live entries. Called with mu held.
func (c *translationCache) hashLive() int {
	n := 0
	t := c.tab.Load()
	for i := range t.slots {
		if t.slots[i].val.Load() != 0 {
			n++
		}
	}
	return n
}

// rebuild replaces the table with one holding only the live entries, sized
// so that n entries fill at most half of it. Called with mu held.
func (c *translationCache) rebuild(n int) {
	old := c.tab.Load()
	t := newCacheTable(max(minCacheSlots, 2*n))
	c.used = 0
	for i := range old.slots {
		s := &old.slots[i]
		if v := s.val.Load(); v != 0 {
			k := s.key.Load()
			d := t.slot(k)
			d.val.Store(v)
			d.key.Store(k)
			c.used++
		}
	}
	c.tab.Store(t)
}

// remove deletes the entry of (dev, ev). The caller revokes the LPI's
// generation, so a reader that already loaded the value cannot use it.
func (c *translationCache) remove(dev model.DeviceID, ev model.EventID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if dev < denseDevices && ev < denseEvents {
		if e := c.denseEntry(dev, ev, false); e != nil && e.Swap(0) != 0 {
			c.live--
		}
		return
	}
	s := c.tab.Load().slot(cacheKey(dev, ev))
	if s.key.Load() != 0 && s.val.Swap(0) != 0 {
		c.live--
	}
}

// flush empties the cache. The caller revokes every LPI's generation.
func (c *translationCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.dir {
		c.dir[i].Store(nil)
	}
	c.tab.Store(newCacheTable(minCacheSlots))
	c.live, c.used = 0, 0
}

func (c *translationCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}
