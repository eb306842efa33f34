package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/plot"
	"github.com/gicits/gicits/bench/report"
	"github.com/gicits/gicits/model"
)

func init() {
	register(&command{
		name:    "compare",
		summary: "run one workload on two backends, several runs of each interleaved, and compare them with ratios and a test",
		run:     runCompare,
	})
}

// emulationNote is printed whenever a side of the comparison ran on
// emulated CPUs (its backend's Capabilities.Emulated): KVM nested under
// QEMU's TCG, as on this project's x86-64 hosts.
const emulationNote = "note: kvm runs inside QEMU's emulation here (nested TCG): its absolute times mean nothing; only ratios between runs taken there do"

// defaultRuns is compare's -runs: 5 against 5 is the fewest equal numbers
// of runs whose exact Mann–Whitney test reaches p < 0.05 with room to
// spare (the smallest p it can give is 2/252 ≈ 0.008; 4 against 4 gives
// 2/70 ≈ 0.03, 3 against 3 never below 0.1).
const defaultRuns = 5

// compareSide is one side of a compare: its flag, its backend as the user
// wrote it and as parsed.
type compareSide struct {
	flag, raw string
	spec      backendSpec
}

// inGuest reports whether the side runs in the arm64 guest: a kvm backend
// on a host without arm64 KVM.
func (s compareSide) inGuest() bool { return s.spec.name == "kvm" && !nativeKVM() }

func runCompare(e *env, args []string) error {
	fs := newFlagSet(e, "compare", "-a NAME[:walk] -b NAME[:walk] [-runs N] [-workload NAME] [workload parameters] [-format F] [-o FILE|-] [-gobench-a FILE -gobench-b FILE] [-plot FILE.svg|.png] [-q]")
	a := fs.String("a", "sim", "baseline backend: "+backendList()+"; NAME:walk opens it with the translation cache off")
	b := fs.String("b", "sim:walk", "backend compared with the baseline")
	runs := fs.Int("runs", defaultRuns, "runs of each side, interleaved A B B A A B ...; the test compares the runs' values, so 4 or more runs a side are needed for any result significant at 0.05")
	var gobench [2]string
	fs.StringVar(&gobench[0], "gobench-a", "", "also write -a's runs in Go's benchmark format to `FILE`, for benchstat A-FILE B-FILE")
	fs.StringVar(&gobench[1], "gobench-b", "", "also write -b's runs in Go's benchmark format to `FILE`")
	quiet := fs.Bool("q", false, "no progress line on a terminal (each run's header on standard error, and the report, are still written)")
	sideRuns := fs.String("side-runs", "", "run only -a's side, -runs times, and write the runs with their samples to `FILE` as JSON: how compare runs a kvm side in the arm64 guest on a host without arm64 KVM")
	addGuestFlags(fs)
	var bf benchFlags
	bf.register(fs)
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	w, err := bf.resolve()
	if err != nil {
		return err
	}
	if *runs < 1 {
		return usagef("-runs %d: want 1 or more runs of each side (%d by default)", *runs, defaultRuns)
	}
	if err := checkGoBenchFiles(&bf, gobench); err != nil {
		return err
	}
	if *quiet {
		e.stderrIsTerminal = false
	}
	sideA, err := newCompareSide("-a", *a)
	if err != nil {
		return err
	}
	if *sideRuns != "" {
		return writeSideRuns(e, sideA.spec, w, *runs, *sideRuns)
	}
	sideB, err := newCompareSide("-b", *b)
	if err != nil {
		return err
	}
	if sideA.spec.label == sideB.spec.label {
		sideB.spec.label += "-b"
	}
	if err := checkSidesOpen([2]compareSide{sideA, sideB}, w); err != nil {
		return err
	}
	ctx, stop := interruptible()
	all, cmp, err := runSides(ctx, e, fs, args, w, *runs, [2]compareSide{sideA, sideB})
	stopped := ctx.Err() != nil // before stop, which cancels ctx
	stop()
	switch {
	case err != nil:
		return err
	case len(cmp.A) == 0 || len(cmp.B) == 0: // stopped before both sides had a whole run
		fmt.Fprintln(e.stderr, "itsbench compare: interrupted before each side had a whole run: nothing to compare")
		return interrupted(e, "compare", nil, all...)
	}
	// The report first: a gobench file that cannot be written loses
	// nothing else. Both errors, if any, are returned.
	whole := baselineFirst(slices.DeleteFunc(slices.Clone(all), func(r *bench.Result) bool { return r.Partial }), cmp.A[0].Label)
	err = writeComparison(e, &bf, whole, cmp)
	err = errors.Join(err, writeGoBenchFiles(gobench, cmp))
	if stopped {
		return interrupted(e, "compare", err, all...)
	}
	return err
}

