package kvm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// TestRefusesGICv4: a configuration asking for GICv4 virtual LPIs is
// refused before anything opens, saying that KVM exposes a GICv3 ITS.
func TestRefusesGICv4(t *testing.T) {
	err := kvm.CheckConfig(model.Config{CPUs: 1, ITSTyper: model.KVMITSTyper | 1<<1})
	if !errors.Is(err, model.ErrNotSupported) || !strings.Contains(err.Error(), "KVM exposes a GICv3 ITS to guests") {
		t.Errorf("CheckConfig with GITS_TYPER.Virtual: %v", err)
	}
}
