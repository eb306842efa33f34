package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/stats"
)

// si formats v with an SI prefix: 12.3M.
func si(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "G"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "k"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// ns formats a latency in nanoseconds with a readable unit.
func ns(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "s"
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "ms"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "µs"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', 2, 64) + "µs"
	}
	return strconv.FormatFloat(v, 'f', 0, 64) + "ns"
}

func summaryRow(name string, s stats.Summary) string {
	if s.N == 0 {
		return name + "\t0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t"
	}
	return fmt.Sprintf("%s\t%d\t%s\t±%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", name, s.N, ns(s.Mean), ns((s.CIHigh-s.CILow)/2),
		ns(s.StdDev), ns(s.Min), ns(s.P50), ns(s.P90), ns(s.P99), ns(s.P999), ns(s.Max))
}

// LossBanner returns the loud line a report prints when r lost deliveries
// or injections failed, or "".
func LossBanner(r *bench.Result) string {
	var parts []string
	if c := r.Counts; c.Lost != 0 {
		parts = append(parts, fmt.Sprintf("%d DELIVERIES LOST: the backend said Delivered but no CPU ever acknowledged them", c.Lost))
	}
	if c := r.Counts; c.Failed != 0 {
		parts = append(parts, fmt.Sprintf("%d INJECTIONS FAILED", c.Failed))
	}
	if len(r.Errors) > 0 {
		parts = append(parts, "ERRORS: "+strings.Join(r.Errors, "; "))
	}
	if len(parts) == 0 {
		return ""
	}
	return "!!! " + r.Label + ": " + strings.Join(parts, "; ") + " !!!"
}

