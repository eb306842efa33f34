package gicr

import (
	"math/bits"
	"sync/atomic"
)

// hintBitmap is a set of bits with a summary level holding one bit per
// non-zero word, so a scan visits only words that have bits set. Each CPU
// keeps one as its hints: a bit per group of 64 INTIDs that may hold an
// LPI pending there.
//
// # Notes
//
// The summary is exact enough for scanning: a word with a bit set always has
// its summary bit set once the setter returns. Setters set the word bit,
// then the summary bit if it is clear; clearers clear the summary bit when
// the word becomes zero and set it again if a concurrent setter refilled
// the word in between.
type hintBitmap struct {
	words   []atomic.Uint64
	summary []atomic.Uint64
}

func newHintBitmap(nbits uint64) hintBitmap {
	n := (nbits + 63) / 64
	return hintBitmap{
		words:   make([]atomic.Uint64, n),
		summary: make([]atomic.Uint64, (n+63)/64),
	}
}

// set makes bit i set. A bit already set costs one load (coalescing);
// otherwise one atomic OR, plus one on the summary when its bit is clear.
func (b *hintBitmap) set(i uint32) {
	w := i / 64
	mask := uint64(1) << (i % 64)
	if b.words[w].Load()&mask == 0 {
		b.words[w].Or(mask)
	}
	sbit := uint64(1) << (w % 64)
	if b.summary[w/64].Load()&sbit == 0 {
		b.summary[w/64].Or(sbit)
	}
}

// clear clears bit i and reports whether it was set.
func (b *hintBitmap) clear(i uint32) bool {
	w := i / 64
	mask := uint64(1) << (i % 64)
	old := b.words[w].And(^mask)
	if old&mask == 0 {
		return false
	}
	if old == mask {
		sbit := uint64(1) << (w % 64)
		b.summary[w/64].And(^sbit)
		if b.words[w].Load() != 0 {
			b.summary[w/64].Or(sbit)
		}
	}
	return true
}

// test reports whether bit i is set.
func (b *hintBitmap) test(i uint32) bool {
	return b.words[i/64].Load()&(uint64(1)<<(i%64)) != 0
}

// each calls fn for every set bit, ascending, until fn returns false.
func (b *hintBitmap) each(fn func(i uint32) bool) {
	for si := range b.summary {
		s := b.summary[si].Load()
		for s != 0 {
			j := bits.TrailingZeros64(s)
			s &^= 1 << j
			w := uint32(si*64 + j)
			word := b.words[w].Load()
			for word != 0 {
				k := bits.TrailingZeros64(word)
				word &^= 1 << k
				if !fn(w*64 + uint32(k)) {
					return
				}
			}
		}
	}
}

// clearAll clears every bit.
func (b *hintBitmap) clearAll() {
	for si := range b.summary {
		s := b.summary[si].Swap(0)
		for s != 0 {
			j := bits.TrailingZeros64(s)
			s &^= 1 << j
			b.words[si*64+j].Store(0)
		}
	}
}
