package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/benchtest"
	"github.com/gicits/gicits/bench/report"
	"github.com/gicits/gicits/bench/stats"
)

func TestCompareSideBySide(t *testing.T) {
	status, stdout, stderr := runArgs(t, "compare", "-a", fake, "-b", fake, "-workload", "lpistress", "-i", "200")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, want := range []string{fake + "-b/" + fake, "throughput (LPIs/s)", "injection call p50", "Mann-Whitney", "lost",
		"runs: 5 runs of " + fake + ", 5 runs of " + fake + "-b, interleaved in this process: A B B A A B B A A B\n",
		"\n" + fake + " ran a fake backend in this process (bench tests)\n" + fake + "-b ran a fake backend in this process (bench tests)\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "emulation") {
		t.Errorf("emulation note without kvm:\n%s", stdout)
	}
	if strings.Contains(stdout, "p=0 ") || strings.Contains(stdout, "p=0)") {
		t.Errorf("p=0 printed:\n%s", stdout)
	}
}

func TestCompareRuns(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		want   string // in stdout, or in stderr for a usage error
	}{
		{"two runs are too few", []string{"-runs", "2"}, 0, "too few runs to test (2 against 2 can give no p below 0.33"},
		{"one run", []string{"-runs", "1"}, 0, "runs: 1 run of " + fake + ", 1 run of " + fake + "-b, interleaved in this process: A B\n"},
		{"zero runs", []string{"-runs", "0"}, 2, "-runs 0: want 1 or more runs of each side (5 by default)"},
		{"B unknown, before any run", []string{"-b", "nosuch"}, 2, `itsbench compare: -b: unknown backend "nosuch" (known: `},
		{"gobench: one line per run", []string{"-runs", "3", "-format", "gobench"}, 0,
			"/backend=" + fake + "\t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"compare", "-a", fake, "-b", fake, "-workload", "lpistress", "-i", "50"}, tc.args...)
			status, stdout, stderr := runArgs(t, args...)
			if status != tc.status {
				t.Fatalf("status %d, want %d; stderr %s", status, tc.status, stderr)
			}
			if got := stdout + stderr; !strings.Contains(got, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, got)
			}
			if tc.status != 0 && stdout != "" {
				t.Errorf("a usage error, yet runs were reported:\n%s", stdout)
			}
		})
	}
	_, stdout, _ := runArgs(t, "compare", "-a", fake, "-b", fake, "-workload", "lpistress", "-i", "50", "-runs", "3", "-format", "gobench")
	if n := strings.Count(stdout, "\nBenchmarkITS/"); n != 6 {
		t.Errorf("%d benchmark lines for 3 runs of each side, want 6:\n%s", n, stdout)
	}
}

// TestCompareGoBenchFiles: -gobench-a and -gobench-b write one file per
// side whose benchmark names match, so that benchstat A B compares them.
func TestCompareGoBenchFiles(t *testing.T) {
	dir := t.TempDir()
	fa, fb := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	status, _, stderr := runArgs(t, "compare", "-a", fake, "-b", fake, "-workload", "lpistress", "-i", "50", "-runs", "3", "-gobench-a", fa, "-gobench-b", fb)
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, f := range []string{fa, fb} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), "\nBenchmarkITS/workload=lpistress\t"); n != 3 {
			t.Errorf("%s: %d lines named BenchmarkITS/workload=lpistress, want 3:\n%s", f, n, b)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-gobench-a", filepath.Join(dir, "nosuch", "a.txt")}, "-gobench-a: open " + filepath.Join(dir, "nosuch", "a.txt") + ": no such file or directory"},
		{[]string{"-gobench-a", dir}, "-gobench-a: open " + dir + ": is a directory"},
		{[]string{"-o", fa, "-gobench-a", fa}, "-o and -gobench-a both name " + fa + ": one would overwrite the other"},
		{[]string{"-plot", filepath.Join(dir, "p.svg"), "-gobench-b", filepath.Join(dir, "p.svg")}, "-plot and -gobench-b both name " + filepath.Join(dir, "p.svg")},
		{[]string{"-trace", filepath.Join(dir, "t.log"), "-o", filepath.Join(dir, "t.log")}, "-o and -trace both name " + filepath.Join(dir, "t.log")},
		{[]string{"-gobench-a", fa, "-gobench-b", fa}, "-gobench-a and -gobench-b are both " + fa},
		{[]string{"-gobench-b", "-"}, "-gobench-b -: want a file name (standard output carries the report)"},
	} {
		status, stdout, stderr := runArgs(t, append([]string{"compare", "-a", fake, "-b", fake}, tc.args...)...)
		if status != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: status %d, stdout %q, stderr %q, want 2 and %q", tc.args, status, stdout, stderr, tc.want)
		}
	}
}

// cancelAtRun is stderr for a compare that cancels ctx, as Ctrl-C does,
// when the header of run number at appears (each run writes one as it
// starts).
type cancelAtRun struct {
	bytes.Buffer
	at     int
	cancel context.CancelFunc
}