// WriteTable writes a readable report of one run.
func WriteTable(out io.Writer, r *bench.Result) error {
	w := r.Workload
	fmt.Fprintf(out, "workload %s on %s: %s\n", w.Name, r.Label, w.Describe())
	if w.Description != "" {
		fmt.Fprintf(out, "  (%s)\n", w.Description)
	}
	fmt.Fprintf(out, "clock: %v\n", r.Clock)
	for _, n := range r.Notes {
		fmt.Fprintf(out, "note: %s\n", n)
	}
	fmt.Fprintf(out, "\nthroughput: %s LPIs/s (%d injections in %v, GOMAXPROCS %d)\n",
		si(r.Throughput), r.Injections, r.Elapsed.Round(time.Microsecond), r.GOMAXPROCS)
	if w.Name == "lpistress" {
		// vgic_lpi_stress's own line, so the figures line up.
		fmt.Fprintf(out, "Rate: %.2f LPIs/sec\n", r.Throughput)
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tn\tmean\t95% CI\tstddev\tmin\tp50\tp90\tp99\tp99.9\tmax\t")
	fmt.Fprintln(tw, summaryRow("injection call", r.Call))
	if w.Wait != bench.WaitNone {
		fmt.Fprintln(tw, summaryRow("end-to-end ("+w.Wait.String()+")", r.EndToEnd))
	}
	if r.ChurnOps > 0 {
		fmt.Fprintln(tw, summaryRow("churn command", r.Command))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := r.Counts
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "signalled\tdelivered\tblocked\tfailed\tacknowledged\tcoalesced\tdropped by churn\tlost\t")
	fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", c.Signalled, c.Delivered, c.Blocked, c.Failed, c.Acknowledged, c.Coalesced, c.Dropped, c.Lost)
	if err := tw.Flush(); err != nil {
		return err
	}
	if b := LossBanner(r); b != "" {
		fmt.Fprintf(out, "\n%s\n", b)
	}
	return nil
}

// Pair is the comparison of run B with run A of the same workload.
type Pair struct {
	A, B *bench.Result
	// Call and EndToEnd compare the latency samples; EndToEnd is nil when
	// either run has none.
	Call     *stats.Comparison `json:"call_latency"`
	EndToEnd *stats.Comparison `json:"end_to_end_latency,omitempty"`
	// ThroughputRatio is B's throughput over A's.
	ThroughputRatio float64 `json:"throughput_ratio"`
}

// ComparePair compares two runs.
func ComparePair(a, b *bench.Result) Pair {
	p := Pair{A: a, B: b}
	if a.Throughput > 0 {
		p.ThroughputRatio = b.Throughput / a.Throughput
	}
	if len(a.CallSamples) > 0 && len(b.CallSamples) > 0 {
		c := stats.Compare(a.CallSamples, b.CallSamples)
		p.Call = &c
	}
	if len(a.EndToEndSamples) > 0 && len(b.EndToEndSamples) > 0 {
		c := stats.Compare(a.EndToEndSamples, b.EndToEndSamples)
		p.EndToEnd = &c
	}
	return p
}

// WriteTable writes the two runs side by side with B/A ratios.
func (p Pair) WriteTable(out io.Writer) error {
	a, b := p.A, p.B
	fmt.Fprintf(out, "workload %s: %s\n", a.Workload.Name, a.Workload.Describe())
	fmt.Fprintf(out, "clock: %v\n", a.Clock)
	for _, r := range []*bench.Result{a, b} {
		for _, n := range r.Notes {
			fmt.Fprintf(out, "note (%s): %s\n", r.Label, n)
		}
	}
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\t%s\t%s\t%s/%s\t\n", a.Label, b.Label, b.Label, a.Label)
	ratio := func(x, y float64) string {
		if x == 0 {
			return "-"
		}
		return strconv.FormatFloat(y/x, 'f', 3, 64) + "×"
	}
	fmt.Fprintf(tw, "throughput (LPIs/s)\t%s\t%s\t%s\t\n", si(a.Throughput), si(b.Throughput), ratio(a.Throughput, b.Throughput))
	rows := []struct {
		name string
		get  func(stats.Summary) float64
	}{{"p50", func(s stats.Summary) float64 { return s.P50 }}, {"p90", func(s stats.Summary) float64 { return s.P90 }},
		{"p99", func(s stats.Summary) float64 { return s.P99 }}, {"p99.9", func(s stats.Summary) float64 { return s.P999 }},
		{"mean", func(s stats.Summary) float64 { return s.Mean }}}
	for _, m := range []struct {
		name string
		a, b stats.Summary
	}{{"injection call", a.Call, b.Call}, {"end-to-end", a.EndToEnd, b.EndToEnd}} {
		if m.a.N == 0 && m.b.N == 0 {
			continue
		}
		for _, row := range rows {
			fa, fb := row.get(m.a), row.get(m.b)
			sa, sb := ns(fa), ns(fb)
			if m.a.N == 0 {
				sa = "-"
			}
			if m.b.N == 0 {
				sb = "-"
			}
			fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t\n", m.name, row.name, sa, sb, ratio(fa, fb))
		}
	}
	ca, cb := a.Counts, b.Counts
	for _, row := range []struct {
		name string
		x, y int64
	}{{"signalled", ca.Signalled, cb.Signalled}, {"delivered", ca.Delivered, cb.Delivered}, {"blocked", ca.Blocked, cb.Blocked},
		{"acknowledged", ca.Acknowledged, cb.Acknowledged}, {"coalesced", ca.Coalesced, cb.Coalesced}, {"lost", ca.Lost, cb.Lost}} {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\t\n", row.name, row.x, row.y)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if p.Call != nil {
		fmt.Fprintf(out, "injection call %s vs %s: %v\n", b.Label, a.Label, p.Call)
	}
	if p.EndToEnd != nil {
		fmt.Fprintf(out, "end-to-end %s vs %s: %v\n", b.Label, a.Label, p.EndToEnd)
	}
	for _, r := range []*bench.Result{a, b} {
		if s := LossBanner(r); s != "" {
			fmt.Fprintf(out, "\n%s\n", s)
		}
	}
	return nil
}

var csvHeader = []string{"label", "backend", "workload", "cpus", "devices", "events", "injectors", "mapping", "pattern", "path", "wait", "churn",
	"injections", "elapsed_s", "lpis_per_s",
	"call_n", "call_mean_ns", "call_ci95_low_ns", "call_ci95_high_ns", "call_stddev_ns", "call_min_ns", "call_p50_ns", "call_p90_ns", "call_p99_ns", "call_p99_9_ns", "call_max_ns",
	"e2e_n", "e2e_mean_ns", "e2e_ci95_low_ns", "e2e_ci95_high_ns", "e2e_stddev_ns", "e2e_min_ns", "e2e_p50_ns", "e2e_p90_ns", "e2e_p99_ns", "e2e_p99_9_ns", "e2e_max_ns",
	"signalled", "delivered", "blocked", "failed", "acknowledged", "coalesced", "dropped_by_churn", "lost", "clock_resolution_ns"}

// WriteCSV writes one row per run under a header row.
func WriteCSV(out io.Writer, results []*bench.Result) error {
	cw := csv.NewWriter(out)
	cw.Write(csvHeader)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	d := func(v int64) string { return strconv.FormatInt(v, 10) }
	sum := func(s stats.Summary) []string {
		return []string{strconv.Itoa(s.N), f(s.Mean), f(s.CILow), f(s.CIHigh), f(s.StdDev), f(s.Min), f(s.P50), f(s.P90), f(s.P99), f(s.P999), f(s.Max)}
	}
	for _, r := range results {
		w, c := r.Workload, r.Counts
		row := []string{r.Label, r.Backend, w.Name, strconv.Itoa(w.CPUs), strconv.Itoa(w.Devices), strconv.Itoa(w.Events), strconv.Itoa(r.Injectors),
			w.Mapping.String(), w.Pattern.String(), w.Path.String(), w.Wait.String(), w.Churn.String(),
			d(r.Injections), f(r.Elapsed.Seconds()), f(r.Throughput)}
		row = append(row, sum(r.Call)...)
		row = append(row, sum(r.EndToEnd)...)
		row = append(row, d(c.Signalled), d(c.Delivered), d(c.Blocked), d(c.Failed), d(c.Acknowledged), d(c.Coalesced), d(c.Dropped), d(c.Lost), d(int64(r.Clock.Resolution)))
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes the runs, and the comparisons of every run with the
// first when there are several, as one JSON document.
func WriteJSON(out io.Writer, results []*bench.Result) error {
	doc := struct {
		Results     []*bench.Result `json:"results"`
		Comparisons []any           `json:"comparisons,omitempty"`
	}{Results: results}
	for _, r := range results[min(1, len(results)):] {
		p := ComparePair(results[0], r)
		doc.Comparisons = append(doc.Comparisons, struct {
			A               string            `json:"a"`
			B               string            `json:"b"`
			ThroughputRatio float64           `json:"throughput_ratio_b_over_a"`
			Call            *stats.Comparison `json:"call_latency,omitempty"`
			EndToEnd        *stats.Comparison `json:"end_to_end_latency,omitempty"`
		}{results[0].Label, r.Label, p.ThroughputRatio, p.Call, p.EndToEnd})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteGoBench writes the runs in Go's benchmark format, one line per
// run, so that benchstat can compare saved runs:
//
//	BenchmarkITS/workload=steady/backend=sim  500000  81.2 ns/op  12300000 LPIs/s  64 call-p50-ns ...
//
// ns/op is elapsed time per measured injection (the inverse of the
// throughput, as Go's own benchmarks report).
func WriteGoBench(out io.Writer, results []*bench.Result) error {
	fmt.Fprintf(out, "goos: %s\ngoarch: %s\npkg: github.com/gicits/gicits/bench\n", runtime.GOOS, runtime.GOARCH)
	for _, r := range results {
		nsPerOp := 0.0
		if r.Injections > 0 {
			nsPerOp = float64(r.Elapsed.Nanoseconds()) / float64(r.Injections)
		}
		fmt.Fprintf(out, "BenchmarkITS/workload=%s/backend=%s-%d\t%d\t%.2f ns/op\t%.0f LPIs/s\t%.0f call-p50-ns\t%.0f call-p99-ns",
			r.Workload.Name, r.Label, r.GOMAXPROCS, r.Injections, nsPerOp, r.Throughput, r.Call.P50, r.Call.P99)
		if r.EndToEnd.N > 0 {
			fmt.Fprintf(out, "\t%.0f e2e-p50-ns\t%.0f e2e-p99-ns", r.EndToEnd.P50, r.EndToEnd.P99)
		}
		fmt.Fprintf(out, "\t%d lost\n", r.Counts.Lost)
	}
	return nil
}
