package kvm_test

import (
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/model"
)

// openKVM opens a kvm backend for the test, or skips or fails it as
// kvmtest decides (GICITS_KVM_REQUIRED).
func openKVM(t testing.TB, cfg model.Config) model.Backend {
	t.Helper()
	return kvmtest.Open(t, cfg)
}
