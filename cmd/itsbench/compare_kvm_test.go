package main

import (
	"strings"
	"testing"
)

// TestCompareKVM runs `itsbench compare -a sim -b kvm -workload lpistress`
// for real (few iterations) and logs the report. On an x86-64 host the sim
// side runs here and the kvm side in the arm64 guest the CLI boots
// (cliKVM says when it runs):
//
//	GICITS_CLI_KERNEL=6.12 go test -run TestCompareKVM -v ./cmd/itsbench/
func TestCompareKVM(t *testing.T) {
	guest := cliKVM(t)
	args := append([]string{"compare", "-a", "sim", "-b", "kvm", "-workload", "lpistress", "-i", "200"}, guest...)
	status, stdout, stderr := runArgs(t, args...)
	t.Logf("itsbench compare -a sim -b kvm -workload lpistress -i 200 (status %d):\n%s%s", status, stdout, stderr)
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	want := []string{"kvm/sim", "throughput (LPIs/s)", "sim ran simulated in this process", "kvm ran KVM on Linux "}
	if guest != nil {
		// The sim here, KVM in QEMU's virt machine with its TCG "max" CPUs.
		want = append(want, "sim ran simulated in this process, on this host (", ", nested in QEMU's virt machine with emulated CPUs (TCG)\n", emulationNote)
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
