package gicr

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// The summary level must never hide a set bit, even with setters and
// clearers racing on the same words.
func TestHintBitmapConcurrentSummary(t *testing.T) {
	b := newHintBitmap(1 << 14)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			for range 20000 {
				i := uint32(rng.IntN(256)) // few words: maximum contention
				if rng.IntN(2) == 0 {
					b.set(i)
				} else {
					b.clear(i)
				}
			}
		})
	}
	wg.Wait()
	var viaSummary, viaWords []uint32
	b.each(func(i uint32) bool { viaSummary = append(viaSummary, i); return true })
	for i := range uint32(1 << 14) {
		if b.test(i) {
			viaWords = append(viaWords, i)
		}
	}
	if !slices.Equal(viaSummary, viaWords) {
		t.Errorf("scan through the summary found %v, the words hold %v", viaSummary, viaWords)
	}
}
