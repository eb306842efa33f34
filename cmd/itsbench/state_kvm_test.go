package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/model"
)

// TestStateTransferKVM takes a state from real KVM into the simulator and
// from the simulator into KVM through itsbench state -save and -restore:
// on either side the dump and the walk of explain are the scenario's own
// (which TestExplainStateKVM shows are the same on both backends). Inside
// scripts/kvm-harness (GICITS_KVM_REQUIRED=1) it must run; elsewhere it
// skips, saying why:
//
//	scripts/kvm-harness -run TestStateTransferKVM -v ./cmd/itsbench/
func TestStateTransferKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 2})
	_, want, _ := runArgs(t, "state", "-script", stateScenario)
	_, walk, _ := runArgs(t, "explain", "-script", stateScenario, "dev=0x10", "ev=1")
	_, wantWalk, _ := strings.Cut(walk, "\n")
	for _, c := range []struct{ from, to string }{{"kvm", "sim"}, {"sim", "kvm"}} {
		t.Run(c.from+"-to-"+c.to, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), c.from+".state")
			status, dump, stderr := runArgs(t, "state", "-backend", c.from, "-script", stateScenario, "-save", file)
			if status != 0 || dump != want {
				t.Fatalf("state -backend %s -save: status %d, stderr %q:\n%s", c.from, status, stderr, dump)
			}
			status, got, stderr := runArgs(t, "state", "-backend", c.to, "-restore", file)
			if status != 0 || got != want {
				t.Errorf("state -backend %s -restore: status %d, stderr %q:\n%s\nwant\n%s", c.to, status, stderr, got, want)
			}
			status, walk, stderr := runArgs(t, "explain", "-backend", c.to, "-restore", file, "dev=0x10", "ev=1")
			if _, rest, _ := strings.Cut(walk, "\n"); status != 0 || rest != wantWalk {
				t.Errorf("explain -backend %s -restore: status %d, stderr %q:\n%s\nwant\n%s", c.to, status, stderr, walk, wantWalk)
			}
		})
	}
}