func (c *cancelAtRun) Write(p []byte) (int, error) {
	n, err := c.Buffer.Write(p)
	if strings.Count(c.String(), "itsbench: running workload ") >= c.at {
		c.cancel()
	}
	return n, err
}

// TestCompareInterrupted: Ctrl-C during a compare stops its runs; the
// whole runs made are compared and reported, the order saying where it
// stopped, the stopped run left out, and the status is 130. Stopped before
// each side had a whole run, it reports nothing and says so. A run that
// starts cancelled stops at once (its duration is cut), whole runs take
// their 500ms, and the first case's run would take an hour: only the
// interruption ends it.
func TestCompareInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name     string
		duration string // of each run
		at       int    // the run whose start is interrupted
		stdout   string // "" when nothing may be reported
		stderr   string
	}{
		{"during the third run", "500ms", 3,
			"runs: 1 run of " + fake + ", 1 run of " + fake + "-b, interleaved in this process: A B B; stopped by a signal after 3 of 10 runs had started, only whole runs compared\n",
			"itsbench compare: interrupted: " + fake + "-b stopped after "},
		{"during the first run", "1h", 1, "", "itsbench compare: interrupted before each side had a whole run: nothing to compare\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			saved := notifyInterrupt
			notifyInterrupt = func() (context.Context, context.CancelFunc) { return ctx, cancel }
			defer func() { notifyInterrupt = saved }()
			var stdout bytes.Buffer
			stderr := &cancelAtRun{at: tc.at, cancel: cancel}
			status := run(&env{stdout: &stdout, stderr: stderr}, []string{"compare", "-a", fake, "-b", fake, "-duration", tc.duration})
			if status != exitInterrupted {
				t.Fatalf("status %d, want %d; stderr %s", status, exitInterrupted, stderr)
			}
			if tc.stdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
}

// noisyResult is a run on a seeded noisy machine, as compare would have
// measured it.
func noisyResult(label string, nr benchtest.NoisyRun) *bench.Result {
	w, _ := bench.Lookup("steady")
	return &bench.Result{Label: label, Backend: "noisy", Workload: w, Elapsed: nr.Elapsed,
		Injections: int64(len(nr.CallSamples)), Throughput: nr.Throughput,
		Call: stats.Summarize(nr.CallSamples), EndToEnd: stats.Summarize(nr.EndToEndSamples),
		CallSamples: nr.CallSamples, EndToEndSamples: nr.EndToEndSamples}
}

// compareOnNoisyMachine runs compare's interleaving of n runs a side on a
// seeded noisy machine, B slowdown times slower than A, and returns the
// comparison.
func compareOnNoisyMachine(t *testing.T, seed uint64, n int, slowdown float64) report.Comparison {
	t.Helper()
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: seed})
	all, _, err := interleave(n, func(side int) (*bench.Result, error) {
		if side == 0 {
			return noisyResult("A", m.Run(1)), nil
		}
		return noisyResult("B", m.Run(slowdown)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g := report.Group(all)
	return report.CompareRuns(g[0], g[1])
}

// TestAACompareIsNotSignificant is the A/A test: 20 seeded compares of a
// machine with itself, 5 runs a side interleaved, each run 20000
// autocorrelated samples (AR(1), 0.95), a level of its own (3%) and the
// machine drifting between runs (2% a step). The runs' test must call at
// most 1 of the 20 significant, measure by measure (≥ 95% not
// significant), and at most 1 of the 20 may have any row significant.
// The old method, Mann–Whitney over the samples of A's
// first run against B's first run, must call most of the same compares
// significant: that is what this test guards against.
func TestAACompareIsNotSignificant(t *testing.T) {
	const seeds = 20
	significant := map[string]int{}
	anySignificant, oldSignificant := 0, 0
	for seed := range uint64(seeds) {
		c := compareOnNoisyMachine(t, seed+1, defaultRuns, 1)
		any := false
		for _, m := range c.Measures {
			if m.Significant {
				significant[m.Measure]++
				any = true
			}
		}
		if any {
			anySignificant++
		}
		if old := stats.MannWhitney(c.A[0].CallSamples, c.B[0].CallSamples); old.P < stats.Alpha {
			oldSignificant++
		}
	}
	for _, m := range report.Measures {
		if n := significant[m.Name]; n > 1 {
			t.Errorf("%s: %d of %d A/A compares significant, want at most 1 (95%% not significant)", m.Name, n, seeds)
		}
	}
	t.Logf("A/A: significant per measure %v; any measure in %d of %d; the old per-sample test in %d of %d", significant, anySignificant, seeds, oldSignificant, seeds)
	// The compare as a whole, every row at once, too.
	if anySignificant > 1 {
		t.Errorf("%d of %d A/A compares had some row significant, want at most 1", anySignificant, seeds)
	}
	if oldSignificant < seeds/2 {
		t.Errorf("the old per-sample test called only %d of %d A/A compares significant: the noise no longer shows what it must", oldSignificant, seeds)
	}
}

// TestCompareFindsARealDifference: the same machine with B 15% slower;
// the runs' test must find it in at least 19 of 20 compares, on the
// injection call's median.
func TestCompareFindsARealDifference(t *testing.T) {
	const seeds = 20
	found := 0
	for seed := range uint64(seeds) {
		c := compareOnNoisyMachine(t, seed+100, defaultRuns, 1.15)
		for _, m := range c.Measures {
			if m.Measure == "injection call p50" && m.Significant && m.Ratio > 1 {
				found++
			}
		}
	}
	if found < seeds-1 {
		t.Errorf("a 15%% slowdown found in %d of %d compares, want at least %d", found, seeds, seeds-1)
	}
}

func TestInterleaveAndBracketOrder(t *testing.T) {
	var sides []int
	run := func(side int) (*bench.Result, error) {
		sides = append(sides, side)
		return &bench.Result{Label: "AB"[side : side+1]}, nil
	}
	all, order, err := interleave(3, run)
	if err != nil || len(all) != 6 || order != "interleaved in this process: A B B A A B" {
		t.Errorf("interleave(3): %d runs, %q, %v", len(all), order, err)
	}
	for _, tc := range []struct {
		n, host int
		want    string
		sides   string
	}{
		{5, 0, "on two machines, so not interleaved run by run: 3 runs of A here, then 5 runs of B in one boot of the arm64 guest, then 2 more runs of A here", "AAAgAA"},
		{1, 1, "on two machines, so not interleaved run by run: 1 run of B here, then 1 run of A in one boot of the arm64 guest", "Bg"},
	} {
		var got strings.Builder
		here := func(side int) (*bench.Result, error) {
			got.WriteString("AB"[side : side+1])
			return &bench.Result{}, nil
		}
		guest := func() ([]*bench.Result, error) {
			got.WriteString("g")
			return make([]*bench.Result, tc.n), nil
		}
		all, order, err := bracketGuest(tc.n, tc.host, here, guest)
		if err != nil || len(all) != 2*tc.n || order != tc.want || got.String() != tc.sides {
			t.Errorf("bracketGuest(%d, %d): %d runs, order %q, ran %s, %v", tc.n, tc.host, len(all), order, got.String(), err)
		}
	}
}

// TestSideRuns runs compare's guest half here (-side-runs) and reads its
// document back as the host does.
func TestSideRuns(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runs.json")
	status, stdout, stderr := runArgs(t, "compare", "-a", fake, "-runs", "2", "-side-runs", file, "-workload", "lpistress", "-i", "50")
	if status != 0 || stdout != "" {
		t.Fatalf("status %d, stdout %q, stderr %s", status, stdout, stderr)
	}
	runs, err := readSideRuns(file, "kvm", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Label != "kvm" || len(r.CallSamples) != r.Call.N || r.Call.N == 0 {
			t.Errorf("run %s: %d call samples, summary of %d", r.Label, len(r.CallSamples), r.Call.N)
		}
	}
	for _, tc := range []struct {
		doc, want string
	}{
		{`{"runs":[{"result":{}}]}`, "1 runs, want 2"},
		{`{"runs":[{"result":{}},{}]}`, "run 2 has no result"},
		{`nonsense`, "not a runs document"},
	} {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(tc.doc), 0o644)
		if _, err := readSideRuns(bad, "kvm", 2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

// TestBaselineFirst: B's runs made first (A in the guest) still come after
// A's for the writers, which take the first label as the baseline.
func TestBaselineFirst(t *testing.T) {
	b1, a1, a2, b2 := &bench.Result{Label: "sim"}, &bench.Result{Label: "kvm"}, &bench.Result{Label: "kvm"}, &bench.Result{Label: "sim"}
	got := baselineFirst([]*bench.Result{b1, a1, a2, b2}, "kvm")
	if want := []*bench.Result{a1, a2, b1, b2}; !slices.Equal(got, want) {
		t.Errorf("got %v, want A's runs then B's, each in run order", got)
	}
}

// TestSideRunsRefusesBadFiles: -side-runs, the exchange with the guest,
// is a file that must be writable before any run, never standard output.
func TestSideRunsRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ file, want string }{
		{"-", "-side-runs -: want a file name"},
		{filepath.Join(dir, "nosuch", "x.json"), "-side-runs: open " + filepath.Join(dir, "nosuch", "x.json") + ": no such file or directory"},
	} {
		status, stdout, stderr := runArgs(t, "compare", "-a", fake, "-runs", "1", "-side-runs", tc.file)
		if status != 2 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("-side-runs %s: status %d, stdout %q, stderr %q; want 2 and %q", tc.file, status, stdout, stderr, tc.want)
		}
	}
}