// errStopped says a signal stopped a compare's runs before the next run
// began.
var errStopped = errors.New("stopped by a signal")

// checkGoBenchFiles refuses, before any run, -gobench-a and -gobench-b
// files that cannot be written, standard output (-), one file for both
// sides, and a file another output flag names too.
func checkGoBenchFiles(bf *benchFlags, files [2]string) error {
	for i, f := range files {
		switch {
		case f == "":
			continue
		case f == "-":
			return usagef("-gobench-%s -: want a file name (standard output carries the report)", "ab"[i:i+1])
		}
		if err := checkWritable("-gobench-"+"ab"[i:i+1], f); err != nil {
			return err
		}
	}
	if files[0] != "" && files[0] == files[1] {
		return usagef("-gobench-a and -gobench-b are both %s: benchstat compares two files", files[0])
	}
	return bf.distinct([2]string{"-gobench-a", files[0]}, [2]string{"-gobench-b", files[1]})
}

// writeGoBenchFiles writes each side's runs to its -gobench-a or -gobench-b
// file, without the backend in the benchmarks' names, so that benchstat
// A-FILE B-FILE compares them with no flag.
func writeGoBenchFiles(files [2]string, cmp report.Comparison) error {
	for i, runs := range [][]*bench.Result{cmp.A, cmp.B} {
		if files[i] == "" {
			continue
		}
		f, err := os.Create(files[i])
		if err != nil {
			return err
		}
		err = report.WriteGoBenchSide(f, runs)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkSidesOpen opens and closes, before any run, each side that runs
// here, so that a side that cannot open (an unknown backend, kvm where
// /dev/kvm refuses) fails at once, not after the other side's first run.
// A side for the guest is checked when the guest is prepared.
func checkSidesOpen(sides [2]compareSide, w bench.Workload) error {
	for _, s := range sides {
		if s.inGuest() {
			continue
		}
		b, err := model.Open(s.spec.name, model.Config{CPUs: w.CPUs, NoTranslationCache: s.spec.walk})
		switch {
		case errors.Is(err, model.ErrUnknownBackend):
			return usagef("%s: %v", s.flag, err)
		case err != nil:
			return fmt.Errorf("%s %s: %w", s.flag, s.raw, err)
		}
		b.Close()
	}
	return nil
}

func newCompareSide(flagName, raw string) (compareSide, error) {
	spec, err := parseBackendSpec(flagName, raw)
	return compareSide{flag: flagName, raw: raw, spec: spec}, err
}

// runSides runs n runs of each side, interleaved when both run here, and
// returns every run in the order they ran and the comparison of B's whole
// runs with A's. When ctx is cancelled (SIGINT) the runs stop: the one
// running returns partial, no other starts, and the comparison is of the
// whole runs made, its order saying so (it may lack a side).
func runSides(ctx context.Context, e *env, fs *flag.FlagSet, args []string, w bench.Workload, n int, sides [2]compareSide) ([]*bench.Result, report.Comparison, error) {
	guestSide := -1
	for i, s := range sides {
		if s.inGuest() {
			guestSide = i
			if _, status := guestOf(e, fs); status != exitOK {
				return nil, report.Comparison{}, &exitStatusError{status}
			}
		}
	}
	here := func(side int) (*bench.Result, error) {
		if ctx.Err() != nil {
			return nil, errStopped
		}
		return execute(ctx, e, sides[side].spec, w)
	}
	var all []*bench.Result
	var order string
	var err error
	if guestSide < 0 {
		all, order, err = interleave(n, here)
	} else {
		inGuest := func() ([]*bench.Result, error) {
			if ctx.Err() != nil {
				return nil, errStopped // no boot after a Ctrl-C
			}
			s := sides[guestSide]
			return compareSideRunsInGuest(e, fs, args, s.flag, s.spec, s.raw, n)
		}
		all, order, err = bracketGuest(n, 1-guestSide, here, inGuest)
	}
	if err != nil && !errors.Is(err, errStopped) {
		return nil, report.Comparison{}, err
	}
	var whole [2][]*bench.Result
	for _, r := range all {
		if !r.Partial {
			side := 0
			if r.Label == sides[1].spec.label {
				side = 1
			}
			whole[side] = append(whole[side], r)
		}
	}
	if guestSide >= 0 {
		noteHostSide(whole[:])
	}
	if ctx.Err() != nil {
		order += fmt.Sprintf("; stopped by a signal after %d of %d runs had started, only whole runs compared", len(all), 2*n)
	}
	if len(whole[0]) == 0 || len(whole[1]) == 0 {
		return all, report.Comparison{A: whole[0], B: whole[1]}, nil
	}
	cmp := report.CompareRuns(whole[0], whole[1])
	cmp.Order = order
	return all, cmp, nil
}

// interleave makes n runs of each side (0 is A, 1 is B) with run, in the
// order A B B A A B B A ...: each pair of runs has one of each side, and
// the pairs alternate which goes first, so a steady drift of the machine
// over time (it warms up, its load changes) favours neither side; in
// A B A B ... B would always run a little later than A. It returns the
// runs in the order they ran, and that order in words; after an error, the
// runs made before it.
func interleave(n int, run func(side int) (*bench.Result, error)) ([]*bench.Result, string, error) {
	var all []*bench.Result
	var letters []string
	for pair := range n {
		first := pair % 2 // A first in even pairs, B first in odd ones
		for _, side := range []int{first, 1 - first} {
			r, err := run(side)
			if err != nil {
				return all, "interleaved in this process: " + strings.Join(letters, " "), err
			}
			all = append(all, r)
			letters = append(letters, "AB"[side:side+1])
		}
	}
	return all, "interleaved in this process: " + strings.Join(letters, " "), nil
}

// bracketGuest makes n runs of each side when one side runs in the arm64
// guest: the guest boots once for all n of its runs (a boot takes
// seconds, and each boot's machine differs), so runs cannot alternate one
// by one; instead the host side's runs bracket the guest's in time,
// ⌈n/2⌉ of them before the boot and ⌊n/2⌋ after, so that a drift of the
// host over the guest's time moves both halves. hostSide is 0 (A) or 1
// (B). It returns the runs in the order they ran, and that order in words;
// after an error, the runs made before it.
func bracketGuest(n, hostSide int, here func(side int) (*bench.Result, error), inGuest func() ([]*bench.Result, error)) ([]*bench.Result, string, error) {
	var all []*bench.Result
	hostRuns := func(k int) error {
		for range k {
			r, err := here(hostSide)
			if err != nil {
				return err
			}
			all = append(all, r)
		}
		return nil
	}
	before, after := (n+1)/2, n/2
	host, guest := "AB"[hostSide:hostSide+1], "AB"[1-hostSide:2-hostSide]
	order := fmt.Sprintf("on two machines, so not interleaved run by run: %s here, then %s in one boot of the arm64 guest",
		runsOf(before, host, false), runsOf(n, guest, false))
	if after > 0 {
		order += fmt.Sprintf(", then %s here", runsOf(after, host, true))
	}
	if err := hostRuns(before); err != nil {
		return all, order, err
	}
	guestRuns, err := inGuest()
	if err != nil {
		return all, order, err
	}
	all = append(all, guestRuns...)
	return all, order, hostRuns(after)
}

// runsOf says "1 run of A", "3 runs of A", with more before run when
// more is set.
func runsOf(n int, side string, more bool) string {
	s := strconv.Itoa(n)
	if more {
		s += " more"
	}
	if n == 1 {
		return s + " run of " + side
	}
	return s + " runs of " + side
}

// noteHostSide adds to the Where of the side that ran here that the other
// ran in the guest.
func noteHostSide(byLabel [][]*bench.Result) {
	for _, runs := range byLabel {
		for _, r := range runs {
			if r.Backend != "kvm" {
				r.Where += fmt.Sprintf(", on this host (%s/%s); the kvm side ran in the arm64 QEMU guest", runtime.GOOS, runtime.GOARCH)
			}
		}
	}
}

// writeComparison writes the report of the runs compared (all, in the
// order they ran) with cmp's table, and plots each side's runs pooled.
func writeComparison(e *env, bf *benchFlags, all []*bench.Result, cmp report.Comparison) error {
	emulated := false
	for _, r := range all {
		emulated = emulated || r.Emulated
	}
	if emulated {
		for _, r := range cmp.A {
			r.Notes = append(r.Notes, emulationNote[len("note: "):])
		}
	}
	plotFile := bf.plot
	bf.plot = "" // writeReport would draw every run; the plot draws each side pooled
	err := writeReport(e, bf, all, func(out io.Writer) error {
		if err := cmp.WriteTable(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
		for _, side := range [][]*bench.Result{cmp.A, cmp.B} {
			fmt.Fprintf(out, "%s ran %s\n", side[0].Label, side[0].Where)
		}
		if emulated {
			fmt.Fprintln(out, "\n"+emulationNote)
		}
		return nil
	})
	if plotFile == "" {
		return err
	}
	if perr := plot.Plot([]*bench.Result{report.Pool(cmp.A), report.Pool(cmp.B)}, plotFile); perr != nil {
		return perr
	}
	fmt.Fprintf(e.stderr, "plot written to %s (each side's runs pooled)\n", plotFile)
	return err
}

// sideRunsDoc is the document -side-runs writes: the runs of one side,
// each with its samples.
type sideRunsDoc struct {
	Runs []resultExchange `json:"runs"`
}

// writeSideRuns makes n runs of spec and writes them to file as a
// sideRunsDoc: the guest's half of a compare whose other side runs on the
// host. Losses are the host's to report, with the rest of the compare.
func writeSideRuns(e *env, spec backendSpec, w bench.Workload, n int, file string) error {
	if file == "-" {
		return usagef("-side-runs -: want a file name (it is compare's exchange with its guest, not a report)")
	}
	if err := checkWritable("-side-runs", file); err != nil {
		return err
	}
	var doc sideRunsDoc
	for range n {
		r, err := execute(context.Background(), e, spec, w)
		if err != nil {
			return err
		}
		doc.Runs = append(doc.Runs, resultExchange{Result: r, CallSamples: r.CallSamples, EndToEndSamples: r.EndToEndSamples})
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(f).Encode(doc); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// compareSideRunsInGuest makes the n runs of one side of a compare (spec,
// as the user wrote it in raw) in the arm64 guest, in one boot, with the
// workload of the command line, and returns them labelled as here.
func compareSideRunsInGuest(e *env, fs *flag.FlagSet, args []string, flagName string, spec backendSpec, raw string, n int) ([]*bench.Result, error) {
	g, status := guestOf(e, fs)
	if status != exitOK {
		return nil, &exitStatusError{status}
	}
	tmp, err := os.MkdirTemp("", "itsbench-guest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "runs.json")
	// The command line's own -runs, if any, comes later among the workload
	// arguments, with the same value.
	guestArgs := append([]string{"compare", "-a", raw, "-runs", strconv.Itoa(n), "-side-runs", out}, workloadArgs(fs, args)...)
	if fs.Lookup("trace").Value.String() != "" {
		fmt.Fprintf(e.stderr, "itsbench compare: note: -trace traces the side that runs here; the %s side in the guest is not traced\n", raw)
	}
	switch status := g.run(e, guestArgs, nil, []string{out}); status {
	case exitOK:
	case exitInterrupted:
		return nil, &exitStatusError{status}
	default:
		return nil, fmt.Errorf("%s %s: the runs in the guest exited with status %d", flagName, raw, status)
	}
	return readSideRuns(out, spec.label, n)
}

// readSideRuns reads the n runs a guest wrote with -side-runs, labelled
// label.
func readSideRuns(file, label string, n int) ([]*bench.Result, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading the guest's runs: %w", err)
	}
	var doc sideRunsDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("the guest's runs %s are not a runs document: %v", file, err)
	}
	if len(doc.Runs) != n {
		return nil, fmt.Errorf("the guest's runs %s: %d runs, want %d", file, len(doc.Runs), n)
	}
	var runs []*bench.Result
	for i, x := range doc.Runs {
		if x.Result == nil {
			return nil, fmt.Errorf("the guest's runs %s: run %d has no result", file, i+1)
		}
		x.Result.CallSamples, x.Result.EndToEndSamples = x.CallSamples, x.EndToEndSamples
		x.Result.Label = label
		runs = append(runs, x.Result)
	}
	return runs, nil
}

// baselineFirst returns runs with A's (labelled a) first, each side's in
// the order they ran: the writers (JSON, CSV) take the first label for
// the baseline, and B runs first when A runs in the guest.
func baselineFirst(runs []*bench.Result, a string) []*bench.Result {
	slices.SortStableFunc(runs, func(x, y *bench.Result) int {
		switch {
		case x.Label == y.Label || x.Label != a && y.Label != a:
			return 0
		case x.Label == a:
			return -1
		}
		return 1
	})
	return runs
}
