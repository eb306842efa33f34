package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/model"
)

// TestCompareKVM runs `itsbench compare -a sim -b kvm -workload lpistress`
// for real (few iterations) and logs the report: inside scripts/kvm-harness
// (GICITS_KVM_REQUIRED=1) it must run; elsewhere it runs where KVM opens and skips,
// saying why, where it does not. Run it alone in the harness's guest, where
// the sources other tests of this package read are absent:
//
//	scripts/kvm-harness -run TestCompareKVM -v ./cmd/itsbench/
func TestCompareKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{})
	status, stdout, stderr := runArgs(t, "compare", "-a", "sim", "-b", "kvm", "-workload", "lpistress", "-i", "200")
	t.Logf("itsbench compare -a sim -b kvm -workload lpistress -i 200 (status %d):\n%s%s", status, stdout, stderr)
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	want := []string{"kvm/sim", "throughput (LPIs/s)", "sim ran simulated in this process\n", "kvm ran KVM on Linux "}
	if os.Getenv("GICITS_QEMU") == "1" {
		// The harness's guest: QEMU's virt machine with its TCG "max" CPUs.
		want = append(want, ", nested in QEMU's virt machine with emulated CPUs (TCG)\n", emulationNote)
	}
	for _, w := range want {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
