package bench

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func twoRuns(t *testing.T) (*Result, *Result) {
	w, _ := Lookup("lpistress")
	w = small(w)
	a := runFake(t, w, 0)
	b := runFake(t, w, 0)
	b.Label = "fake-b"
	return a, b
}

func TestReports(t *testing.T) {
	a, b := twoRuns(t)
	var buf bytes.Buffer
	if err := a.WriteTable(&buf); err != nil {
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
	if err := WriteCSV(&buf, []*Result{a, b}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 3 || len(rows[1]) != len(csvHeader) {
		t.Errorf("csv: %d rows, %v", len(rows), err)
	}
	buf.Reset()
	if err := WriteJSON(&buf, []*Result{a, b}); err != nil {
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
	WriteGoBench(&buf, []*Result{a})
	if !strings.Contains(buf.String(), "BenchmarkITS/workload=lpistress/backend=benchtest-fake-") || !strings.Contains(buf.String(), " ns/op\t") {
		t.Errorf("gobench:\n%s", buf.String())
	}
}

func TestLossBanner(t *testing.T) {
	r := &Result{Label: "x", Counts: Counts{Lost: 3}}
	if b := r.LossBanner(); !strings.Contains(b, "3 DELIVERIES LOST") {
		t.Errorf("banner %q", b)
	}
}

func TestPlot(t *testing.T) {
	a, b := twoRuns(t)
	dir := t.TempDir()
	for _, name := range []string{"cdf.svg", "cdf.png"} {
		p := filepath.Join(dir, name)
		if err := Plot([]*Result{a, b}, p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	if err := Plot([]*Result{a}, filepath.Join(dir, "x.pdf")); err == nil || !strings.Contains(err.Error(), ".svg or .png") {
		t.Errorf("pdf: %v", err)
	}
}
