package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/stats"
)

// A Measure is a figure every run has one value of, which comparisons of
// repeated runs test: the runs, not the samples inside one, are the unit
// of replication.
type Measure struct {
	Name string
	// Value returns r's value, and false when r has none (no end-to-end
	// latencies without consumers).
	Value func(r *bench.Result) (float64, bool)
	// Format formats a value for the table.
	Format func(float64) string
}

func latency(s func(*bench.Result) stats.Summary, q func(stats.Summary) float64) func(*bench.Result) (float64, bool) {
	return func(r *bench.Result) (float64, bool) {
		sum := s(r)
		return q(sum), sum.N > 0
	}
}

func call(r *bench.Result) stats.Summary     { return r.Call }
func endToEnd(r *bench.Result) stats.Summary { return r.EndToEnd }
func p50(s stats.Summary) float64            { return s.P50 }
func p99(s stats.Summary) float64            { return s.P99 }

// Measures are the figures [CompareRuns] compares: each run's throughput,
// and its median and 99th percentile of each latency.
var Measures = []Measure{
	{"throughput (LPIs/s)", func(r *bench.Result) (float64, bool) { return r.Throughput, r.Elapsed > 0 }, si},
	{"injection call p50", latency(call, p50), ns},
	{"injection call p99", latency(call, p99), ns},
	{"end-to-end p50", latency(endToEnd, p50), ns},
	{"end-to-end p99", latency(endToEnd, p99), ns},
}

// MeasureComparison is one measure of the runs compared.
type MeasureComparison struct {
	Measure string `json:"measure"`
	// A and B are each run's value, in the order the runs ran.
	A []float64 `json:"a"`
	B []float64 `json:"b"`
	stats.Comparison
	format func(float64) string
}

// Comparison compares repeated runs B of a workload with runs A, measure
// by measure.
type Comparison struct {
	A, B []*bench.Result
	// Order says how the runs were ordered in time (interleaved, or
	// whole runs on two machines), for the report; empty when unknown.
	Order    string
	Measures []MeasureComparison
}

// CompareRuns compares runs b with runs a (each non-empty, one workload)
// on every measure all of them have.
func CompareRuns(a, b []*bench.Result) Comparison {
	c := Comparison{A: a, B: b}
	for _, m := range Measures {
		va, oka := values(a, m)
		vb, okb := values(b, m)
		if !oka || !okb {
			continue
		}
		c.Measures = append(c.Measures, MeasureComparison{Measure: m.Name, A: va, B: vb,
			Comparison: stats.CompareRuns(va, vb), format: m.Format})
	}
	return c
}

// values returns m's value for every run, and false if any run has none.
func values(runs []*bench.Result, m Measure) ([]float64, bool) {
	v := make([]float64, 0, len(runs))
	for _, r := range runs {
		x, ok := m.Value(r)
		if !ok {
			return nil, false
		}
		v = append(v, x)
	}
	return v, len(v) > 0
}

// Group splits results by label, in the order each label first appears:
// a compare's runs of A, then of B.
func Group(results []*bench.Result) [][]*bench.Result {
	var groups [][]*bench.Result
	var labels []string
	for _, r := range results {
		i := slices.Index(labels, r.Label)
		if i < 0 {
			labels = append(labels, r.Label)
			groups = append(groups, nil)
			i = len(groups) - 1
		}
		groups[i] = append(groups[i], r)
	}
	return groups
}

// WriteTable writes the comparison: the workload, how the runs were
// ordered, one row per measure with each side's median over its runs, the
// ratio B/A, its confidence interval and the test's verdict, the counts
// summed over the runs, and a paragraph saying how to read the figures.
func (c Comparison) WriteTable(out io.Writer) error {
	a, b := c.A[0], c.B[0]
	fmt.Fprintf(out, "workload %s: %s\n", a.Workload.Name, a.Workload.Describe())
	fmt.Fprintf(out, "clock: %v\n", a.Clock)
	fmt.Fprintf(out, "runs: %s of %s, %s of %s", plural(int64(len(c.A)), "run"), a.Label, plural(int64(len(c.B)), "run"), b.Label)
	if c.Order != "" {
		fmt.Fprintf(out, ", %s", c.Order)
	}
	fmt.Fprintln(out)
	for _, side := range [][]*bench.Result{c.A, c.B} {
		for _, n := range distinctNotes(side) {
			fmt.Fprintf(out, "note (%s): %s\n", side[0].Label, n)
		}
	}
	fmt.Fprintln(out)
	if err := c.writeMeasures(out); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if err := c.writeCounts(out); err != nil {
		return err
	}
	fmt.Fprintln(out)
	fmt.Fprintln(out, c.explanation())
	for _, r := range append(slices.Clone(c.A), c.B...) {
		if s := LossBanner(r); s != "" {
			fmt.Fprintf(out, "\n%s\n", s)
		}
	}
	return nil
}

func (c Comparison) writeMeasures(out io.Writer) error {
	a, b := c.A[0].Label, c.B[0].Label
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\t%s\t%s\t%s/%s\t95%% CI\tverdict\n", a, b, b, a)
	for _, m := range c.Measures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Measure, m.format(m.MedianA), m.format(m.MedianB),
			m.RatioString(), m.CIString(), m.Verdict())
	}
	return tw.Flush()
}

