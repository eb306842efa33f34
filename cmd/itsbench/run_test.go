package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gicits/gicits/bench/benchtest"
)

// The fake backend lets these tests run whatever backends the binary links.
func init() { benchtest.Register() }

const fake = benchtest.Name

func TestRunTable(t *testing.T) {
	status, stdout, stderr := runArgs(t, "run", "-backend", fake, "-count", "2000", "-warmup", "100")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, want := range []string{"workload steady on " + fake, "clock: Go monotonic clock", "throughput:", "injection call", "end-to-end (park)", "lost"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" {
		t.Errorf("stderr is not a terminal, yet: %q", stderr)
	}
}

func TestRunLPIStressFlags(t *testing.T) {
	status, stdout, stderr := runArgs(t, "run", "-backend", fake, "-workload", "lpistress", "-v", "2", "-d", "2", "-e", "4", "-i", "100")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	if !strings.Contains(stdout, "Rate: ") || !strings.Contains(stdout, "2 CPUs, 2 devices × 4 events") || !strings.Contains(stdout, "800 injections in") {
		t.Errorf("output:\n%s", stdout)
	}
}

func TestRunFormatsAndPlot(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"csv", "json", "gobench"} {
		out := filepath.Join(dir, "out."+f)
		status, stdout, stderr := runArgs(t, "run", "-backend", fake, "-count", "500", "-format", f, "-o", out, "-plot", filepath.Join(dir, "p.svg"))
		if status != 0 || stdout != "" {
			t.Fatalf("%s: status %d stdout %q stderr %s", f, status, stdout, stderr)
		}
		data, _ := os.ReadFile(out)
		switch f {
		case "csv":
			if !strings.HasPrefix(string(data), "label,backend,workload,") {
				t.Errorf("csv:\n%s", data)
			}
		case "json":
			var v map[string]any
			if err := json.Unmarshal(data, &v); err != nil {
				t.Errorf("json: %v", err)
			}
		case "gobench":
			if !strings.Contains(string(data), "BenchmarkITS/workload=steady/backend="+fake) {
				t.Errorf("gobench:\n%s", data)
			}
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "p.svg")); err != nil || fi.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
}

func TestRunUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-workload", "nope"}, `unknown workload "nope" (known: steady, storm, fanout, churn, irqfd, lpistress)`},
		{[]string{"run", "-format", "xml"}, `-format "xml": want one of table, csv, json, gobench`},
		{[]string{"run", "-cpus", "0"}, "cpus 0: want 1..32"},
		{[]string{"run", "-pattern", "zigzag"}, "pattern"},
		{[]string{"run", "-pattern", "zigzag"}, "sequential, uniform, zipf, bursts"},
		{[]string{"run", "-count", "10", "-duration", "1s"}, "set only one of -count"},
		{[]string{"run", "-count", "x"}, "a non-negative integer"},
		{[]string{"run", "-plot", "x.pdf"}, ".svg or .png"},
		{[]string{"run", "-backend", "sim:fast"}, "want NAME or NAME:walk"},
		{[]string{"run", "-backend", "qemu"}, `unknown backend "qemu" (known: `},
		{[]string{"compare", "-workload", "nope"}, "known: steady"},
		{[]string{"list", "x"}, `unexpected argument "x"`},
	} {
		status, _, stderr := runArgs(t, tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("itsbench %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), status, stderr, tc.want)
		}
	}
}
