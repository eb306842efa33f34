package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestStateTransferKVM takes a state from real KVM into the simulator and
// from the simulator into KVM through itsbench state -save and -restore:
// on either side the dump and the walk of explain are the scenario's own
// (which TestExplainStateKVM shows are the same on both backends). On an
// x86-64 host the saved-state file the guest writes comes back to the host
// path given to -save, and the one the host wrote goes in (cliKVM says
// when it runs):
//
//	GICITS_CLI_KERNEL=6.12 go test -run TestStateTransferKVM -v ./cmd/itsbench/
func TestStateTransferKVM(t *testing.T) {
	guest := cliKVM(t)
	kvm := func(backend string) []string {
		if backend == "kvm" {
			return guest
		}
		return nil
	}
	_, want, _ := runArgs(t, "state", "-script", stateScenario)
	_, walk, _ := runArgs(t, "explain", "-script", stateScenario, "dev=0x10", "ev=1")
	_, wantWalk, _ := strings.Cut(walk, "\n")
	for _, c := range []struct{ from, to string }{{"kvm", "sim"}, {"sim", "kvm"}} {
		t.Run(c.from+"-to-"+c.to, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), c.from+".state")
			status, dump, stderr := runArgs(t, append([]string{"state", "-backend", c.from, "-script", stateScenario, "-save", file}, kvm(c.from)...)...)
			if status != 0 || dump != want {
				t.Fatalf("state -backend %s -save: status %d, stderr %q:\n%s", c.from, status, stderr, dump)
			}
			status, got, stderr := runArgs(t, append([]string{"state", "-backend", c.to, "-restore", file}, kvm(c.to)...)...)
			if status != 0 || got != want {
				t.Errorf("state -backend %s -restore: status %d, stderr %q:\n%s\nwant\n%s", c.to, status, stderr, got, want)
			}
			status, walk, stderr := runArgs(t, append(append([]string{"explain", "-backend", c.to}, kvm(c.to)...), "-restore", file, "dev=0x10", "ev=1")...)
			if _, rest, _ := strings.Cut(walk, "\n"); status != 0 || rest != wantWalk {
				t.Errorf("explain -backend %s -restore: status %d, stderr %q:\n%s\nwant\n%s", c.to, status, stderr, walk, wantWalk)
			}
		})
	}
}
