package script_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/internal/fidelity"
	"github.com/gicits/gicits/internal/fidelity/entries"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// corpusDir is the conformance corpus, from this package's directory.
var corpusDir = filepath.Join("..", "testdata", "conformance")

// fidelityDir holds the catalogue's minimal cases.
var fidelityDir = filepath.Join("..", "testdata", "fidelity")

// corpus returns the conformance corpus and the catalogue's cases.
func corpus(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, dir := range []string{corpusDir, fidelityDir} {
		f, err := filepath.Glob(filepath.Join(dir, "*.its"))
		if err != nil {
			t.Fatal(err)
		}
		if len(f) == 0 {
			t.Fatalf("no .its files in %s", dir)
		}
		files = append(files, f...)
	}
	return files
}

// TestKVMAnnotationsNameCatalogueEntries keeps the kvm= fields honest:
// each names an entry of the catalogue, and each entry's case exists and
// has an expectation that names it.
func TestKVMAnnotationsNameCatalogueEntries(t *testing.T) {
	named := map[string]bool{}
	for _, file := range corpus(t) {
		s, err := script.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range s.Stmts {
			for _, id := range entries.Annotated(s, st.Position().Line) {
				if _, ok := fidelity.Lookup(id); !ok {
					t.Errorf("%v: kvm=%s names no entry of internal/fidelity.Catalogue", st.Position(), id)
				}
				if filepath.Dir(file) == fidelityDir {
					named[filepath.Base(file)+" "+id] = true
				}
			}
		}
	}
	for _, e := range fidelity.Catalogue {
		if !named[filepath.Base(e.Case)+" "+e.ID] || filepath.Dir(e.Case) != "testdata/fidelity" {
			t.Errorf("catalogue entry %s: its case %s is not a file of testdata/fidelity with an expectation that says kvm=%s", e.ID, e.Case, e.ID)
		}
	}
}

// TestConformanceSim runs the whole corpus on the simulator: every
// expectation must hold.
func TestConformanceSim(t *testing.T) {
	for _, file := range corpus(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".its"), func(t *testing.T) {
			t.Parallel()
			s, err := script.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res := script.Run(s, script.Options{Backend: "sim"})
			report(t, res, nil)
			if res.SkipReason != "" {
				t.Fatalf("the simulator refused a setting: %s", res.SkipReason)
			}
		})
	}
}

// kvmRefuses names the corpus files whose settings KVM cannot provide
// (model.ErrNotSupported at Open): it always caches translations, it
// drops failing commands instead of stalling, and its ITT entries are 8
// bytes. On KVM these files must be refused, which is checked, not
// skipped: under scripts/kvm-harness no test may skip. The GICv4.0
// scenarios, v4-*.its, are refused too: KVM exposes a GICv3 ITS to guests
// ([refusedByKVM]).
var kvmRefuses = map[string]bool{"cache-off.its": true, "policy-stall.its": true, "int-lpis-disabled-stall.its": true, "itt-entry-size-12.its": true}

// refusedByKVM reports whether KVM must refuse the settings of the corpus
// file name: those of kvmRefuses, and every GICv4.0 and GICv4.1 scenario
// (v4-*.its, v41-*.its).
func refusedByKVM(name string) bool {
	return kvmRefuses[name] || strings.HasPrefix(name, "v4-") || strings.HasPrefix(name, "v41-")
}

// TestConformanceKVM runs the corpus and the catalogue's cases on real
// KVM: inside the QEMU harness (GICITS_KVM_REQUIRED=1) every expectation
// must hold, except those whose kvm= field names a catalogue entry that
// shows on the running kernel, which must fail there. Elsewhere it skips,
// saying why.
func TestConformanceKVM(t *testing.T) {
	kvmtest.Require(t, model.Config{})
	series, release := kernelSeries(t)
	t.Logf("kernel %s (series %s)", release, series)
	for _, file := range corpus(t) {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".its"), func(t *testing.T) {
			s, err := script.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if e, ok := entries.Crashing(s, series); ok && os.Getenv("GICITS_RUN_CRASHING") != "1" {
				t.Logf("not run on kernel %s: it crashes the host there (docs/fidelity.md#%s); GICITS_RUN_CRASHING=1 runs it", release, e.ID)
				return
			}
			res := script.Run(s, script.Options{Backend: "kvm"})
			known := func(line int) (*entries.Entry, bool) { return entries.Showing(entries.Annotated(s, line), series) }
			report(t, res, known)
			checkShown(t, s, res, series, release)
			name := filepath.Base(file)
			switch refused := res.SkipReason != ""; {
			case refused && refusedByKVM(name):
				t.Logf("kvm refused a setting, as it must: %s", res.SkipReason)
			case refused:
				t.Errorf("kvm refused a setting of %s, which is not in kvmRefuses: %s", name, res.SkipReason)
			case refusedByKVM(name):
				t.Errorf("kvm took the settings of %s, which kvmRefuses says it refuses", name)
			}
		})
	}
}

// checkShown fails the test when a class annotated in the file (kvm=)
// shows on this kernel by the catalogue but none of its expectations
// failed: the catalogue's kernels, or the annotations, are wrong. A single
// annotated expectation may hold: some fail only as a consequence whose
// exact form depends on KVM's order among equal priorities (cmd-movall's
// acks after the MOVALL).
func checkShown(t *testing.T, s *script.Script, res *script.Result, series, release string) {
	t.Helper()
	if !slices.Contains(entries.Kernels, series) || res.SkipReason != "" {
		return
	}
	shown := map[string]bool{}
	for _, f := range res.Failures {
		for _, id := range entries.Annotated(s, f.Pos.Line) {
			shown[id] = true
		}
	}
	for _, st := range s.Stmts {
		for _, id := range entries.Annotated(s, st.Position().Line) {
			e, ok := fidelity.Lookup(id)
			if ok && e.ShowsOn(series) && !shown[id] {
				t.Errorf("%v: kvm=%s: no expectation of the file that names it failed on kernel %s, but the catalogue says it shows on %v", st.Position(), id, release, e.Kernels)
				shown[id] = true // once per class
			}
		}
	}
}

// report turns a result into test failures and logs, tolerating the
// failures known to show on this kernel.
func report(t *testing.T, res *script.Result, known func(line int) (*entries.Entry, bool)) {
	t.Helper()
	for _, sk := range res.Skips {
		t.Log(sk)
	}
	knownAbort := false
	for i, f := range res.Failures {
		if known != nil {
			if e, ok := known(f.Pos.Line); ok {
				t.Logf("%v (known divergence %s, docs/fidelity.md)", f, e.ID)
				knownAbort = i == len(res.Failures)-1
				continue
			}
		}
		knownAbort = false
		t.Error(f)
	}
	if res.NotRun > 0 {
		if knownAbort {
			t.Logf("%d expectations not run after the known divergence", res.NotRun)
		} else {
			t.Errorf("%d expectations not run after the failure", res.NotRun)
		}
	}
	t.Logf("%d passed, %d failed, %d skipped", res.Passed, res.Failed, res.Skipped)
}
