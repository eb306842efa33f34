package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

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
}

var formats = []string{"table", "csv", "json", "gobench"}

func (bf *benchFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&bf.workload, "workload", bench.DefaultWorkload, "workload: "+strings.Join(bench.BuiltinNames(), ", ")+" (itsbench list shows their parameters)")
	fs.StringVar(&bf.format, "format", "table", "output format: "+strings.Join(formats, ", "))
	fs.StringVar(&bf.output, "o", "", "write the report to `FILE` instead of standard output")
	fs.StringVar(&bf.plot, "plot", "", "draw latency CDFs and a histogram into `FILE`.svg or FILE.png")
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
// or a usage error naming what is wrong and what is accepted.
func (bf *benchFlags) resolve() (bench.Workload, error) {
	if !slices.Contains(formats, bf.format) && bf.format != resultFormat {
		return bench.Workload{}, usagef("-format %q: want one of %s", bf.format, strings.Join(formats, ", "))
	}
	if bf.plot != "" && !strings.HasSuffix(bf.plot, ".svg") && !strings.HasSuffix(bf.plot, ".png") {
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
		return w, nil
	case errors.Is(err, bench.ErrSeveralLengths):
		return w, usagef("set only one of -count, -iterations (-i) and -duration")
	case errors.As(err, &invalid):
		return w, usagef("%v", err)
	}
	return w, usagef("-%v", err) // a *bench.ParamError: a flag's value did not parse
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

// execute opens spec's backend for w and runs w on it.
func execute(ctx context.Context, e *env, spec backendSpec, w bench.Workload) (*bench.Result, error) {
	b, err := e.openBackend(spec.name, model.Config{CPUs: w.CPUs, NoTranslationCache: spec.walk})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	opt := bench.Options{Label: spec.label}
	var drew bool
	if e.stderrIsTerminal {
		opt.Progress = func(p bench.Progress) {
			if p.Elapsed < 2*time.Second {
				return
			}
			drew = true
			switch {
			case p.Total > 0:
				fmt.Fprintf(e.stderr, "\r%s %s: %d/%d injections (%.0f%%), %v\x1b[K", spec.label, w.Name, p.Done, p.Total, 100*float64(p.Done)/float64(p.Total), p.Elapsed.Round(time.Second))
			default:
				fmt.Fprintf(e.stderr, "\r%s %s: %d injections, %v of %v\x1b[K", spec.label, w.Name, p.Done, p.Elapsed.Round(time.Second), p.Limit)
			}
		}
	}
	res, err := bench.Run(ctx, b, w, opt)
	if drew {
		fmt.Fprint(e.stderr, "\r\x1b[K")
	}
	return res, err
}

func runRun(e *env, args []string) error {
	fs := newFlagSet(e, "run", "[-backend NAME[:walk]] [-walk] [-workload NAME] [workload parameters] [-format F] [-o FILE] [-plot FILE.svg|.png] [-memstats [-mem-every D] [-mem-warmup D]]")
	backend := fs.String("backend", "sim", "backend to run on: "+backendList()+"; NAME:walk opens it with the translation cache off")
	addGuestFlags(fs)
	walk := fs.Bool("walk", false, "translation cache off: the simulator walks the tables in guest memory on every MSI")
	memstats := fs.Bool("memstats", false, "soak check: sample the Go runtime's memory (after a GC) and goroutines during the run, report the slope after the warm-up and exit 1 when it grows beyond -mem-max-heap-slope or -mem-max-sys-slope (docs/reliability.md)")
	memEvery := fs.Duration("mem-every", 5*time.Second, "with -memstats: sampling interval")
	memWarmup := fs.Duration("mem-warmup", 30*time.Second, "with -memstats: the first part of the run, not fitted (sample buffers fill, caches settle)")
	memHeap := fs.Float64("mem-max-heap-slope", 1<<20, "with -memstats: live-heap growth allowed after the warm-up, bytes per minute")
	memSys := fs.Float64("mem-max-sys-slope", 4<<20, "with -memstats: Sys growth allowed after the warm-up, bytes per minute")
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
	if *memstats && (*memEvery <= 0 || *memWarmup < 0 || *memHeap <= 0 || *memSys <= 0) {
		return usagef("-mem-every must be positive, -mem-warmup not negative, -mem-max-heap-slope and -mem-max-sys-slope positive")
	}
	var stopMem func() *soak.MemReport
	if *memstats {
		stopMem = soak.SampleMemory(*memEvery, soak.MemLimits{Warmup: *memWarmup, MaxHeapSlope: *memHeap, MaxSysSlope: *memSys})
	}
	res, err := execute(context.Background(), e, spec, w)
	var mem *soak.MemReport
	if stopMem != nil {
		mem = stopMem()
	}
	if err != nil {
		return err
	}
	err = writeReport(e, &bf, []*bench.Result{res}, func(out io.Writer) error { return report.WriteTable(out, res) })
	if mem == nil {
		return err
	}
	if werr := mem.WriteTable(e.stderr); werr != nil {
		return errors.Join(err, werr)
	}
	return errors.Join(err, mem.Check())
}

// writeReport writes the results in the chosen format (table through
// writeTable), draws the plot, and turns a loss or failure into exit
// status 1 after everything is written.
func writeReport(e *env, bf *benchFlags, results []*bench.Result, writeTable func(io.Writer) error) error {
	out := e.stdout
	var file *os.File
	if bf.output != "" {
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
	case resultFormat:
		err = writeResultExchange(out, results)
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
			if bf.format != "table" || bf.output != "" {
				fmt.Fprintln(e.stderr, report.LossBanner(r))
			}
			bad = append(bad, fmt.Errorf("%s: %d lost, %d failed injections", r.Label, r.Counts.Lost, r.Counts.Failed))
		}
	}
	return errors.Join(bad...)
}
