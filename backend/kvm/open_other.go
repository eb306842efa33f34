//go:build !(linux && arm64)

package kvm

import (
	"fmt"
	"runtime"

	"github.com/gicits/gicits/model"
)

func open(model.Config, bool) (model.Backend, error) {
	return nil, fmt.Errorf("backend/kvm needs linux/arm64 with /dev/kvm (this is %s/%s); on x86-64 run scripts/kvm-harness (QEMU) or use -backend sim: %w",
		runtime.GOOS, runtime.GOARCH, model.ErrNotSupported)
}
