package script_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/model"
)

// differential runs count streams on a and b and reports every seed on
// which they disagree with its (-a +b) diff and the shrunk stream as a
// script that reproduces it.
func differential(t *testing.T, a, b difftest.Variant, count int) {
	first := uint64(0)
	if v := os.Getenv("GICITS_DIFF_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 0, 64)
		if err != nil {
			t.Fatalf("GICITS_DIFF_SEED=%q: want a number", v)
		}
		first, count = n, 1
	}
	failed := 0
	for seed := first; seed < first+uint64(count); seed++ {
		s := difftest.Generate(seed, difftest.StreamLength)
		d := difftest.Diff(s, a, b)
		if d == "" {
			continue
		}
		failed++
		small := difftest.Shrink(s, a, b)
		t.Errorf("seed %d: %s and %s disagree (-%s +%s):\n%s\nshrunk stream (%d statements), reproduce with GICITS_DIFF_SEED=%d or save as an .its file:\n%s",
			seed, a.Name, b.Name, a.Name, b.Name, difftest.Diff(small, a, b), len(small.Stmts), seed, small)
		if failed == 3 {
			t.Fatalf("stopping after 3 disagreeing seeds")
		}
	}
}

// TestDifferentialCache: the simulator with and without its translation
// cache must agree on every stream. This runs on any host.
func TestDifferentialCache(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 10
	}
	differential(t,
		difftest.Variant{Name: "cache", Backend: "sim"},
		difftest.Variant{Name: "nocache", Backend: "sim", Configure: func(c *model.Config) { c.NoTranslationCache = true }},
		n)
}

// TestDifferentialSimKVM: the simulator and real KVM must agree on 200
// streams. It runs inside the QEMU harness (GICITS_KVM_REQUIRED=1) and skips
// elsewhere, saying why.
func TestDifferentialSimKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 4})
	differential(t, difftest.Variant{Name: "sim", Backend: "sim"}, difftest.Variant{Name: "kvm", Backend: "kvm"}, 200)
}
