package script_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// streamLength is the number of actions in each generated stream.
const streamLength = 120

// TestGenerateIsValid checks that generated streams print and parse back
// and run on the simulator without a single failure or command error.
func TestGenerateIsValid(t *testing.T) {
	for seed := range uint64(30) {
		s := script.Generate(seed, streamLength)
		again, err := script.Parse("printed.its", []byte(s.String()))
		if err != nil {
			t.Fatalf("seed %d: printed stream does not parse: %v", seed, err)
		}
		if again.String() != s.String() {
			t.Fatalf("seed %d: stream does not round-trip", seed)
		}
		if o := script.Observe(s, script.Variant{Name: "sim", Backend: "sim"}); len(o.Failures) > 0 {
			t.Fatalf("seed %d: generated stream is not valid on sim: %v\n%s", seed, o.Failures, s)
		}
	}
}

// differential runs count streams on a and b and reports every seed on
// which they disagree with its (-a +b) diff and the shrunk stream as a
// script that reproduces it.
func differential(t *testing.T, a, b script.Variant, count int) {
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
		s := script.Generate(seed, streamLength)
		d := script.Diff(s, a, b)
		if d == "" {
			continue
		}
		failed++
		small := script.Shrink(s, a, b)
		t.Errorf("seed %d: %s and %s disagree (-%s +%s):\n%s\nshrunk stream (%d statements), reproduce with GICITS_DIFF_SEED=%d or save as an .its file:\n%s",
			seed, a.Name, b.Name, a.Name, b.Name, script.Diff(small, a, b), len(small.Stmts), seed, small)
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
		script.Variant{Name: "cache", Backend: "sim"},
		script.Variant{Name: "nocache", Backend: "sim", Configure: func(c *model.Config) { c.NoTranslationCache = true }},
		n)
}

// TestDifferentialSimKVM: the simulator and real KVM must agree on 200
// streams. It runs inside the QEMU harness (GICITS_KVM_REQUIRED=1) and skips
// elsewhere, saying why.
func TestDifferentialSimKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 4})
	differential(t, script.Variant{Name: "sim", Backend: "sim"}, script.Variant{Name: "kvm", Backend: "kvm"}, 200)
}

// TestShrinkFindsADisagreement checks diff and shrinker on a disagreement
// made on purpose: the second variant allocates ITTs 1 MiB further on, so
// the saved DTEs differ, and only a MAPD and the save are needed to show
// it.
func TestShrinkFindsADisagreement(t *testing.T) {
	s, err := script.Parse("seeded.its", []byte(`lpi 8192..8193 prio=0x10 enabled
enablelpis all
mapc icid=0 cpu=0
mapd dev=0x10 bits=3
mapd dev=0x11 bits=3
mapti dev=0x11 ev=1 lpi=8192 icid=0
msi dev=0x11 ev=1
ack cpu=0
eoi cpu=0
mapti dev=0x10 ev=2 lpi=8193 icid=0
save
`))
	if err != nil {
		t.Fatal(err)
	}
	base := script.Variant{Name: "base", Backend: "sim"}
	moved := script.Variant{Name: "moved", Backend: "sim", Configure: func(c *model.Config) {
		c.Layout = model.DefaultLayout()
		c.Layout.ITTs += 1 << 20
		c.Layout.ITTsSize -= 1 << 20
	}}
	if d := script.Diff(s, base, base); d != "" {
		t.Fatalf("a variant disagrees with itself:\n%s", d)
	}
	d := script.Diff(s, base, moved)
	if !strings.Contains(d, "ITTAddr") {
		t.Fatalf("diff does not show the ITT addresses:\n%s", d)
	}
	small := script.Shrink(s, base, moved)
	want := "lpi 8192..8193 prio=0x10 enabled\nenablelpis all\nmapd dev=0x10 bits=3\nsave\n"
	if small.String() != want {
		t.Errorf("shrunk to:\n%s\nwant:\n%s", small, want)
	}
}
