package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/benchtest"
)

// The fake backend lets these tests run whatever backends the binary links.
func init() { benchtest.Register() }

const fake = benchtest.Name

// fakeHeader is the header a run on the fake writes to stderr before it
// starts, up to the workload's description.
const fakeHeader = "itsbench: running workload steady on " + fake + " (a fake backend in this process (bench tests)): "

func TestRunTable(t *testing.T) {
	var rec recorder
	status := run(&env{stdout: rec.stream("stdout"), stderr: rec.stream("stderr")}, []string{"run", "-backend", fake, "-count", "2000", "-warmup", "100"})
	stdout, stderr := rec.text("stdout"), rec.text("stderr")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, want := range []string{"workload steady on " + fake, "clock: Go monotonic clock", "throughput:", "injection call", "end-to-end (park)", "lost"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	// The header first, and nothing more: stderr is not a terminal.
	if first := rec.writes[0]; first.stream != "stderr" || !strings.HasPrefix(first.text, fakeHeader) {
		t.Errorf("first write %+v, want the header on stderr", first)
	}
	if strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "\r") {
		t.Errorf("stderr is not a terminal, yet it has more than the header: %q", stderr)
	}
}

// A recorder records the writes to an env's streams in the order they
// happen, and calls onWrite (when set) after each.
type recorder struct {
	mu      sync.Mutex
	writes  []recorded
	onWrite func(r recorded)
}

type recorded struct{ stream, text string }

type recorderStream struct {
	r    *recorder
	name string
}

func (s recorderStream) Write(p []byte) (int, error) {
	s.r.mu.Lock()
	w := recorded{s.name, string(p)}
	s.r.writes = append(s.r.writes, w)
	on := s.r.onWrite
	s.r.mu.Unlock()
	if on != nil {
		on(w)
	}
	return len(p), nil
}

// stream returns the writer of the stream name.
func (r *recorder) stream(name string) io.Writer { return recorderStream{r, name} }

// text returns what was written to the stream name.
func (r *recorder) text(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, w := range r.writes {
		if w.stream == name {
			b.WriteString(w.text)
		}
	}
	return b.String()
}

// isProgress reports whether w draws a progress line.
func isProgress(w recorded) bool {
	return w.stream == "stderr" && strings.HasPrefix(w.text, "\r") && len(w.text) > len("\r\x1b[K")
}

// runInterrupted runs itsbench args in-process, its stderr a terminal, and
// interrupts it the way Ctrl-C does (cancelling the context
// notifyInterrupt gives the run) as soon as it has drawn a progress line.
func runInterrupted(t *testing.T, args ...string) (status int, rec *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	saved := notifyInterrupt
	notifyInterrupt = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	defer func() { notifyInterrupt = saved }()
	rec = &recorder{onWrite: func(w recorded) {
		if isProgress(w) {
			cancel()
		}
	}}
	status = run(&env{stdout: rec.stream("stdout"), stderr: rec.stream("stderr"), stderrIsTerminal: true}, args)
	return status, rec
}

// TestRunInterrupted: Ctrl-C during a run stops it; the report of what
// ran is written, marked partial with how far it got, stderr says so, and
// the status is 130. The runs would take an hour and 2^28 injections:
// only the interruption ends them.
func TestRunInterrupted(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		report []string // in the report on stdout
		extent string   // how far it got, in the report and on stderr
	}{
		{"duration table", []string{"-duration", "1h"}, []string{"note: PARTIAL: the run was stopped after ", "; every figure is of the part that ran\n", "throughput: "}, " of 1h0m0s"},
		{"count json", []string{"-count", "268435456", "-latency-every", "1048576", "-format", "json"}, []string{`"partial": true`, `"PARTIAL: the run was stopped after `}, " of 268435456 measured injections"},
		{"duration -o -", []string{"-duration", "1h", "-o", "-", "-format", "csv"}, []string{"label,backend,workload,"}, " of 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, rec := runInterrupted(t, append([]string{"run", "-backend", fake}, tc.args...)...)
			stdout, stderr := rec.text("stdout"), rec.text("stderr")
			if status != exitInterrupted {
				t.Errorf("status %d, want %d (interrupted); stderr:\n%s", status, exitInterrupted, stderr)
			}
			for _, want := range append(tc.report, tc.extent) {
				if tc.name == "duration -o -" && want == tc.extent {
					continue // CSV has no notes
				}
				if !strings.Contains(stdout, want) {
					t.Errorf("the report lacks %q:\n%s", want, stdout)
				}
			}
			last := "itsbench run: interrupted: " + fake + " stopped after "
			if !strings.Contains(stderr, last) || !strings.HasSuffix(stderr, tc.extent+"; its report is of that part (partial)\n") {
				t.Errorf("stderr does not end with %q...%q:\n%q", last, tc.extent, stderr)
			}
		})
	}
}

