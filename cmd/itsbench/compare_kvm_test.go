package main

import (
	"strings"
	"testing"
)

// TestCompareKVM runs `itsbench compare -a sim -b kvm -workload lpistress`
// for real (few iterations, 5 runs a side) and logs the report. On an
// x86-64 host the sim side runs here and the kvm side's runs in one boot
// of the arm64 guest the CLI boots (cliKVM says when it runs):
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
	want := []string{"kvm/sim", "throughput (LPIs/s)", "runs: 5 runs of sim, 5 runs of kvm, ", "sim ran simulated in this process", "kvm ran KVM on Linux "}
	if guest != nil {
		// The sim here, KVM in QEMU's virt machine with its TCG "max" CPUs,
		// all five of its runs in one boot, the sim's bracketing it.
		want = append(want, "sim ran simulated in this process, on this host (", ", nested in QEMU's virt machine with emulated CPUs (TCG)\n", emulationNote,
			"on two machines, so not interleaved run by run: 3 runs of A here, then 5 runs of B in one boot of the arm64 guest, then 2 more runs of A here\n")
	} else {
		want = append(want, "interleaved in this process: A B B A A B B A A B\n")
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
