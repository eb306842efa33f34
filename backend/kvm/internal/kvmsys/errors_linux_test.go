//go:build linux

package kvmsys

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

func TestErrorWrapsErrnoAndSentinel(t *testing.T) {
	for _, c := range []struct {
		errno    error
		sentinel error
	}{{EBUSY, model.ErrBusy}, {EINVAL, model.ErrInvalidArgument}, {ENXIO, model.ErrNotSupported}, {ENODEV, model.ErrNotSupported}} {
		err := wrap("KVM_SET_DEVICE_ATTR", "group 8", c.errno)
		if !errors.Is(err, c.errno) || !errors.Is(err, c.sentinel) {
			t.Errorf("%v: does not wrap %v and %v", err, c.errno, c.sentinel)
		}
		if !strings.HasPrefix(err.Error(), "KVM_SET_DEVICE_ATTR (group 8): ") {
			t.Errorf("message %q does not name the ioctl", err)
		}
	}
	if wrap("x", "", nil) != nil {
		t.Error("wrap(nil) != nil")
	}
}

// The user-fixable ways of not having KVM are distinct, and both say
// ErrNotSupported.
func TestOpenErrorsDistinct(t *testing.T) {
	if errors.Is(ErrNoKVM, ErrKVMPermission) || errors.Is(ErrKVMPermission, ErrNoKVM) {
		t.Error("ErrNoKVM and ErrKVMPermission are not distinct")
	}
	for _, err := range []error{ErrNoKVM, ErrKVMPermission} {
		if !errors.Is(err, model.ErrNotSupported) {
			t.Errorf("%v does not wrap ErrNotSupported", err)
		}
	}
	if _, err := OpenKVM(); err != nil && !errors.Is(err, ErrNoKVM) && !errors.Is(err, ErrKVMPermission) {
		t.Logf("OpenKVM: %v", err)
	}
}