// TestRunHeaderBeforeTheRun: the header is on stderr before the run's
// first progress line, which is before the report: a long run says at once
// what runs.
func TestRunHeaderBeforeTheRun(t *testing.T) {
	_, rec := runInterrupted(t, "run", "-backend", fake, "-duration", "1h")
	header, progress, report := -1, -1, -1
	for i, w := range rec.writes {
		switch {
		case header < 0 && w.stream == "stderr" && strings.HasPrefix(w.text, fakeHeader):
			header = i
		case progress < 0 && isProgress(w):
			progress = i
		case report < 0 && w.stream == "stdout":
			report = i
		}
	}
	if header != 0 || progress <= header || report <= progress {
		t.Errorf("writes: header #%d, first progress line #%d, report #%d; want them in that order, the header first:\n%q", header, progress, report, rec.writes)
	}
}

// TestRunSIGINT sends the process a real SIGINT during a run: the run's
// signal handling catches it (without it, the test binary would die), and
// the run ends interrupted with its partial report.
func TestRunSIGINT(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGINT to send to oneself on Windows")
	}
	self, err := os.FindProcess(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	rec := &recorder{onWrite: func(w recorded) {
		if isProgress(w) {
			once.Do(func() {
				if err := self.Signal(os.Interrupt); err != nil {
					t.Error(err)
				}
			})
		}
	}}
	status := run(&env{stdout: rec.stream("stdout"), stderr: rec.stream("stderr"), stderrIsTerminal: true}, []string{"run", "-backend", fake, "-duration", "1h"})
	if status != exitInterrupted || !strings.Contains(rec.text("stdout"), "note: PARTIAL: the run was stopped after ") {
		t.Errorf("status %d, report:\n%s\nstderr:\n%s", status, rec.text("stdout"), rec.text("stderr"))
	}
}

// TestRunProgressLine: on a terminal a run draws its progress line, and
// erases it before the report; -q, or stderr not a terminal, draws none.
// The runs last 600ms, over two of the progress callback's 250ms ticks.
func TestRunProgressLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		terminal bool
		args     []string
		want     bool
	}{
		{"terminal", true, nil, true},
		{"-q", true, []string{"-q"}, false},
		{"not a terminal", false, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("COLUMNS", "200")
			var rec recorder
			args := append([]string{"run", "-backend", fake, "-duration", "600ms"}, tc.args...)
			if status := run(&env{stdout: rec.stream("stdout"), stderr: rec.stream("stderr"), stderrIsTerminal: tc.terminal}, args); status != 0 {
				t.Fatalf("status %d: %s", status, rec.text("stderr"))
			}
			stderr := rec.text("stderr")
			drawn := strings.Contains(stderr, "\rsteady on "+fake+": ")
			if drawn != tc.want {
				t.Errorf("progress line drawn %v, want %v: %q", drawn, tc.want, stderr)
			}
			if drawn && (!strings.HasSuffix(stderr, "\r\x1b[K") || !strings.Contains(stderr, "/600ms, ") || !strings.Contains(stderr, "LPIs, ") || !strings.Contains(stderr, " failed, 0 unacked >1s\x1b[K")) {
				t.Errorf("progress line not as documented, or not erased at the end: %q", stderr)
			}
		})
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

// TestRunChecksBeforeTheRun: output paths and flag combinations that
// cannot work are usage errors (status 2) before anything runs: no header
// is written, and the files named are left as they were. DIR is a
// temporary directory holding the file "existing".
func TestRunChecksBeforeTheRun(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-o", "/nonexistent/dir/r.txt"}, "itsbench run: -o: open /nonexistent/dir/r.txt: no such file or directory"},
		{[]string{"-o", "DIR"}, "itsbench run: -o: open DIR: is a directory"},
		{[]string{"-plot", "/nonexistent/dir/p.svg"}, "itsbench run: -plot: open /nonexistent/dir/p.svg: no such file or directory"},
		{[]string{"-plot", "DIR/p.pdf"}, `itsbench run: -plot "DIR/p.pdf": want a file name ending in .svg or .png`},
		{[]string{"-o", "DIR/existing", "-plot", "/nonexistent/dir/p.svg"}, "itsbench run: -plot: open /nonexistent/dir/p.svg"},
		{[]string{"-o", "DIR/new.svg", "-plot", "DIR/new.svg"}, "itsbench run: -o and -plot both name DIR/new.svg: one would overwrite the other"},
		{[]string{"-o", "DIR/new.txt", "-memstats", "-duration", "1s"}, "itsbench run: -memstats: -duration 1s leaves too few samples after -mem-warmup 30s, one every -mem-every 5s: the slope needs 3, so -duration 40s at least"},
		{[]string{"-memstats", "-duration", "2s", "-mem-warmup", "1s", "-mem-every", "600ms"}, "-duration 2.4s at least"},
		{[]string{"-memstats"}, "itsbench run: -memstats needs a run bounded by time: set -duration (workload steady is bounded by -count 500000)"},
		{[]string{"-memstats", "-workload", "lpistress"}, "(workload lpistress is bounded by -iterations 1000)"},
		{[]string{"-mem-every", "1s"}, "itsbench run: -mem-every without -memstats: only -memstats samples the memory"},
		{[]string{"-mem-warmup", "0s", "-mem-max-sys-slope", "1"}, "itsbench run: -mem-max-sys-slope, -mem-warmup without -memstats"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			existing := filepath.Join(dir, "existing")
			if err := os.WriteFile(existing, []byte("kept"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"run", "-backend", fake}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			status, stdout, stderr := runArgs(t, args...)
			stderr = strings.ReplaceAll(stderr, dir, "DIR")
			if status != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("status %d, stderr %q; want %d and %q", status, stderr, exitUsage, tc.want)
			}
			if stdout != "" || strings.Contains(stderr, "itsbench: running") {
				t.Errorf("the run started: stdout %q, stderr %q", stdout, stderr)
			}
			if b, err := os.ReadFile(existing); string(b) != "kept" {
				t.Errorf("existing file: %q, %v; want it kept", b, err)
			}
			if names, _ := os.ReadDir(dir); len(names) != 1 {
				t.Errorf("files left in DIR: %v, want only existing", names)
			}
		})
	}
}

