package main

import (
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
	for _, want := range []string{"kvm/sim", "throughput (LPIs/s)", emulationNote} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}
