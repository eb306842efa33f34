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
// The cache is an open-addressing hash table with linear probing, read and
// written with atomic operations only. A slot's key, once set, never
// changes for the life of its table: removing an entry zeroes its value
// and leaves the key, and a key is only ever re-inserted into its own
// slot. So a reader that found its key can only ever read a value stored
// for that key, current or stale. Stale values are harmless: every removal
// goes with a revocation of the LPI's generation, and the MSI path makes
// an LPI pending only if the generation it read is still current
// (Redistributors.PendTranslated). Tables are rebuilt, never resized in
// place: a rebuild copies the live entries into a new table and publishes
// it; readers still holding the old one see at worst a stale value.
type translationCache struct {
	tab atomic.Pointer[cacheTable]

	mu   sync.Mutex // writers
	live int        // entries with a value
	used int        // slots with a key
}

type cacheTable struct {
	shift uint // 64 - log2(len(slots))
	mask  uint64
	slots []cacheSlot
}

// cacheSlot is one entry. key is a cacheKey with keyUsed set, or 0 for a
// slot never used; val is cacheValue, or 0 for no entry (INTID 0 is never
// an LPI).
type cacheSlot struct {
	key atomic.Uint64
	val atomic.Uint64
}

// keyUsed marks a used slot's key. EventIDs have at most 31 bits (package
// its refuses wider GITS_TYPER.ID_bits), so bit 31 of a cacheKey is free.
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

// lookup returns key's value, or false. It takes no lock.
func (c *translationCache) lookup(key uint64) (uint64, bool) {
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

func (c *translationCache) insert(key, v uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.tab.Load().slot(key)
	if s.key.Load() == 0 {
		if (c.used+1)*4 > len(c.tab.Load().slots)*3 {
			c.rebuild(c.live + 1)
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

// remove deletes key's entry. The caller revokes the LPI's generation, so
// a reader that already loaded the value cannot use it.
func (c *translationCache) remove(key uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.tab.Load().slot(key)
	if s.key.Load() != 0 && s.val.Swap(0) != 0 {
		c.live--
	}
}

// flush empties the cache. The caller revokes every LPI's generation.
func (c *translationCache) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tab.Store(newCacheTable(minCacheSlots))
	c.live, c.used = 0, 0
}

func (c *translationCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}
