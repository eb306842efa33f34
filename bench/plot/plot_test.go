package plot

import (
	"context"
	"os"
	"path/filepath"
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

func TestPlot(t *testing.T) {
	a, b := twoRuns(t)
	dir := t.TempDir()
	for _, name := range []string{"cdf.svg", "cdf.png"} {
		p := filepath.Join(dir, name)
		if err := Plot([]*bench.Result{a, b}, p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	if err := Plot([]*bench.Result{a}, filepath.Join(dir, "x.pdf")); err == nil || !strings.Contains(err.Error(), ".svg or .png") {
		t.Errorf("pdf: %v", err)
	}
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		want string // a part of the error; empty: no error
	}{
		{"run.svg", ""},
		{"run.png", ""},
		{"RUN.SVG", ""},
		{"dir/run.Png", ""},
		{"run.pdf", "not .pdf"},
		{"run.svg.gz", "not .gz"},
		{"run", "no extension"},
		{"", "no extension"},
		{"dir.svg/", "no extension"},
	}
	for _, tt := range tests {
		err := CheckPath(tt.path)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPath(%q) = %v, want nil", tt.path, err)
		case tt.want != "" && err == nil:
			t.Errorf("CheckPath(%q) = nil, want an error with %q", tt.path, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("CheckPath(%q) = %v, want an error with %q", tt.path, err, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), ".svg or .png"):
			t.Errorf("CheckPath(%q) = %v, want it to name .svg or .png", tt.path, err)
		}
	}
}
