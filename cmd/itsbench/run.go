package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/plot"
	"github.com/gicits/gicits/bench/report"
	"github.com/gicits/gicits/bench/soak"
	"github.com/gicits/gicits/model"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run a benchmark workload (default: steady on the sim) and report latency and throughput",
		run:     runRun,
	})
}

// benchFlags are the flags run and compare share: the workload, its
// parameters, the output.
type benchFlags struct {
	workload string
	format   string
	output   string
	plot     string
	settings []bench.Setting // workload parameters, in command-line order
	trace    flag.Value      // -trace, whose file must differ from the others
}

var formats = []string{"table", "csv", "json", "gobench"}

func (bf *benchFlags) register(fs *flag.FlagSet) {
	bf.trace = fs.Lookup("trace").Value
	fs.StringVar(&bf.workload, "workload", bench.DefaultWorkload, "workload: "+strings.Join(bench.BuiltinNames(), ", ")+" (itsbench list shows their parameters)")
	fs.StringVar(&bf.format, "format", "table", "output format: "+strings.Join(formats, ", "))
	fs.StringVar(&bf.output, "o", "", "write the report to `FILE` instead of standard output (- is standard output); checked before the run")
	fs.StringVar(&bf.plot, "plot", "", "draw latency CDFs and a histogram into `FILE`.svg or FILE.png (either case); checked before the run")
	for _, p := range bench.Params() {
		set := func(s string) error {
			bf.settings = append(bf.settings, bench.Setting{Param: p, Value: s})
			return nil
		}
		fs.Func(p.Name, "workload parameter: "+p.Usage, set)
		for _, a := range p.Aliases {
			fs.Func(a, "same as -"+p.Name, set)
		}
	}
}

// resolve returns the workload with the command line's parameters applied,
// or a usage error naming what is wrong and what is accepted. It also
// checks, before anything runs, that the report and the plot can be
// written where -o and -plot say.
func (bf *benchFlags) resolve() (bench.Workload, error) {
	if !slices.Contains(formats, bf.format) {
		return bench.Workload{}, usagef("-format %q: want one of %s", bf.format, strings.Join(formats, ", "))
	}
	if bf.plot != "" && plot.CheckPath(bf.plot) != nil {
		return bench.Workload{}, usagef("-plot %q: want a file name ending in .svg or .png", bf.plot)
	}
	w, err := bench.Lookup(bf.workload)
	if err != nil {
		return w, usagef("-workload: %v", err)
	}
	w, err = w.Configure(bf.settings)
	var invalid *bench.InvalidWorkloadError
	switch {
	case err == nil:
		return w, bf.checkOutputs()
	case errors.Is(err, bench.ErrSeveralLengths):
		return w, usagef("set only one of -count, -iterations (-i) and -duration")
	case errors.As(err, &invalid):
		return w, usagef("%v", err)
	}
	return w, usagef("-%v", err) // a *bench.ParamError: a flag's value did not parse
}

// reportToStdout reports whether the report goes to standard output: no
// -o, or -o -.
func (bf *benchFlags) reportToStdout() bool { return bf.output == "" || bf.output == "-" }

// checkOutputs refuses, before the run, a report or plot file that cannot
// be written, and -o and -plot naming one file.
func (bf *benchFlags) checkOutputs() error {
	if !bf.reportToStdout() {
		if err := checkWritable("-o", bf.output); err != nil {
			return err
		}
	}
	if bf.plot != "" {
		if err := checkWritable("-plot", bf.plot); err != nil {
			return err
		}
	}
	return bf.distinct()
}

// distinct refuses two of the output files (-o, -plot, -trace, and the
// more given) being one file: one would overwrite the other.
func (bf *benchFlags) distinct(more ...[2]string) error {
	outs := append([][2]string{{"-o", bf.output}, {"-plot", bf.plot}, {"-trace", bf.trace.String()}}, more...)
	for i, a := range outs {
		for _, b := range outs[i+1:] {
			if a[1] != "" && b[1] != "" && a[1] != "-" && b[1] != "-" && sameFile(a[1], b[1]) {
				return usagef("%s and %s both name %s: one would overwrite the other", a[0], b[0], b[1])
			}
		}
	}
	return nil
}

// checkWritable returns a usage error naming flagName when path cannot be
// opened for writing, and leaves path as it was: an existing file is
// opened without truncation, a new one is created and removed again.
func checkWritable(flagName, path string) error {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o666)
	if err != nil {
		return usagef("%s: %v", flagName, err)
	}
	f.Close()
	if errors.Is(statErr, os.ErrNotExist) {
		os.Remove(path)
	}
	return nil
}

// sameFile reports whether a and b name one file: the same path, or (when
// both exist) the same file under two names.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}

