//go:build linux && arm64

package kvm

import "github.com/gicits/gicits/model"

// HoldMemoryAccess read-holds b's memMu as an access through Memory does,
// until the returned function is called: an access in progress.
func HoldMemoryAccess(b model.Backend) (release func()) {
	k := b.(*backend)
	k.memMu.RLock()
	return k.memMu.RUnlock
}

// MemoryWriterWaits reports whether something holds b's memMu for writing
// or waits to: then no access through Memory may begin.
func MemoryWriterWaits(b model.Backend) bool {
	k := b.(*backend)
	if k.memMu.TryRLock() {
		k.memMu.RUnlock()
		return false
	}
	return true
}