func (c Comparison) writeCounts(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "summed over the runs\t%s\t%s\t\n", c.A[0].Label, c.B[0].Label)
	sum := func(runs []*bench.Result, f func(bench.Counts) int64) int64 {
		var t int64
		for _, r := range runs {
			t += f(r.Counts)
		}
		return t
	}
	for _, row := range []struct {
		name string
		f    func(bench.Counts) int64
	}{
		{"signalled", func(c bench.Counts) int64 { return c.Signalled }},
		{"delivered", func(c bench.Counts) int64 { return c.Delivered }},
		{"blocked", func(c bench.Counts) int64 { return c.Blocked }},
		{"failed", func(c bench.Counts) int64 { return c.Failed }},
		{"acknowledged", func(c bench.Counts) int64 { return c.Acknowledged }},
		{"coalesced", func(c bench.Counts) int64 { return c.Coalesced }},
		{"dropped by churn", func(c bench.Counts) int64 { return c.Dropped }},
		{"lost", func(c bench.Counts) int64 { return c.Lost }},
	} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", row.name, sum(c.A, row.f), sum(c.B, row.f))
	}
	return tw.Flush()
}

// explanation says how the table was computed.
func (c Comparison) explanation() string {
	a, b := c.A[0].Label, c.B[0].Label
	return "Each figure is the median over the runs of each run's own value (its throughput, its median\n" +
		"or 99th-percentile latency), and " + b + "/" + a + " the ratio of those medians. The verdict is the\n" +
		stats.TestName + ", " + strconv.Itoa(len(c.A)) + " against " + strconv.Itoa(len(c.B)) + ",\n" +
		"not over the pooled samples, which are autocorrelated within a run. The 95% CI is the\n" +
		"Hodges-Lehmann interval the test inverts (its exact coverage is at least 95%: " + c.coverage() + "):\n" +
		"the median of the runs' pairwise ratios, an estimate of B/A when B's runs are A's scaled."
}

// distinctNotes returns the notes of runs, each once, in order.
func distinctNotes(runs []*bench.Result) []string {
	var notes []string
	for _, r := range runs {
		for _, n := range r.Notes {
			if !slices.Contains(notes, n) {
				notes = append(notes, n)
			}
		}
	}
	return notes
}

// Pool merges one side's runs into one result for a plot of its latency
// distribution: the samples of every run together (re-sorted), their
// summaries, the counts and injections summed, the throughput over the
// summed elapsed time. Runs keep no churn-command samples, so the pooled
// churn summary is that of the run with the median churn p50. The pooled
// samples describe the side; tests go through [CompareRuns], never through
// pooled samples.
func Pool(runs []*bench.Result) *bench.Result {
	if len(runs) == 1 {
		return runs[0]
	}
	p := *runs[0]
	p.CallSamples, p.EndToEndSamples = nil, nil
	p.Counts, p.Injections, p.Elapsed = bench.Counts{}, 0, 0
	p.Notes, p.Errors = distinctNotes(runs), nil
	for _, r := range runs {
		p.CallSamples = append(p.CallSamples, r.CallSamples...)
		p.EndToEndSamples = append(p.EndToEndSamples, r.EndToEndSamples...)
		p.Injections += r.Injections
		p.Elapsed += r.Elapsed
		p.ChurnOps += r.ChurnOps
		p.Errors = append(p.Errors, r.Errors...)
		addCounts(&p.Counts, r.Counts)
	}
	slices.Sort(p.CallSamples)
	slices.Sort(p.EndToEndSamples)
	p.Call, p.EndToEnd = stats.Summarize(p.CallSamples), stats.Summarize(p.EndToEndSamples)
	p.Command = medianChurn(runs)
	if p.Elapsed > 0 {
		p.Throughput = float64(p.Injections) / p.Elapsed.Seconds()
	}
	p.Notes = append(p.Notes, fmt.Sprintf("the samples of %d runs pooled", len(runs)))
	return &p
}

func addCounts(t *bench.Counts, c bench.Counts) {
	t.Signalled += c.Signalled
	t.Delivered += c.Delivered
	t.Blocked += c.Blocked
	t.Failed += c.Failed
	t.Acknowledged += c.Acknowledged
	t.Coalesced += c.Coalesced
	t.Dropped += c.Dropped
	t.Lost += c.Lost
	t.Foreign += c.Foreign
}

// medianChurn returns the churn-command summary of the run whose churn p50
// is the median of the runs' (the lower middle one of an even number).
func medianChurn(runs []*bench.Result) stats.Summary {
	byP50 := slices.Clone(runs)
	slices.SortStableFunc(byP50, func(x, y *bench.Result) int { return cmp.Compare(x.Command.P50, y.Command.P50) })
	return byP50[(len(byP50)-1)/2].Command
}

// coverage says the exact coverage of the measures' intervals: one figure
// when they share it (the same numbers of runs), else their range.
func (c Comparison) coverage() string {
	lo, hi := 1.0, 0.0
	for _, m := range c.Measures {
		if m.CI != nil {
			lo, hi = min(lo, m.CI.Level), max(hi, m.CI.Level)
		}
	}
	switch {
	case hi == 0:
		return "none computed"
	case hi-lo < 0.0005:
		return fmt.Sprintf("%.1f%% here", 100*lo)
	}
	return fmt.Sprintf("%.1f%% to %.1f%% here", 100*lo, 100*hi)
}