// backendSpec is a backend name with an optional ":walk" suffix: the
// simulator with its translation cache off, walking the tables in guest
// memory on every MSI.
type backendSpec struct {
	label string
	name  string
	walk  bool
}

func parseBackendSpec(flagName, s string) (backendSpec, error) {
	name, mode, hasMode := strings.Cut(s, ":")
	spec := backendSpec{label: s, name: name}
	if hasMode {
		if mode != "walk" {
			return spec, usagef("%s %q: want NAME or NAME:walk (translation cache off), NAME one of %s", flagName, s, backendList())
		}
		spec.walk = true
		spec.label = name + "-walk"
	}
	return spec, nil
}

// traceHeaderNote and traceNote say that -trace was on: every traced call
// is formatted and logged, which makes a run many times slower (measured
// on the sim's steady workload, traced to /dev/null: 0.33M to 0.47M
// LPIs/s with every event, 1.7M with -trace-events command, against 9M to
// 13M untraced; the wrapper's cost stays with the events filtered out).
// The first goes in the header, the second in the report.
const (
	traceHeaderNote = "itsbench: note: -trace is on: it makes the run many times slower (up to 30× on the sim), and its figures measure the tracing as much as the backend"
	traceNote       = "tracing (-trace) was on: it makes a run many times slower (on the sim's steady workload, about 30× tracing every event, 7× tracing only commands); these figures measure the tracing as much as the backend"
)

// execute opens spec's backend for w and runs w on it until it is done or
// ctx is cancelled (then the result is bench.Result.Partial). Before the
// run it writes the header to standard error: what runs, on what, with
// which workload, and whether -trace is on. While it runs it draws a
// progress line on standard error when that is a terminal and may be
// drawn on (e.stderrIsTerminal: not with -q; not while -trace writes
// there). run and compare share it.
func execute(ctx context.Context, e *env, spec backendSpec, w bench.Workload) (*bench.Result, error) {
	b, err := e.openBackend(spec.name, model.Config{CPUs: w.CPUs, NoTranslationCache: spec.walk})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	tracing := e.tracing.log != nil
	fmt.Fprintf(e.stderr, "itsbench: running workload %s on %s (%s): %s\n", w.Name, spec.label, b.Capabilities().Where, w.Describe())
	if tracing {
		fmt.Fprintln(e.stderr, traceHeaderNote)
	}
	opt := bench.Options{Label: spec.label}
	line := &progressLine{w: e.stderr, label: w.Name + " on " + spec.label}
	if e.stderrIsTerminal && !(tracing && e.tracing.closer == nil) {
		opt.Progress = line.draw
	}
	res, err := bench.Run(ctx, b, w, opt)
	line.clear()
	if err == nil && tracing {
		res.Notes = append(res.Notes, traceNote)
	}
	return res, err
}

// progressLine draws a run's progress on one terminal line, redrawn in
// place about four times a second:
//
//	steady on sim: 12.3s/30s, 151.20M LPIs, 12.31M/s, 0 failed, 0 unacked >1s
//
// elapsed time (of the duration), measured injections (of the count), the
// rate so far (the injectors report their counts in batches, so a rate
// between two drawings jumps on a slow backend), failed injections, and
// LPIs that a
// delivery made pending and no CPU has acknowledged for over
// bench.OverdueAfter: a lost delivery shows there first, while the
// report's lost count is the exact one (without consumers there is no such
// count). bench.Run calls draw from one goroutine and has stopped calling
// it when it returns, before clear.
type progressLine struct {
	w     io.Writer
	label string
	prev  bench.Progress
	drawn bool
}

func (l *progressLine) draw(p bench.Progress) {
	var b strings.Builder
	fmt.Fprintf(&b, "%v", p.Elapsed.Round(100*time.Millisecond))
	if p.Limit > 0 {
		fmt.Fprintf(&b, "/%v", p.Limit)
	}
	fmt.Fprintf(&b, ", %s", countSI(float64(p.Done)))
	if p.Total > 0 {
		fmt.Fprintf(&b, "/%s", countSI(float64(p.Total)))
	}
	b.WriteString(" LPIs")
	if s := p.Elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, ", %s/s", countSI(float64(p.Done)/s))
	}
	fmt.Fprintf(&b, ", %d failed", p.Failed)
	if p.Overdue >= 0 {
		fmt.Fprintf(&b, ", %d unacked >%v", p.Overdue, bench.OverdueAfter)
	}
	// A line longer than the terminal wraps, and \r goes back to its last
	// row only: every drawing would leave a line behind. The label gives
	// way first (to the workload's name, then to nothing), then the end.
	counts := b.String()
	w := terminalWidth() - 1
	line := counts
	for _, label := range []string{l.label, strings.Fields(l.label)[0]} {
		if n := utf8.RuneCountInString(label) + 2 + utf8.RuneCountInString(counts); n <= w {
			line = label + ": " + counts
			break
		}
	}
	if r := []rune(line); len(r) > w {
		line = string(r[:w])
	}
	io.WriteString(l.w, "\r"+line+"\x1b[K") // erase what a longer line left
	l.prev, l.drawn = p, true
}

