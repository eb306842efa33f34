package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/stats"
)

var csvHeader = []string{"label", "backend", "workload", "cpus", "devices", "events", "injectors", "mapping", "pattern", "path", "wait", "churn",
	"injections", "elapsed_s", "lpis_per_s",
	"call_n", "call_mean_ns", "call_ci95_low_ns", "call_ci95_high_ns", "call_stddev_ns", "call_min_ns", "call_p50_ns", "call_p90_ns", "call_p99_ns", "call_p99_9_ns", "call_max_ns",
	"e2e_n", "e2e_mean_ns", "e2e_ci95_low_ns", "e2e_ci95_high_ns", "e2e_stddev_ns", "e2e_min_ns", "e2e_p50_ns", "e2e_p90_ns", "e2e_p99_ns", "e2e_p99_9_ns", "e2e_max_ns",
	"signalled", "delivered", "blocked", "failed", "acknowledged", "coalesced", "dropped_by_churn", "lost", "clock_resolution_ns", "run"}

// csvFloat formats v for CSV, "" when the value is missing.
func csvFloat(v float64, present bool) string {
	if !present {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// csvSummary formats a summary's columns: only n (0) for an empty one, and
// empty CI columns for a sample of one.
func csvSummary(s stats.Summary) []string {
	has, ci := s.N > 0, s.HasCI()
	return []string{strconv.Itoa(s.N), csvFloat(s.Mean, has), csvFloat(s.CILow, ci), csvFloat(s.CIHigh, ci), csvFloat(s.StdDev, has),
		csvFloat(s.Min, has), csvFloat(s.P50, has), csvFloat(s.P90, has), csvFloat(s.P99, has), csvFloat(s.P999, has), csvFloat(s.Max, has)}
}

// WriteCSV writes one row per run under a header row, in the order given
// (a compare's runs in the order they ran). The last column, run, numbers
// each label's runs from 1. A value a run does not have (the latencies of a run without
// consumers, a confidence interval of one sample, a throughput with no
// time measured) is an empty field, never 0.
func WriteCSV(out io.Writer, results []*bench.Result) error {
	cw := csv.NewWriter(out)
	cw.Write(csvHeader)
	d := func(v int64) string { return strconv.FormatInt(v, 10) }
	seen := map[string]int{}
	for _, r := range results {
		w, c := r.Workload, r.Counts
		seen[r.Label]++
		timed := r.Elapsed > 0
		row := []string{r.Label, r.Backend, w.Name, strconv.Itoa(w.CPUs), strconv.Itoa(w.Devices), strconv.Itoa(w.Events), strconv.Itoa(r.Injectors),
			w.Mapping.String(), w.Pattern.String(), w.Path.String(), w.Wait.String(), w.Churn.String(),
			d(r.Injections), csvFloat(r.Elapsed.Seconds(), timed), csvFloat(r.Throughput, timed)}
		row = append(row, csvSummary(r.Call)...)
		row = append(row, csvSummary(r.EndToEnd)...)
		row = append(row, d(c.Signalled), d(c.Delivered), d(c.Blocked), d(c.Failed), d(c.Acknowledged), d(c.Coalesced), d(c.Dropped), d(c.Lost),
			csvFloat(float64(r.Clock.Resolution), r.Clock.Resolution > 0), strconv.Itoa(seen[r.Label]))
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// jsonComparison is a comparison of one label's runs with the first
// label's, in WriteJSON's document.
type jsonComparison struct {
	A        string              `json:"a"`
	B        string              `json:"b"`
	RunsA    int                 `json:"runs_a"`
	RunsB    int                 `json:"runs_b"`
	Measures []MeasureComparison `json:"measures"`
}

// WriteJSON writes the runs, in the order given, and, when they have more
// than one label, the comparison of each other label's runs with the
// first label's ([CompareRuns]), as one JSON document.
func WriteJSON(out io.Writer, results []*bench.Result) error {
	doc := struct {
		Results     []*bench.Result  `json:"results"`
		Comparisons []jsonComparison `json:"comparisons,omitempty"`
	}{Results: results}
	groups := Group(results)
	for _, g := range groups[min(1, len(groups)):] {
		c := CompareRuns(groups[0], g)
		doc.Comparisons = append(doc.Comparisons, jsonComparison{A: groups[0][0].Label, B: g[0].Label,
			RunsA: len(groups[0]), RunsB: len(g), Measures: c.Measures})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// WriteGoBench writes the runs in Go's benchmark format, one line per run,
// the backend's label in the benchmark's name:
//
//	BenchmarkITS/workload=steady/backend=sim  500000  81.2 ns/op  12300000 LPIs/s  64 call-p50-ns ...
//
// ns/op is elapsed time per measured injection (the inverse of the
// throughput, as Go's own benchmarks report). Unit lines tell benchstat
// that more LPIs/s is better and that lost is a count, not a measurement.
// The name carries no -GOMAXPROCS suffix: a kvm side run in the guest has
// the guest's, and the rows of the two sides must match.
//
// benchstat's default columns are its input files, so the two sides of
// one compare's output are compared with benchstat -col /backend FILE; to
// compare them with no flag, write each side to a file of its own
// ([WriteGoBenchSide]) and run benchstat A B.
func WriteGoBench(out io.Writer, results []*bench.Result) error {
	return writeGoBench(out, results, true)
}

// WriteGoBenchSide writes one side's runs as [WriteGoBench] does, but
// without the backend in the benchmark's name, so that the files of two
// sides have the same rows and benchstat A B compares them, the file names
// naming the sides.
func WriteGoBenchSide(out io.Writer, runs []*bench.Result) error {
	return writeGoBench(out, runs, false)
}

func writeGoBench(out io.Writer, results []*bench.Result, withBackend bool) error {
	fmt.Fprintf(out, "goos: %s\ngoarch: %s\npkg: github.com/gicits/gicits/bench\n", runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "Unit LPIs/s better=higher\nUnit lost better=lower assume=exact\n")
	for _, r := range results {
		nsPerOp := 0.0
		if r.Injections > 0 {
			nsPerOp = float64(r.Elapsed.Nanoseconds()) / float64(r.Injections)
		}
		name := "BenchmarkITS/workload=" + r.Workload.Name
		if withBackend {
			name += "/backend=" + r.Label
		}
		fmt.Fprintf(out, "%s\t%d\t%.2f ns/op\t%.0f LPIs/s\t%.0f call-p50-ns\t%.0f call-p99-ns",
			name, r.Injections, nsPerOp, r.Throughput, r.Call.P50, r.Call.P99)
		if r.EndToEnd.N > 0 {
			fmt.Fprintf(out, "\t%.0f e2e-p50-ns\t%.0f e2e-p99-ns", r.EndToEnd.P50, r.EndToEnd.P99)
		}
		if _, err := fmt.Fprintf(out, "\t%d lost\n", r.Counts.Lost); err != nil {
			return err
		}
	}
	return nil
}
