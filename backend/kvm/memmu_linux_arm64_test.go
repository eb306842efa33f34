//go:build linux && arm64

package kvm_test

import (
	"testing"
	"time"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// Pending and SaveTables write guest memory (they zero pending, device and
// collection tables, and KVM's saves write them) and so wait until no
// access through Memory is in progress, and none begins meanwhile: a
// reader never sees a table half zeroed. The test holds an access open,
// starts the operation, and wants it to wait for memMu rather than end.
// (SaveTables once zeroed the tables under mu alone.)
func TestGuestMemoryWritersWaitForMemoryAccess(t *testing.T) {
	for _, c := range []struct {
		name string
		op   func(b model.Backend) error
	}{
		{"Pending", func(b model.Backend) error { _, err := b.Pending(0); return err }},
		{"SaveTables", func(b model.Backend) error { return b.SaveTables() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := openKVM(t, model.Config{CPUs: 2})
			mustOK(t, model.EnableLPIs(b, 0))
			mapEvent(t, b, b.Layout().ITTAllocator(), 0, 0x10, 1, model.LPIBase+1)

			release := kvm.HoldMemoryAccess(b)
			done := make(chan error, 1)
			go func() { done <- c.op(b) }()
			for !kvm.MemoryWriterWaits(b) {
				select {
				case err := <-done:
					release()
					t.Fatalf("%s returned (%v) while an access through Memory was in progress: it wrote guest memory without write-holding memMu", c.name, err)
				case <-time.After(time.Millisecond):
				}
			}
			release()
			if err := <-done; err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
	}
}
