package script_test

import (
	"os"
	"testing"
	"time"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/internal/fidelity"
	"github.com/gicits/gicits/model"
)

// itsesKVMFixed and itsesKVMFresh are how many several-ITS streams
// TestDifferentialSimKVMITSes runs: the first seeds, then fresh ones. A
// stream of 2 to 4 ITSes takes 7 s (6.12) to 15 s (6.1) under the
// harness's nested TCG, and the package's tests share go test's 10-minute
// timeout with TestDifferentialSimKVM's hundred streams, so the suite runs
// six; GICITS_DIFF_SEEDS=FIRST:COUNT runs more (seeds 4..24 on 6.1: 17
// agree, discard-pending 1, priority-bits 3).
const itsesKVMFixed, itsesKVMFresh = 4, 2

// itsesRegressionSeeds are the fixed seeds: the first ones, and seeds
// whose divergence a classifier once missed.
var itsesRegressionSeeds = append(seedRange(0, itsesKVMFixed),
	370986112577, // 6.1: discard-pending, the DISCARD on ITS 2 (classifiers read ITS 0 only)
)

// itsesKVMBudget bounds TestDifferentialSimKVMITSes, shrinking included,
// so that the package's other KVM tests keep their share of the timeout:
// past it, the test runs no more streams and shrinks no further (unless
// GICITS_DIFF_SEEDS asks for seeds).
const itsesKVMBudget = 3 * time.Minute

// itsesProfile is the profile of several-ITS stream seed: seed's own
// profile with 2 to 4 ITSes.
func itsesProfile(seed uint64) difftest.Profile {
	p := difftest.ProfileOf(seed)
	p.ITSes = 2 + int(seed%3)
	return p
}

// TestDifferentialSimKVMITSes is TestDifferentialSimKVM for several-ITS
// streams (internal/difftest, Profile.ITSes): on every stream the
// simulator and real KVM, each with 2 to 4 ITSes sharing the
// redistributors, agree, or their first divergence is one the catalogue
// lists for this kernel. It runs inside the QEMU harness
// (GICITS_KVM_REQUIRED=1) and skips elsewhere, saying why.
func TestDifferentialSimKVMITSes(t *testing.T) {
	l := model.DefaultLayout()
	l.ITSes = 4
	kvmtest.Require(t, model.Config{CPUs: 4, Layout: l})
	series, release := kernelSeries(t)
	sim := difftest.Variant{Name: "sim", Backend: "sim"}
	kvm := difftest.Variant{Name: "kvm", Backend: "kvm"}
	all := newTally()
	seeds := diffSeeds(t, itsesRegressionSeeds, itsesKVMFresh)
	end := time.Now().Add(itsesKVMBudget)
	if os.Getenv("GICITS_DIFF_SEEDS") != "" {
		end = time.Now().Add(24 * time.Hour) // seeds asked for: run them all
	}
	stop := func() bool { return time.Now().After(end) || nearDeadline(t, time.Minute) }
	for i, seed := range seeds {
		if stop() {
			t.Logf("kernel %s: the test's %v budget is spent: stopped before seed %d, %d of %d seeds not run (GICITS_DIFF_SEEDS runs any)", release, itsesKVMBudget, seed, len(seeds)-i, len(seeds))
			break
		}
		p := itsesProfile(seed)
		s := difftest.GenerateProfile(seed, difftest.StreamLength, p)
		_, _, d := difftest.Compare(s, sim, kvm)
		class := ""
		if d != nil {
			if e := fidelity.Classify(fidelity.NewContext(s, d), series); e != nil {
				class = e.ID
				t.Logf("kernel %s: seed %d (%d ITSes): %s: %v", release, seed, p.ITSes, e.ID, d)
			} else {
				reportUnclassifiedUntil(t, release, seed, s, d, sim, kvm, series, stop)
			}
		}
		all.add(d, class)
		if all.unclassified == 3 {
			t.Errorf("stopping after 3 unclassified divergences")
			break
		}
	}
	t.Logf("kernel %s: several-ITS streams: %v", release, all)
}
