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
	if err := ComparePair(a, b).WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"fake-b/benchtest-fake", "throughput (LPIs/s)", "Mann-Whitney", "median ratio"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, buf.String())
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
	buf.Reset()
	WriteGoBench(&buf, []*bench.Result{a})
	if !strings.Contains(buf.String(), "BenchmarkITS/workload=lpistress/backend=benchtest-fake-") || !strings.Contains(buf.String(), " ns/op\t") {
		t.Errorf("gobench:\n%s", buf.String())
	}
}

func TestLossBanner(t *testing.T) {
	r := &bench.Result{Label: "x", Counts: bench.Counts{Lost: 3}}
	if b := LossBanner(r); !strings.Contains(b, "3 DELIVERIES LOST") {
		t.Errorf("banner %q", b)
	}
}
