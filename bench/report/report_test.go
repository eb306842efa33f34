package report

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/benchtest"
	"github.com/gicits/gicits/bench/stats"
	"github.com/gicits/gicits/model"
)

// twoRuns runs lpistress, shrunk to a few milliseconds, twice on the fake
// backend, labelling the second run fake-b.
func twoRuns(t *testing.T) (*bench.Result, *bench.Result) {
	t.Helper()
	w, _ := bench.Lookup("lpistress")
	w.Iterations, w.Warmup = 50, min(w.Warmup, 200)
	run := func() *bench.Result {
		f := benchtest.New(model.Config{CPUs: w.CPUs})
		defer f.Close()
		res, err := bench.Run(context.Background(), f, w, bench.Options{})
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		return res
	}
	a, b := run(), run()
	b.Label = "fake-b"
	return a, b
}

// noisyRuns makes n synthetic runs labelled label on a seeded noisy
// machine, slowdown times slower than its norm.
func noisyRuns(m *benchtest.NoisyMachine, label string, n int, slowdown float64) []*bench.Result {
	w, _ := bench.Lookup("steady")
	var runs []*bench.Result
	for range n {
		nr := m.Run(slowdown)
		runs = append(runs, &bench.Result{Label: label, Backend: "noisy", Workload: w, Elapsed: nr.Elapsed,
			Injections: int64(len(nr.CallSamples)), Throughput: nr.Throughput,
			Call: stats.Summarize(nr.CallSamples), EndToEnd: stats.Summarize(nr.EndToEndSamples),
			CallSamples: nr.CallSamples, EndToEndSamples: nr.EndToEndSamples,
			Counts: bench.Counts{Signalled: int64(len(nr.CallSamples))}})
	}
	return runs
}

func TestReports(t *testing.T) {
	a, b := twoRuns(t)
	var buf bytes.Buffer
	if err := WriteTable(&buf, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"workload lpistress on benchtest-fake", "clock: Go monotonic clock", "Rate: ", "LPIs/s", "injection call", "end-to-end (spin)", "lost"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := WriteCSV(&buf, []*bench.Result{a, b}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 3 || len(rows[1]) != len(csvHeader) {
		t.Errorf("csv: %d rows, %v", len(rows), err)
	}
	buf.Reset()
	if err := WriteJSON(&buf, []*bench.Result{a, b}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || len(doc["comparisons"].([]any)) != 1 {
		t.Errorf("json: %v %v", err, doc["comparisons"])
	}
	if !strings.Contains(buf.String(), `"mapping": "roundrobin"`) {
		t.Errorf("json enums not named:\n%.500s", buf.String())
	}
}

// TestCompareRunsTable compares five seeded runs against five, 1.5 times
// slower, and checks every part of the table.
func TestCompareRunsTable(t *testing.T) {
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: 1, Samples: 2000})
	var a, b []*bench.Result
	for range 5 {
		a = append(a, noisyRuns(m, "sim", 1, 1)...)
		b = append(b, noisyRuns(m, "sim-walk", 1, 1.5)...)
	}
	a[0].Notes = []string{"consumers spin"}
	c := CompareRuns(a, b)
	c.Order = "interleaved A B B A ... in this process"
	var buf bytes.Buffer
	if err := c.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"runs: 5 runs of sim, 5 runs of sim-walk, interleaved A B B A ... in this process\n",
		"note (sim): consumers spin\n",
		"sim-walk/sim", "95% CI",
		"throughput (LPIs/s)", "injection call p50", "injection call p99", "end-to-end p50", "end-to-end p99",
		"significant at 0.05 (p=0.0079)", "summed over the runs", "Mann-Whitney U test over the runs' values (exact up to 100 runs), 5 against 5,\n", "Hodges-Lehmann",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("comparison lacks %q:\n%s", want, out)
		}
	}
	t.Logf("the table:\n%s", out)
	if strings.Contains(out, "p=0 ") || strings.Contains(out, "p=0)") {
		t.Errorf("p=0 printed:\n%s", out)
	}
	if got := len(c.Measures); got != len(Measures) {
		t.Errorf("%d measures compared, want %d", got, len(Measures))
	}
}

// TestCompareRunsSkipsMissingMeasures: runs without consumers have no
// end-to-end latency to compare, and say nothing of it.
func TestCompareRunsSkipsMissingMeasures(t *testing.T) {
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: 2, Samples: 500})
	a, b := noisyRuns(m, "a", 3, 1), noisyRuns(m, "b", 3, 1)
	a[1].EndToEnd = stats.Summary{}
	c := CompareRuns(a, b)
	for _, mc := range c.Measures {
		if strings.HasPrefix(mc.Measure, "end-to-end") {
			t.Errorf("%s compared though a run has none", mc.Measure)
		}
	}
	var buf bytes.Buffer
	c.WriteTable(&buf)
	if !strings.Contains(buf.String(), "too few runs to test (3 against 3") {
		t.Errorf("3 against 3 not called too few:\n%s", buf.String())
	}
}

