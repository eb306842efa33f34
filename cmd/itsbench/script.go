package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gicits/gicits/internal/fidelity/entries"
	"github.com/gicits/gicits/savedstate"
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "script",
		summary: "run .its scenario scripts (files or directories) and check their expectations",
		run:     runScript,
	})
}

func runScript(e *env, args []string) error {
	flags := newFlagSet(e, "script", "[-backend NAME] [-restore FILE] [-verbose] [-k] FILE|DIR...\n(the .its language: docs/language.md)")
	backend := flags.String("backend", "sim", "backend to run on: "+backendList())
	addGuestFlags(flags)
	restore := flags.String("restore", "", "start every scenario from the saved-state `FILE` (written by state -save on any backend)")
	// Not -v, which is run's and compare's number of vCPUs (the selftest's
	// -v/-d/-e/-i).
	verbose := flags.Bool("verbose", false, "print each statement and its effect as it runs")
	keepGoing := flags.Bool("k", false, "keep going after an unexpected error: report it as a failure and run the rest of the script")
	if err := parseFlags(flags, args, true); err != nil {
		return err
	}
	if flags.NArg() == 0 {
		return usagef("want at least one .its file or directory")
	}
	if !slices.Contains(backendNames(), *backend) {
		return usagef("-backend %q: want one of %s", *backend, backendList())
	}
	files, err := scriptFiles(flags.Args())
	if err != nil {
		return usagef("%v", err)
	}
	var st *savedstate.State
	if *restore != "" {
		if st, err = loadState(*restore); err != nil {
			return err
		}
	}
	k := knownOn(*backend)
	if k.release != "" {
		fmt.Fprintf(e.stdout, "backend %s on Linux %s: failures the fidelity catalogue knows on %s are reported as known differences (docs/fidelity.md)\n", *backend, k.release, k.series)
	}
	var t tally
	for _, file := range files {
		s, err := script.ParseFile(file)
		if err != nil {
			// Parse errors are failures of the script, one per bad line.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				fmt.Fprintln(e.stdout, line)
			}
			t.failed++
			continue
		}
		if entry, ok := k.crashing(s); ok {
			fmt.Fprintf(e.stdout, "%s: not run: it crashes Linux %s (docs/fidelity.md#%s); GICITS_RUN_CRASHING=1 runs it\n", file, k.release, entry.ID)
			t.skipped++
			continue
		}
		opts := script.Options{Backend: *backend, Wrap: e.traced, KeepGoing: *keepGoing}
		if st != nil {
			startFrom(st, &opts)
		}
		if *verbose {
			opts.Verbose = e.stdout
		}
		t.add(e.stdout, file, s, script.Run(s, opts), k)
	}
	fmt.Fprintln(e.stdout, t)
	if t.failed > 0 {
		return errScriptFailed
	}
	return nil
}

// tally counts a script command's expectations.
type tally struct{ passed, failed, known, skipped int }

func (t tally) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", t.passed, t.failed, t.skipped)
	if t.known > 0 {
		s += fmt.Sprintf(", %d known differences", t.known)
	}
	return s
}

// add prints res's failures (a failure the catalogue knows on this kernel
// as a known difference), the expectations not run and the skips, and
// counts them.
func (t *tally) add(w io.Writer, file string, s *script.Script, res *script.Result, k known) {
	knownAbort := false
	for _, f := range res.Failures {
		entry, ok := k.entry(s, f.Pos.Line)
		knownAbort = ok
		if ok {
			fmt.Fprintf(w, "%v (known difference %s on Linux %s: docs/fidelity.md#%s)\n", f, entry.ID, k.release, entry.ID)
			t.known++
			continue
		}
		fmt.Fprintln(w, f)
		t.failed++
	}
	if res.NotRun > 0 {
		why := "the failure"
		if knownAbort {
			why = "the known difference"
		}
		fmt.Fprintf(w, "%s: %d expectations not run after %s\n", file, res.NotRun, why)
	}
	for _, sk := range res.Skips {
		fmt.Fprintln(w, sk)
	}
	t.passed += res.Passed
	t.skipped += res.Skipped
}

// known is the kernel a kvm backend runs on, to look failures up in the
// fidelity catalogue; its zero value (the sim) knows nothing.
type known struct{ release, series string }

func knownOn(backend string) known {
	if backend != "kvm" {
		return known{}
	}
	r := entries.RunningKernel()
	return known{release: r, series: entries.Series(r)}
}

// entry returns the catalogue entry an expectation at line of s names
// (kvm=) that shows on this kernel.
func (k known) entry(s *script.Script, line int) (*entries.Entry, bool) {
	if k.release == "" {
		return nil, false
	}
	return entries.Showing(entries.Annotated(s, line), k.series)
}

// crashing returns an entry s names that crashes this kernel: s is not
// run here unless GICITS_RUN_CRASHING=1.
func (k known) crashing(s *script.Script) (*entries.Entry, bool) {
	if k.release == "" || os.Getenv("GICITS_RUN_CRASHING") == "1" {
		return nil, false
	}
	return entries.Crashing(s, k.series)
}

// errScriptFailed makes the command exit 1 without a further message: the
// failures are already printed.
var errScriptFailed = errors.New("some expectations failed")

func backendNames() []string {
	return strings.Split(backendList(), ", ")
}

// scriptFiles expands directories into the .its files below them, sorted.
func scriptFiles(args []string) ([]string, error) {
	var files []string
	for _, a := range args {
		fi, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, a)
			continue
		}
		err = filepath.WalkDir(a, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".its") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .its files in %s", strings.Join(args, " "))
	}
	return files, nil
}
