package bench

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gicits/gicits/bench/benchtest"
	"github.com/gicits/gicits/model"
)

// small shrinks a workload so a test run takes milliseconds.
func small(w Workload) Workload {
	switch {
	case w.Duration > 0:
		w.Duration = 100 * time.Millisecond
	case w.Iterations > 0:
		w.Iterations = 50
	default:
		w.Count = 3000
	}
	w.Warmup = min(w.Warmup, 200)
	if w.Churn != ChurnNone {
		w.ChurnRate = 500
	}
	return w
}

func runFake(t *testing.T, w Workload, lose int) *Result {
	t.Helper()
	f := benchtest.New(model.Config{CPUs: w.CPUs})
	f.LoseEvery = lose
	defer f.Close()
	res, err := Run(context.Background(), f, w, Options{})
	if err != nil {
		t.Fatalf("%s: %v", w.Name, err)
	}
	return res
}

func checkAccounting(t *testing.T, res *Result) {
	t.Helper()
	c := res.Counts
	w := res.Workload
	if !res.OK() {
		t.Errorf("%s: not OK: counts %+v errors %v", w.Name, c, res.Errors)
	}
	if c.Signalled != c.Delivered+c.Blocked+c.Failed {
		t.Errorf("%s: signalled %d != delivered %d + blocked %d + failed %d", w.Name, c.Signalled, c.Delivered, c.Blocked, c.Failed)
	}
	if c.Acknowledged == 0 || c.Acknowledged > c.Delivered || c.Coalesced != c.Delivered-c.Acknowledged {
		t.Errorf("%s: acknowledged %d of %d delivered, coalesced %d", w.Name, c.Acknowledged, c.Delivered, c.Coalesced)
	}
	if want := int64(w.injectors()) * int64(w.InjectionsPerInjector()); w.Duration == 0 && !res.Partial && res.Injections != want {
		t.Errorf("%s: %d measured injections, want %d", w.Name, res.Injections, want)
	}
	if res.Throughput <= 0 || res.Call.N == 0 || res.Call.P50 <= 0 {
		t.Errorf("%s: throughput %g, call %+v", w.Name, res.Throughput, res.Call)
	}
	if w.Wait != WaitNone && res.EndToEnd.N == 0 {
		t.Errorf("%s: no end-to-end samples with wait %v", w.Name, w.Wait)
	}
}

// checkWhole checks that res, from a run nothing stopped, is not marked
// partial.
func checkWhole(t *testing.T, res *Result) {
	t.Helper()
	if res.Partial || slices.ContainsFunc(res.Notes, func(n string) bool { return strings.HasPrefix(n, "PARTIAL") }) {
		t.Errorf("%s: a whole run marked partial: %v", res.Workload.Name, res.Notes)
	}
}

func TestRunBuiltinsOnFake(t *testing.T) {
	for _, w := range Builtins() {
		t.Run(w.Name, func(t *testing.T) {
			res := runFake(t, small(w), 0)
			checkAccounting(t, res)
			checkWhole(t, res)
			if w.Churn != ChurnNone && res.ChurnOps == 0 {
				t.Errorf("no churn operations")
			}
		})
	}
}

func TestRunVariantsOnFake(t *testing.T) {
	base, _ := Lookup("steady")
	base = small(base)
	for name, change := range map[string]func(*Workload){
		"park":   func(w *Workload) { w.Wait = WaitPark },
		"none":   func(w *Workload) { w.Wait = WaitNone },
		"zipf":   func(w *Workload) { w.Pattern = Zipf; w.ZipfS = 1.2 },
		"bursts": func(w *Workload) { w.Pattern = Bursts; w.BurstLen = 8 },
		"one":    func(w *Workload) { w.Mapping = AllToOne; w.Priorities = []uint8{0x80, 0xa0, 0xc0} },
		"random": func(w *Workload) { w.Mapping = RandomMapping },
		"gsi":    func(w *Workload) { w.Path = PathGSI },
		"2inj":   func(w *Workload) { w.Injectors = 2 },
		"remap": func(w *Workload) {
			w.Churn = ChurnRemap
			w.ChurnRate = 2000
			w.Count = 0
			w.Duration = 100 * time.Millisecond
		},
		"mapd": func(w *Workload) {
			w.Churn = ChurnMAPD
			w.ChurnRate = 2000
			w.Count = 0
			w.Duration = 100 * time.Millisecond
		},
		"sampled":  func(w *Workload) { w.LatencyEvery = 16 },
		"nowarmup": func(w *Workload) { w.Warmup = 0 },
		"lpistress": func(w *Workload) {
			w.Injectors = 0
			w.CPUs = 2
			w.Devices = 3
			w.Count = 0
			w.Iterations = 100
			w.Pattern = Sequential
		},
	} {
		t.Run(name, func(t *testing.T) {
			w := base
			change(&w)
			checkAccounting(t, runFake(t, w, 0))
		})
	}
}

func TestRunReportsLoss(t *testing.T) {
	for _, wait := range []WaitMode{WaitSpin, WaitNone} {
		w, _ := Lookup("steady")
		w = small(w)
		w.Wait = wait
		w.Events = 256 // few coalesced deliveries, so dropped ones show
		res := runFake(t, w, 7)
		if res.Counts.Lost == 0 || res.OK() {
			t.Errorf("wait %v: a backend dropping every 7th delivery: lost %d", wait, res.Counts.Lost)
		}
	}
}

