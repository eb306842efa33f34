//go:build !linux

package kvmsys

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/gicits/gicits/model"
)

// errNotLinux is what every system call returns on a system other than
// Linux.
var errNotLinux = errors.New("kvmsys: KVM needs Linux")

func sentinelOf(error) error { return nil }

// FD is an owned file descriptor; on this system there are none.
type FD struct{}

// Close returns nil.
func (*FD) Close() error { return nil }

// OpenKVM fails: KVM needs Linux.
func OpenKVM() (*FD, error) {
	return nil, fmt.Errorf("kvmsys.OpenKVM on %s/%s: %w: %w", runtime.GOOS, runtime.GOARCH, errNotLinux, model.ErrNotSupported)
}
