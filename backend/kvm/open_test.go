package kvm_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

func TestRegistered(t *testing.T) {
	found := false
	for _, n := range model.Backends() {
		found = found || n == "kvm"
	}
	if !found {
		t.Fatalf("backend kvm not registered: %v", model.Backends())
	}
}

func TestRefusedConfigs(t *testing.T) {
	for _, cfg := range []model.Config{
		{ErrorPolicy: model.StallOnError},
		{NoTranslationCache: true},
		{ITSTyper: model.KVMITSTyper | 1<<19},
	} {
		_, err := model.Open(kvm.Name, cfg)
		if !errors.Is(err, model.ErrNotSupported) {
			t.Errorf("Open(%+v) = %v, want ErrNotSupported", cfg, err)
		}
	}
}

func TestOpenSmoke(t *testing.T) {
	b := openKVM(t, model.Config{CPUs: 2})
	typer, err := b.ReadITSRegister(model.GITS_TYPER)
	if err != nil {
		t.Fatal(err)
	}
	if model.ITSTyper(typer) != model.KVMITSTyper {
		t.Errorf("GITS_TYPER = %#x, want %#x", typer, uint64(model.KVMITSTyper))
	}
	caps := b.Capabilities()
	if !caps.NeedsDeviceID || caps.ReportsCommandErrors || caps.CPUs != 2 {
		t.Errorf("capabilities %+v", caps)
	}
	ctlr, err := b.ReadITSRegister(model.GITS_CTLR)
	if err != nil || ctlr&model.GITS_CTLR_Enabled == 0 {
		t.Errorf("GITS_CTLR = %#x, %v; want Enabled", ctlr, err)
	}
	gt, err := b.ReadRedistributorRegister(1, model.GICR_TYPER)
	if err != nil || gt != model.RedistributorTyper(1, 2) {
		t.Errorf("GICR_TYPER of CPU 1 = %#x, %v; want %#x", gt, err, model.RedistributorTyper(1, 2))
	}
	id, err := b.Acknowledge(0)
	t.Logf("Acknowledge with nothing pending: %d, %v", id, err)
	if err != nil || id != model.SpuriousINTID {
		t.Errorf("Acknowledge = %d, %v; want spurious", id, err)
	}
}
