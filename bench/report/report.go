package report

import (
	"fmt"
	"io"
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

// plural returns "1 CPU", "2 CPUs": n and the word, with an s unless n
// is 1.
func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(n, 10) + " " + word + "s"
}

// summaryRow is a row of the latency table; a sample of one has no
// confidence interval and shows "-" there.
func summaryRow(name string, s stats.Summary) string {
	if s.N == 0 {
		return name + "\t0\t-\t-\t-\t-\t-\t-\t-\t-\t-\t"
	}
	ci := "-"
	if s.HasCI() {
		ci = "±" + ns((s.CIHigh-s.CILow)/2)
	}
	return fmt.Sprintf("%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", name, s.N, ns(s.Mean), ci,
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
	fmt.Fprintf(out, "\nthroughput: %s LPIs/s (%s in %v, GOMAXPROCS %d)\n",
		si(r.Throughput), plural(r.Injections, "injection"), r.Elapsed.Round(time.Microsecond), r.GOMAXPROCS)
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
