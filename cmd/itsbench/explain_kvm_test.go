package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestExplainStateKVM runs `itsbench state` and `itsbench explain` on the
// same scenario on the sim and on KVM and requires identical output: the
// dumps are the same format on both backends, and on KVM they are read from
// the tables KVM saved. On an x86-64 host each kvm command boots the arm64
// guest (cliKVM says when it runs):
//
//	GICITS_CLI_KERNEL=6.12 go test -run TestExplainStateKVM -v ./cmd/itsbench/
func TestExplainStateKVM(t *testing.T) {
	guest := cliKVM(t)
	const scenario = "testdata/explain-state.its"
	for _, args := range [][]string{
		{"state", "-script", scenario},
		{"state", "-script", scenario, "-format", "json"},
		{"explain", "-script", scenario, "dev=0x10", "ev=1"},
		{"explain", "-script", scenario, "dev=0x10", "ev=2"},
		{"explain", "-script", scenario, "dev=0x10", "ev=3"},
	} {
		out := map[string]string{}
		for _, backend := range []string{"sim", "kvm"} {
			full := []string{args[0], "-backend", backend}
			if backend == "kvm" {
				full = append(full, guest...) // before the positional arguments
			}
			full = append(full, args[1:]...)
			status, stdout, stderr := runArgs(t, full...)
			if status != 0 && !(args[0] == "explain" && status == 1) {
				t.Fatalf("itsbench %v: status %d\n%s%s", full, status, stdout, stderr)
			}
			out[backend] = stdout
		}
		t.Logf("itsbench %v on kvm:\n%s", args, out["kvm"])
		if d := cmp.Diff(out["sim"], out["kvm"]); d != "" {
			t.Errorf("itsbench %v differs (-sim +kvm):\n%s", args, d)
		}
	}
}
