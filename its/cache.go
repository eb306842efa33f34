package its

import (
	"sync"

	"github.com/gicits/gicits/model"
)

// cacheShards is the number of translation cache shards: enough that
// MSIs on different cores rarely meet on one lock.
const cacheShards = 64

// cacheShard is one part of the translation cache. The padding keeps two
// shards' locks off one cache line.
type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]uint64 // cacheKey -> INTID | target CPU << 32
	_  [64]byte
}

// translationCache maps (DeviceID, EventID) to (INTID, target CPU).
type translationCache struct {
	shards [cacheShards]cacheShard
}

func newTranslationCache() *translationCache {
	c := &translationCache{}
	for i := range c.shards {
		c.shards[i].m = map[uint64]uint64{}
	}
	return c
}

func cacheKey(dev model.DeviceID, ev model.EventID) uint64 {
	return uint64(dev)<<32 | uint64(ev)
}

func cacheValue(intid model.INTID, cpu model.CPU) uint64 {
	return uint64(intid) | uint64(cpu)<<32
}

// shard returns the shard of key, chosen by a multiplicative hash so keys of
// one device spread over every shard.
func (c *translationCache) shard(key uint64) *cacheShard {
	return &c.shards[(key*0x9E3779B97F4A7C15)>>58]
}

func (c *translationCache) insert(key, v uint64) {
	s := c.shard(key)
	s.mu.Lock()
	s.m[key] = v
	s.mu.Unlock()
}

// remove deletes key. Taking the shard's write lock waits for every MSI
// that hit key to finish making its LPI pending.
func (c *translationCache) remove(key uint64) {
	s := c.shard(key)
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// flush empties the cache, waiting for MSIs in flight on each shard.
func (c *translationCache) flush() {
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		clear(s.m)
		s.mu.Unlock()
	}
}

func (c *translationCache) lockAll() {
	for i := range c.shards {
		c.shards[i].mu.Lock()
	}
}

func (c *translationCache) unlockAll() {
	for i := range c.shards {
		c.shards[i].mu.Unlock()
	}
}

func (c *translationCache) clearLocked() {
	for i := range c.shards {
		clear(c.shards[i].m)
	}
}

func (c *translationCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
