package script_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/internal/fidelity"
	"github.com/gicits/gicits/internal/fidelity/entries"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// regressionSeeds run on every sim-against-KVM differential: the first 100
// seeds, and seeds whose first divergence a classifier once missed (each
// comment names the entry that covers it now; internal/difftest's
// TestGenerateIsStable notices when the generator changes them).
var regressionSeeds = append(seedRange(0, 100),
	152,     // 6.12: discard-pending, the LPI then moved by MOVALL
	160,     // 6.1: reused-intid, seen as a pending-table bit the reuse skipped
	274,     // 6.12: movall of an LPI an earlier MOVALL had retargeted
	289,     // 6.12: the same, moved onto RDbase2's CPU
	2001044, // 6.12: discard-pending, seen where a later MAPTI should have put the LPI
	2001420, // 6.12: reused-intid, its stale enable seen after a MOVI
	// 6.12: discard-pending, the LPI made pending again by the
	// pending-table bit an earlier observation's save left (the
	// classifier's replay of the prefix did not save, so missed it).
	305771401755,
)

func seedRange(first uint64, count int) []uint64 {
	out := make([]uint64, count)
	for i := range out {
		out[i] = first + uint64(i)
	}
	return out
}

// diffSeeds returns the seeds to run: GICITS_DIFF_SEEDS=FIRST:COUNT when
// set, else fixed plus a fresh random range of count seeds, which it
// logs so that it can be run again.
func diffSeeds(t *testing.T, fixed []uint64, count int) []uint64 {
	if v := os.Getenv("GICITS_DIFF_SEEDS"); v != "" {
		f, c, ok := strings.Cut(v, ":")
		first, err1 := strconv.ParseUint(f, 0, 64)
		n, err2 := strconv.Atoi(c)
		if !ok || err1 != nil || err2 != nil || n < 1 {
			t.Fatalf("GICITS_DIFF_SEEDS=%q: want FIRST:COUNT, e.g. 458:1 or 1000:2000", v)
		}
		t.Logf("seeds from GICITS_DIFF_SEEDS=%d:%d", first, n)
		return seedRange(first, n)
	}
	first := rand.Uint64N(1 << 40)
	t.Logf("%d fixed seeds and %d fresh ones: run these again with GICITS_DIFF_SEEDS=%d:%d", len(fixed), count, first, count)
	return append(slices.Clone(fixed), seedRange(first, count)...)
}

// TestDifferentialCache: the simulator with and without its translation
// cache must agree on every stream, every profile. It runs on any host.
func TestDifferentialCache(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 10
	}
	a := difftest.Variant{Name: "cache", Backend: "sim"}
	b := difftest.Variant{Name: "nocache", Backend: "sim", Configure: func(c *model.Config) { c.NoTranslationCache = true }}
	failed := 0
	for _, seed := range diffSeeds(t, seedRange(0, n), n) {
		s := difftest.Generate(seed, difftest.StreamLength)
		if _, _, d := difftest.Compare(s, a, b); d != nil {
			small := difftest.Shrink(s, a, b, func(_ *script.Script, e *difftest.Divergence) bool { return e.Same(d) }, nil)
			t.Errorf("seed %d: cache and nocache diverge: %v\nshrunk stream:\n%s", seed, d, small)
			if failed++; failed == 3 {
				t.Fatal("stopping after 3 diverging seeds")
			}
		}
	}
}

// kernelSeries returns the series of the running kernel (in the QEMU
// guest: the guest's), and its release.
func kernelSeries(t *testing.T) (series, release string) {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatalf("reading the kernel release: %v", err)
	}
	release = strings.TrimSpace(string(b))
	return entries.Series(release), release
}

// tally counts a differential run's streams by class.
type tally struct {
	streams, agree int
	classes        map[string]int
	unclassified   int
	// afterError counts the divergences first seen in the state a
	// failing command left (at its expect error).
	afterError int
}

func newTally() *tally { return &tally{classes: map[string]int{}} }

// add counts one stream: its first divergence d (nil when the backends
// agreed) and the class it was given ("" for none).
func (c *tally) add(d *difftest.Divergence, class string) {
	c.streams++
	switch {
	case d == nil:
		c.agree++
		return
	case class == "":
		c.unclassified++
	default:
		c.classes[class]++
	}
	if strings.HasPrefix(d.Stmt, "expect error") {
		c.afterError++
	}
}

func (c *tally) String() string {
	ids := make([]string, 0, len(c.classes))
	for id := range c.classes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	fmt.Fprintf(&b, "%d streams: %d agree", c.streams, c.agree)
	for _, id := range ids {
		fmt.Fprintf(&b, ", %s %d", id, c.classes[id])
	}
	fmt.Fprintf(&b, ", unclassified %d; %d first seen after a failing command", c.unclassified, c.afterError)
	return b.String()
}

