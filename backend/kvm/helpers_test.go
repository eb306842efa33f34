package kvm_test

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// inHarness reports whether the test runs inside scripts/kvm-harness's
// guest, where KVM must be there: a missing KVM fails rather than skips.
func inHarness() bool { return os.Getenv("GICITS_QEMU") == "1" }

// openKVM opens a kvm backend, or skips the test with the reason when the
// host cannot run one (and fails instead inside the harness).
func openKVM(t testing.TB, cfg model.Config) model.Backend {
	t.Helper()
	b, err := model.Open(kvm.Name, cfg)
	if err != nil {
		if errors.Is(err, model.ErrNotSupported) && !inHarness() {
			t.Skipf("no KVM here (%s/%s): %v", runtime.GOOS, runtime.GOARCH, err)
		}
		t.Fatalf("open kvm backend: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}