func TestOneSampleHasNoCI(t *testing.T) {
	r := &bench.Result{Label: "x", Call: stats.Summarize([]float64{42}), Injections: 1}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "±0ns") || !strings.Contains(buf.String(), "(1 injection in") {
		t.Errorf("one sample:\n%s", buf.String())
	}
	row := summaryRow("injection call", r.Call)
	if cols := strings.Split(row, "\t"); cols[3] != "-" {
		t.Errorf("CI column %q, want -", cols[3])
	}
}

func TestCSVLeavesMissingValuesEmpty(t *testing.T) {
	r := &bench.Result{Label: "x", Call: stats.Summarize([]float64{42})} // no end-to-end, no time
	var buf bytes.Buffer
	if err := WriteCSV(&buf, []*bench.Result{r}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string) string {
		for i, h := range rows[0] {
			if h == name {
				return rows[1][i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	for name, want := range map[string]string{
		"call_n": "1", "call_p50_ns": "42", "call_ci95_low_ns": "", "call_ci95_high_ns": "",
		"e2e_n": "0", "e2e_p50_ns": "", "e2e_mean_ns": "", "lpis_per_s": "", "elapsed_s": "", "lost": "0", "run": "1",
	} {
		if got := col(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func TestPlural(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 runs"}, {1, "1 run"}, {2, "2 runs"}} {
		if got := plural(tc.n, "run"); got != tc.want {
			t.Errorf("plural(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestGoBenchOneLinePerRunForBenchstat(t *testing.T) {
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: 3, Samples: 100})
	runs := append(noisyRuns(m, "sim", 2, 1), noisyRuns(m, "sim-walk", 2, 1)...)
	var buf bytes.Buffer
	if err := WriteGoBench(&buf, runs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for line := range strings.Lines(buf.String()) {
		if name, _, ok := strings.Cut(line, "\t"); ok && strings.HasPrefix(name, "Benchmark") {
			names = append(names, name)
		}
	}
	want := []string{"BenchmarkITS/workload=steady/backend=sim", "BenchmarkITS/workload=steady/backend=sim",
		"BenchmarkITS/workload=steady/backend=sim-walk", "BenchmarkITS/workload=steady/backend=sim-walk"}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("benchmark names:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	for _, want := range []string{"pkg: github.com/gicits/gicits/bench\n", "Unit LPIs/s better=higher\n", " ns/op\t", " LPIs/s\t", " e2e-p50-ns\t"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("gobench lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestGoBenchSideHasNoBackendInNames(t *testing.T) {
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: 5, Samples: 100})
	var buf bytes.Buffer
	if err := WriteGoBenchSide(&buf, noisyRuns(m, "sim-walk", 2, 1)); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\nBenchmarkITS/workload=steady\t"); n != 2 || strings.Contains(buf.String(), "backend") {
		t.Errorf("%d lines named BenchmarkITS/workload=steady, want 2, and no backend:\n%s", n, buf.String())
	}
}

func TestGroupAndPool(t *testing.T) {
	m := benchtest.NewNoisyMachine(benchtest.Noise{Seed: 4, Samples: 100})
	a1, b1, a2 := noisyRuns(m, "a", 1, 1)[0], noisyRuns(m, "b", 1, 1)[0], noisyRuns(m, "a", 1, 1)[0]
	g := Group([]*bench.Result{a1, b1, a2})
	if len(g) != 2 || len(g[0]) != 2 || g[0][1] != a2 || g[1][0] != b1 {
		t.Fatalf("Group: %v", g)
	}
	p := Pool(g[0])
	if p.Call.N != 200 || p.Injections != 200 || p.Counts.Signalled != 200 || p.Elapsed != a1.Elapsed+a2.Elapsed {
		t.Errorf("pooled: n %d, injections %d, signalled %d, elapsed %v", p.Call.N, p.Injections, p.Counts.Signalled, p.Elapsed)
	}
	if a1.Call.N != 100 || len(a1.CallSamples) != 100 {
		t.Errorf("Pool changed a run: n %d", a1.Call.N)
	}
}

func TestLossBanner(t *testing.T) {
	r := &bench.Result{Label: "x", Counts: bench.Counts{Lost: 3}}
	if b := LossBanner(r); !strings.Contains(b, "3 DELIVERIES LOST") {
		t.Errorf("banner %q", b)
	}
}