func TestRunRejects(t *testing.T) {
	w, _ := Lookup("steady")
	w.CPUs = 4
	f := benchtest.New(model.Config{CPUs: 2})
	if _, err := Run(context.Background(), f, w, Options{}); err == nil || !strings.Contains(err.Error(), "needs 4 CPUs") {
		t.Errorf("too few CPUs: %v", err)
	}
	w.CPUs = 0
	if _, err := Run(context.Background(), f, w, Options{}); err == nil || !strings.Contains(err.Error(), "cpus 0") {
		t.Errorf("invalid workload: %v", err)
	}
}

// TestRunCancelledIsPartial cancels a run from its progress callback, the
// way itsbench cancels it on Ctrl-C, and checks that Run still returns an
// exact accounting of the part that ran, marked partial with how far it
// got. The workloads are far longer than the test: only the cancel ends
// them.
func TestRunCancelledIsPartial(t *testing.T) {
	steady, _ := Lookup("steady")
	for _, tc := range []struct {
		name   string
		change func(*Workload)
		note   string
	}{
		{"duration", func(w *Workload) { w.Count, w.Duration = 0, time.Hour }, " of 1h0m0s; every figure is of the part that ran"},
		// LatencyEvery keeps the call-latency buffer small: it is sized
		// for the whole count.
		{"count", func(w *Workload) { w.Count, w.LatencyEvery = 1<<28, 1<<20 }, " of 268435456 measured injections; every figure is of the part that ran"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := steady
			tc.change(&w)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var calls atomic.Int64
			f := benchtest.New(model.Config{CPUs: w.CPUs})
			defer f.Close()
			res, err := Run(ctx, f, w, Options{Progress: func(p Progress) {
				calls.Add(1)
				cancel()
			}})
			if err != nil {
				t.Fatal(err)
			}
			if calls.Load() == 0 || res.Injections == 0 {
				t.Fatalf("progress calls %d, %d injections", calls.Load(), res.Injections)
			}
			checkAccounting(t, res)
			if !res.Partial || len(res.Notes) == 0 || !strings.HasPrefix(res.Notes[0], "PARTIAL: the run was stopped after ") || !strings.Contains(res.Notes[0], tc.note) {
				t.Errorf("partial %v, notes %q; want partial and the first note to contain %q", res.Partial, res.Notes, tc.note)
			}
		})
	}
}

// TestRunProgressOverdue: a backend that drops every delivery of some
// events leaves their LPIs unacknowledged, and Progress counts them as
// overdue once OverdueAfter has passed (the test waits for that, then
// cancels); without consumers it cannot know, and says -1. One injector
// signals 7×16 events in order and the fake drops every 7th delivery:
// always those of the same 16 events. (A loss that a later delivery of
// the same event makes good is a late interrupt, not a stuck one.)
func TestRunProgressOverdue(t *testing.T) {
	for _, tc := range []struct {
		wait WaitMode
		lose int
		want func(int64) bool
		what string
	}{
		{WaitSpin, 7, func(n int64) bool { return n > 0 }, "above 0"},
		{WaitNone, 0, func(n int64) bool { return n == -1 }, "-1"},
	} {
		t.Run(tc.wait.String(), func(t *testing.T) {
			w, _ := Lookup("steady")
			w.Count, w.Duration, w.Wait = 0, 30*time.Second, tc.wait // the bound if overdue never shows
			w.Devices, w.Events, w.Pattern = 1, 7*16, Sequential
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f := benchtest.New(model.Config{CPUs: w.CPUs})
			f.LoseEvery = tc.lose
			defer f.Close()
			var last atomic.Int64
			res, err := Run(ctx, f, w, Options{Progress: func(p Progress) {
				last.Store(p.Overdue)
				if tc.want(p.Overdue) {
					cancel()
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(last.Load()) {
				t.Errorf("overdue %d when the run ended, want %s", last.Load(), tc.what)
			}
			if (res.Counts.Lost > 0) != (tc.lose > 0) {
				t.Errorf("lost %d with a backend losing every %d", res.Counts.Lost, tc.lose)
			}
		})
	}
}

// countingFake counts the MSIs signalled.
type countingFake struct {
	*benchtest.Fake
	calls atomic.Int64
}

func (f *countingFake) SignalMSI(m model.MSI) (model.Delivery, error) {
	f.calls.Add(1)
	return f.Fake.SignalMSI(m)
}

// TestRunCancelledStopsTheWarmup: a context cancelled before the run
// stops the warm-up too (slow on KVM under emulation), and the run is
// partial.
func TestRunCancelledStopsTheWarmup(t *testing.T) {
	w, _ := Lookup("steady")
	w.Warmup, w.Count = 1<<20, 1000
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &countingFake{Fake: benchtest.New(model.Config{CPUs: w.CPUs})}
	defer f.Close()
	res, err := Run(ctx, f, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.calls.Load(); n >= 1<<16 {
		t.Errorf("%d MSIs signalled after the cancel; want the warm-up of %d stopped at once", n, w.Warmup)
	}
	if !res.Partial {
		t.Error("a run cancelled before it measured anything is not partial")
	}
}
