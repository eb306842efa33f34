//go:build !(linux && arm64)

package kvm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// TestNotSupportedElsewhere: off linux/arm64 (where the backend is real)
// Open refuses, naming what it needs. The file's build constraint, not a
// skip, keeps it off linux/arm64, where scripts/kvm-harness lets no test skip.
func TestNotSupportedElsewhere(t *testing.T) {
	_, err := model.Open(kvm.Name, model.Config{})
	if !errors.Is(err, model.ErrNotSupported) || !strings.Contains(err.Error(), "linux/arm64") {
		t.Fatalf("Open = %v, want ErrNotSupported naming linux/arm64", err)
	}
}