// TestDifferentialSimKVM: on every stream, the simulator and real KVM
// agree, or their first divergence is one the catalogue
// (internal/fidelity, docs/fidelity.md) lists for this kernel. It runs
// inside the QEMU harness (GICITS_KVM_REQUIRED=1) and skips elsewhere,
// saying why.
func TestDifferentialSimKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 4})
	series, release := kernelSeries(t)
	sim := difftest.Variant{Name: "sim", Backend: "sim"}
	kvm := difftest.Variant{Name: "kvm", Backend: "kvm"}
	all, errs := newTally(), newTally()
	seeds := diffSeeds(t, regressionSeeds, 100)
	for i, seed := range seeds {
		if nearDeadline(t, 2*time.Minute) {
			t.Errorf("kernel %s: the test's deadline is near: stopped before seed %d, %d of %d seeds not run (run with -timeout 0, or fewer GICITS_DIFF_SEEDS)", release, seed, len(seeds)-i, len(seeds))
			break
		}
		s := difftest.Generate(seed, difftest.StreamLength)
		_, _, d := difftest.Compare(s, sim, kvm)
		class := ""
		if d != nil {
			if e := fidelity.Classify(fidelity.NewContext(s, d), series); e != nil {
				class = e.ID
				t.Logf("kernel %s: seed %d: %s: %v", release, seed, e.ID, d)
			} else {
				reportUnclassified(t, release, seed, s, d, sim, kvm, series)
			}
		}
		all.add(d, class)
		if difftest.ProfileOf(seed).Errors {
			errs.add(d, class)
		}
		if all.unclassified == 3 {
			t.Errorf("stopping after 3 unclassified divergences")
			break
		}
	}
	t.Logf("kernel %s: all streams: %v", release, all)
	t.Logf("kernel %s: streams with failing commands: %v", release, errs)
}

// nearDeadline reports whether the test has less than left before its
// deadline: a diverging stream can take minutes to shrink on KVM under
// QEMU, and the shrinker stops early (reporting what it has) rather than
// lose the run's tally to the timeout.
func nearDeadline(t *testing.T, left time.Duration) bool {
	d, ok := t.Deadline()
	return ok && time.Until(d) < left
}

// reportUnclassified fails the test with a divergence no catalogue entry
// covers: confirmed deterministic by a second run (or reported as KVM's
// nondeterminism), and shrunk to a stream that shows the same divergence,
// which is run again to confirm it.
func reportUnclassified(t *testing.T, release string, seed uint64, s *script.Script, d *difftest.Divergence, a, b difftest.Variant, series string) {
	t.Helper()
	reportUnclassifiedUntil(t, release, seed, s, d, a, b, series, func() bool { return nearDeadline(t, time.Minute) })
}

// reportUnclassifiedUntil is reportUnclassified with the shrinker stopped
// when stop says so.
func reportUnclassifiedUntil(t *testing.T, release string, seed uint64, s *script.Script, d *difftest.Divergence, a, b difftest.Variant, series string, stop func() bool) {
	t.Helper()
	if _, _, again := difftest.Compare(s, a, b); !d.Same(again) {
		t.Errorf("kernel %s: seed %d: NONDETERMINISTIC: a second run of the same stream diverged differently:\nfirst:  %v\nsecond: %v\nstream:\n%s", release, seed, d, again, s)
		return
	}
	unclassified := func(cand *script.Script, e *difftest.Divergence) bool {
		return e.Same(d) && fidelity.Classify(fidelity.NewContext(cand, e), series) == nil
	}
	small := difftest.Shrink(s, a, b, unclassified, stop)
	_, _, d1 := difftest.Compare(small, a, b)
	_, _, d2 := difftest.Compare(small, a, b)
	status := "the shrunk stream shows it again, twice"
	if !d.Same(d1) || !d.Same(d2) {
		status = fmt.Sprintf("the shrunk stream does NOT show it again (runs: %v; %v)", d1, d2)
	}
	t.Errorf("kernel %s: seed %d: unclassified divergence (sim vs kvm): %v\n%s; reproduce with GICITS_DIFF_SEEDS=%d:1, or save this as an .its file:\n%s",
		release, seed, d, status, seed, small)
}

// asStream turns a catalogue case into a stream for the differential: its
// expectations go, an expect ack becomes the ack it makes, so that what
// the case checks becomes what the differential observes.
func asStream(t *testing.T, file string) *script.Script {
	t.Helper()
	s, err := script.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := &script.Script{File: s.File}
	for _, st := range s.Stmts {
		switch st := st.(type) {
		case *script.ExpectAckStmt:
			out.Stmts = append(out.Stmts, &script.AckStmt{At: st.At, CPU: st.CPU})
		case script.Expectation:
		default:
			out.Stmts = append(out.Stmts, st)
		}
	}
	return out
}

// TestCatalogueCasesClassifyOnKVM checks the classifiers against real
// KVM: each catalogue case with a classifier, run as a stream on sim and
// KVM, diverges first where its entry's classifier says, on the kernels
// the entry names, and not at all on the others.
func TestCatalogueCasesClassifyOnKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{CPUs: 4})
	series, release := kernelSeries(t)
	sim := difftest.Variant{Name: "sim", Backend: "sim"}
	kvm := difftest.Variant{Name: "kvm", Backend: "kvm"}
	for _, e := range fidelity.Catalogue {
		if fidelity.Classifier(e.ID) == nil {
			continue
		}
		t.Run(e.ID, func(t *testing.T) {
			s := asStream(t, filepath.Join("..", e.Case))
			_, _, d := difftest.Compare(s, sim, kvm)
			switch {
			case !e.ShowsOn(series) && d != nil:
				t.Errorf("kernel %s: %s does not show here, but sim and kvm diverge: %v", release, e.ID, d)
			case !e.ShowsOn(series):
				t.Logf("kernel %s: no divergence, as the catalogue says", release)
			case d == nil:
				t.Errorf("kernel %s: %s should show here, but sim and kvm agree on its case", release, e.ID)
			default:
				got := "no class"
				if c := fidelity.Classify(fidelity.NewContext(s, d), series); c != nil {
					got = c.ID
				}
				if got != e.ID {
					t.Errorf("kernel %s: its case diverges (%v) and is classified %s, want %s", release, d, got, e.ID)
				} else {
					t.Logf("kernel %s: %v: %s", release, d, e.ID)
				}
			}
		})
	}
}