// terminalWidth is the terminal's width in columns: $COLUMNS when the
// shell exports it, else the 80 a terminal has at least.
func terminalWidth() int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	return 80
}

// clear erases the progress line, if one was drawn.
func (l *progressLine) clear() {
	if l.drawn {
		io.WriteString(l.w, "\r\x1b[K")
	}
}

// countSI formats a count or rate with an SI prefix: 12.34M.
func countSI(v float64) string {
	for _, u := range []struct {
		scale  float64
		prefix string
	}{{1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.scale {
			return strconv.FormatFloat(v/u.scale, 'f', 2, 64) + u.prefix
		}
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// notifyInterrupt returns a context that the first SIGINT (Ctrl-C) or
// SIGTERM cancels, and the function that stops listening for them (and
// cancels it). Tests replace it to interrupt a run without a signal.
var notifyInterrupt = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// interruptible returns the context a benchmark command runs its runs in:
// SIGINT or SIGTERM cancels it, and the runs stop and return what they
// measured, marked partial (the command then reports them and ends with
// interrupted). Call stop once the runs are over, before writing the
// report: a signal after that kills the process the default way, as does
// a second one during the runs. run and compare share it.
func interruptible() (ctx context.Context, stop func()) {
	ctx, cancel := notifyInterrupt()
	context.AfterFunc(ctx, cancel) // stop listening at the first signal
	return ctx, cancel
}

// interrupted ends a command (name) whose runs a signal stopped, after its
// report was written: it prints what else went wrong (err, if any) and
// how far each partial run got, and returns the error that exits with
// status 130 (exitInterrupted). run and compare share it.
func interrupted(e *env, name string, err error, results ...*bench.Result) error {
	if err != nil {
		fmt.Fprintf(e.stderr, "itsbench %s: %v\n", name, err)
	}
	for _, r := range results {
		switch {
		case r.Partial:
			fmt.Fprintf(e.stderr, "itsbench %s: interrupted: %s stopped after %s; its report is of that part (partial)\n", name, r.Label, r.Extent())
		case len(results) == 1:
			fmt.Fprintf(e.stderr, "itsbench %s: interrupted after %s had run whole; its report is whole\n", name, r.Label)
		}
	}
	return &exitStatusError{exitInterrupted}
}

// memFlags are run's -memstats soak check and its parameters.
type memFlags struct {
	on              bool
	every, warmup   time.Duration
	maxHeap, maxSys float64
}

func (m *memFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&m.on, "memstats", false, "soak check: sample the Go runtime's memory (after a GC) and goroutines during the run, report the slope after the warm-up and exit 1 when it grows beyond -mem-max-heap-slope or -mem-max-sys-slope; needs a -duration that leaves 3 samples after the warm-up (docs/reliability.md)")
	fs.DurationVar(&m.every, "mem-every", 5*time.Second, "with -memstats: sampling interval")
	fs.DurationVar(&m.warmup, "mem-warmup", 30*time.Second, "with -memstats: the first part of the run, not fitted (sample buffers fill, caches settle)")
	fs.Float64Var(&m.maxHeap, "mem-max-heap-slope", 1<<20, "with -memstats: live-heap growth allowed after the warm-up, bytes per minute")
	fs.Float64Var(&m.maxSys, "mem-max-sys-slope", 4<<20, "with -memstats: Sys growth allowed after the warm-up, bytes per minute")
}

// check refuses, before the run, the -memstats flags that could give no
// verdict: a -mem-* flag without -memstats, a value out of range, and a
// run not bounded by time or too short for three samples after the
// warm-up (the fewest the slope is fitted from; the first sample is at
// the start, then one every -mem-every).
func (m *memFlags) check(fs *flag.FlagSet, w bench.Workload) error {
	if !m.on {
		var set []string
		fs.Visit(func(f *flag.Flag) {
			if strings.HasPrefix(f.Name, "mem-") {
				set = append(set, "-"+f.Name)
			}
		})
		if len(set) > 0 {
			return usagef("%s without -memstats: only -memstats samples the memory", strings.Join(set, ", "))
		}
		return nil
	}
	if m.every <= 0 || m.warmup < 0 || m.maxHeap <= 0 || m.maxSys <= 0 {
		return usagef("-mem-every must be positive, -mem-warmup not negative, -mem-max-heap-slope and -mem-max-sys-slope positive")
	}
	if w.Duration == 0 {
		return usagef("-memstats needs a run bounded by time: set -duration (workload %s is bounded by %s)", w.Name, lengthFlag(w))
	}
	firstAfter := (m.warmup + m.every - 1) / m.every * m.every
	if need := firstAfter + 2*m.every; w.Duration < need {
		return usagef("-memstats: -duration %v leaves too few samples after -mem-warmup %v, one every -mem-every %v: the slope needs 3, so -duration %v at least", w.Duration, m.warmup, m.every, need)
	}
	return nil
}

// lengthFlag names the flag that bounds w's length.
func lengthFlag(w bench.Workload) string {
	if w.Iterations > 0 {
		return fmt.Sprintf("-iterations %d", w.Iterations)
	}
	return fmt.Sprintf("-count %d", w.Count)
}

func runRun(e *env, args []string) error {
	fs := newFlagSet(e, "run", "[-backend NAME[:walk]] [-walk] [-workload NAME] [workload parameters] [-format F] [-o FILE|-] [-plot FILE.svg|.png] [-q] [-memstats [-mem-every D] [-mem-warmup D]]")
	backend := fs.String("backend", "sim", "backend to run on: "+backendList()+"; NAME:walk opens it with the translation cache off")
	addGuestFlags(fs)
	walk := fs.Bool("walk", false, "translation cache off: the simulator walks the tables in guest memory on every MSI")
	quiet := fs.Bool("q", false, "no progress line on a terminal (the header, at the start on standard error, and the report are still written)")
	var mem memFlags
	mem.register(fs)
	var bf benchFlags
	bf.register(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	w, err := bf.resolve()
	if err != nil {
		return err
	}
	spec, err := parseBackendSpec("-backend", *backend)
	if err != nil {
		return err
	}
	if *walk && !spec.walk {
		spec.walk, spec.label = true, spec.name+"-walk"
	}
	if err := mem.check(fs, w); err != nil {
		return err
	}
	if *quiet {
		e.stderrIsTerminal = false
	}
	res, memReport, stopped, err := runMeasured(e, spec, w, mem)
	if err != nil {
		return err
	}
	err = writeReport(e, &bf, []*bench.Result{res}, func(out io.Writer) error { return report.WriteTable(out, res) })
	if memReport != nil {
		err = errors.Join(err, memReport.WriteTable(e.stderr))
		if !res.Partial {
			err = errors.Join(err, memReport.Check())
		}
	}
	if res.Partial || stopped {
		return interrupted(e, "run", err, res)
	}
	return err
}

// runMeasured runs w on spec's backend, interruptible, with the memory
// sampled when mem.on; the signal handling ends with the run. stopped
// says a signal came, even if the run had ended whole by then.
func runMeasured(e *env, spec backendSpec, w bench.Workload, mem memFlags) (res *bench.Result, memReport *soak.MemReport, stopped bool, err error) {
	ctx, stop := interruptible()
	defer stop()
	var stopMem func() *soak.MemReport
	if mem.on {
		stopMem = soak.SampleMemory(mem.every, soak.MemLimits{Warmup: mem.warmup, MaxHeapSlope: mem.maxHeap, MaxSysSlope: mem.maxSys})
	}
	res, err = execute(ctx, e, spec, w)
	if stopMem != nil {
		memReport = stopMem()
	}
	return res, memReport, ctx.Err() != nil, err
}

// writeReport writes the results in the chosen format (table through
// writeTable) to standard output or the -o file, draws the plot, and
// turns a loss or failure into exit status 1 after everything is written.
func writeReport(e *env, bf *benchFlags, results []*bench.Result, writeTable func(io.Writer) error) error {
	out := e.stdout
	var file *os.File
	if !bf.reportToStdout() {
		f, err := os.Create(bf.output)
		if err != nil {
			return err
		}
		file, out = f, f
	}
	var err error
	switch bf.format {
	case "table":
		err = writeTable(out)
	case "csv":
		err = report.WriteCSV(out, results)
	case "json":
		err = report.WriteJSON(out, results)
	case "gobench":
		err = report.WriteGoBench(out, results)
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	if bf.plot != "" {
		if err := plot.Plot(results, bf.plot); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "plot written to %s\n", bf.plot)
	}
	var bad []error
	for _, r := range results {
		if !r.OK() {
			if bf.format != "table" || !bf.reportToStdout() {
				fmt.Fprintln(e.stderr, report.LossBanner(r))
			}
			bad = append(bad, fmt.Errorf("%s: %d lost, %d failed injections", r.Label, r.Counts.Lost, r.Counts.Failed))
		}
	}
	return errors.Join(bad...)
}
