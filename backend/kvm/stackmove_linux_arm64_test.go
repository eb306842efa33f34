//go:build linux && arm64

package kvm_test

import (
	"testing"

	"github.com/gicits/gicits/model"
)

// atDepth calls f with d frames of padding below it, so that the goroutine's
// stack grows at a different point of f's call each time.
//
//go:noinline
func atDepth(d int, f func() uint64) uint64 {
	var pad [32]byte
	if d == 0 {
		return f()
	}
	return atDepth(d-1, f) + uint64(pad[d%32])
}

// TestRegisterReadsSurviveStackGrowth: a register read goes through a
// device-attribute ioctl that hands the kernel the address of the result.
// When that result lived on the goroutine's stack and the stack grew on the
// way to the ioctl, the kernel wrote to the old stack and the read returned
// 0 (12 reads of 400 on 6.12). Every read, at every stack depth, must see
// the register.
func TestRegisterReadsSurviveStackGrowth(t *testing.T) {
	b := openKVM(t, model.Config{CPUs: 2})
	want, err := b.ReadRedistributorRegister(0, model.GICR_PROPBASER)
	mustOK(t, err)
	if want == 0 {
		t.Fatal("GICR_PROPBASER reads 0 on a fresh VM: the test needs a non-zero register")
	}
	bad := 0
	for d := range 400 {
		done := make(chan uint64)
		go func() {
			done <- atDepth(d, func() uint64 {
				v, err := b.ReadRedistributorRegister(0, model.GICR_PROPBASER)
				if err != nil {
					t.Error(err)
				}
				return v
			})
		}()
		if got := <-done; got != want {
			bad++
			if bad <= 5 {
				t.Errorf("stack depth %d: GICR_PROPBASER read %#x, want %#x", d, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of 400 reads were wrong", bad)
	}
}