// TestRunOutputDash: -o - is standard output, as -trace - and decode
// -file - are: no file named "-" is written.
func TestRunOutputDash(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, format := range []string{"table", "csv"} {
		status, stdout, stderr := runArgs(t, "run", "-backend", fake, "-count", "500", "-format", format, "-o", "-")
		if status != 0 {
			t.Fatalf("%s: status %d, stderr %s", format, status, stderr)
		}
		if want := map[string]string{"table": "workload steady on ", "csv": "label,backend,workload,"}[format]; !strings.HasPrefix(stdout, want) {
			t.Errorf("%s: stdout does not start with %q:\n%s", format, want, stdout)
		}
		if _, err := os.Stat("-"); err == nil {
			t.Fatalf("%s: -o - wrote a file named -", format)
		}
	}
}

// TestRunUpperCasePlot: -plot accepts .SVG and .PNG.
func TestRunUpperCasePlot(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"p.SVG", "p.Png"} {
		path := filepath.Join(dir, name)
		if status, _, stderr := runArgs(t, "run", "-backend", fake, "-count", "500", "-plot", path); status != 0 {
			t.Fatalf("-plot %s: status %d, stderr %s", name, status, stderr)
		}
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("-plot %s: %v", name, err)
		}
	}
}

// TestRunTraceSaysSo: a traced run is many times slower; its header and
// its report say that tracing was on. An untraced run says nothing of it.
func TestRunTraceSaysSo(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "trace.log")
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-trace", trace}, true},
		{nil, false},
	} {
		status, stdout, stderr := runArgs(t, append([]string{"run", "-backend", fake, "-count", "500"}, tc.args...)...)
		if status != 0 {
			t.Fatalf("%v: status %d, stderr %s", tc.args, status, stderr)
		}
		inReport := strings.Contains(stdout, "note: "+traceNote+"\n")
		inHeader := strings.Contains(stderr, traceHeaderNote+"\n")
		if inReport != tc.want || inHeader != tc.want {
			t.Errorf("%v: tracing note in the report %v, in the header %v; want %v:\n%s%s", tc.args, inReport, inHeader, tc.want, stderr, stdout)
		}
	}
}

// TestRunDescribesItsCPUs: the report describes the workload as
// configured: run -cpus 32 said "spread over 2 CPUs", the built-in's
// figure.
func TestRunDescribesItsCPUs(t *testing.T) {
	status, stdout, stderr := runArgs(t, "run", "-backend", fake, "-cpus", "32", "-count", "500")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	if !strings.Contains(stdout, ": 32 CPUs, ") || regexp.MustCompile(`(^|[^0-9])2 CPUs`).MatchString(stdout+stderr) {
		t.Errorf("the output does not describe 32 CPUs only:\n%s%s", stderr, stdout)
	}
}

// TestProgressLineFitsTheTerminal: a progress line never wraps (each
// drawing would leave a line behind): the label gives way first, so the
// counts, "unacked" last, stay whole.
func TestProgressLineFitsTheTerminal(t *testing.T) {
	p := bench.Progress{Elapsed: 12300 * time.Millisecond, Limit: time.Minute, Done: 151200000, Failed: 0, Overdue: 3}
	for _, tc := range []struct {
		columns, label, want string
	}{
		{"200", "lpistress on kvm-walk", "\rlpistress on kvm-walk: 12.3s/1m0s, 151.20M LPIs, 12.29M/s, 0 failed, 3 unacked >1s\x1b[K"},
		{"80", "lpistress on benchtest-fake", "\rlpistress: 12.3s/1m0s, 151.20M LPIs, 12.29M/s, 0 failed, 3 unacked >1s\x1b[K"},
		{"60", "lpistress on benchtest-fake", "\r12.3s/1m0s, 151.20M LPIs, 12.29M/s, 0 failed, 3 unacked >1s\x1b[K"},
		{"40", "steady on sim", "\r12.3s/1m0s, 151.20M LPIs, 12.29M/s, 0 f\x1b[K"},
	} {
		t.Setenv("COLUMNS", tc.columns)
		var b strings.Builder
		l := &progressLine{w: &b, label: tc.label}
		l.draw(p)
		if b.String() != tc.want {
			t.Errorf("COLUMNS=%s: drew %q, want %q", tc.columns, b.String(), tc.want)
		}
	}
}
