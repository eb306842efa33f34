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
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "script",
		summary: "run .its scenario scripts (files or directories) and check their expectations",
		run:     runScript,
	})
}

const scriptUsage = `[-backend NAME] [-restore FILE] [-verbose] [-k] FILE|DIR...
(the .its language: docs/language.md)

Prints each file's failures and skips, then its verdict as it ends:
  PASS FILE (N passed, M skipped)
  FAIL FILE (N passed, F failed, M skipped)
  SKIP FILE: REASON      (not run, or every expectation it has skipped)
  ERROR FILE: N syntax errors, not run
and the total at the end. Exit status (docs/exit-status.md): 1 if anything
failed, else 5 if a file has syntax errors, else 4 if no file passed and
one was skipped (nothing was tested), else 0.`

func runScript(e *env, args []string) error {
	flags := newFlagSet(e, "script", scriptUsage)
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
	sr := scriptRun{w: e.stdout, k: knownOn(*backend), opts: script.Options{Backend: *backend, Wrap: e.traced, KeepGoing: *keepGoing}}
	if *restore != "" {
		st, err := loadState(*restore)
		if err != nil {
			return err
		}
		startFrom(st, &sr.opts)
	}
	if *verbose {
		sr.opts.Verbose = e.stdout
	}
	if sr.k.release != "" {
		fmt.Fprintf(e.stdout, "backend %s on Linux %s: failures the fidelity catalogue knows on %s are reported as known differences (docs/fidelity.md)\n", *backend, sr.k.release, sr.k.series)
	}
	var total tally
	for _, file := range files {
		f := sr.runFile(file)
		fmt.Fprintln(e.stdout, f.line(file))
		total.add(f)
	}
	fmt.Fprintln(e.stdout, total)
	return total.end(e)
}

// scriptRun is how the script command runs each file: where it prints,
// the kernel whose known differences it knows, and the runner's options.
type scriptRun struct {
	w    io.Writer
	k    known
	opts script.Options
}

// verdict is what came of one file, as kvm-unit-tests and TAP say it.
type verdict string

const (
	pass   verdict = "PASS"
	fail   verdict = "FAIL"  // an expectation failed, or the run did
	skip   verdict = "SKIP"  // not run, or every expectation it has was skipped
	broken verdict = "ERROR" // syntax errors: not run
)

// fileResult is one file's verdict and counts (of expectations, plus one
// failure for an action that failed unexpectedly).
type fileResult struct {
	verdict                        verdict
	passed, failed, known, skipped int
	notRun                         int    // expectations after a failure that ended the run
	syntaxErrors                   int    // lines that do not parse
	reason                         string // why a SKIP was skipped
}

// runFile parses and runs one file, printing its failures and skips.
func (sr scriptRun) runFile(file string) fileResult {
	s, err := script.ParseFile(file)
	var syntax *script.Error
	switch {
	case errors.As(err, &syntax):
		lines := strings.Split(err.Error(), "\n") // one per bad line
		for _, l := range lines {
			fmt.Fprintln(sr.w, l)
		}
		return fileResult{verdict: broken, syntaxErrors: len(lines)}
	case err != nil:
		fmt.Fprintf(sr.w, "%s: %v\n", file, err)
		return fileResult{verdict: fail, failed: 1}
	}
	if entry, ok := sr.k.crashing(s); ok {
		return fileResult{verdict: skip, skipped: s.Expectations(),
			reason: fmt.Sprintf("not run: it crashes Linux %s (docs/fidelity.md#%s); GICITS_RUN_CRASHING=1 runs it", sr.k.release, entry.ID)}
	}
	return sr.report(file, s, script.Run(s, sr.opts))
}

// report prints res's failures (a failure the catalogue knows on this
// kernel as a known difference), the expectations not run and the skips,
// and returns the file's verdict and counts.
func (sr scriptRun) report(file string, s *script.Script, res *script.Result) fileResult {
	f := fileResult{passed: res.Passed, skipped: res.Skipped, notRun: res.NotRun}
	knownAbort := false
	for _, fl := range res.Failures {
		entry, ok := sr.k.entry(s, fl.Pos.Line)
		knownAbort = ok
		if ok {
			fmt.Fprintf(sr.w, "%v (known difference %s on Linux %s: docs/fidelity.md#%s)\n", fl, entry.ID, sr.k.release, entry.ID)
			f.known++
			continue
		}
		fmt.Fprintln(sr.w, fl)
		f.failed++
	}
	if res.NotRun > 0 {
		why := "the failure"
		if knownAbort {
			why = "the known difference"
		}
		fmt.Fprintf(sr.w, "%s: %d expectations not run after %s\n", file, res.NotRun, why)
	}
	for _, sk := range res.Skips {
		fmt.Fprintln(sr.w, sk)
	}
	f.verdict, f.reason = judge(f, res)
	return f
}

// judge gives a file that ran its verdict: FAIL if anything failed (not as
// a known difference); SKIP if the backend refused the whole file, or
// skipped every expectation and nothing passed or failed as a known
// difference; PASS otherwise, a file without expectations too (its
// actions ran without an unexpected error).
func judge(f fileResult, res *script.Result) (verdict, string) {
	switch {
	case f.failed > 0:
		return fail, ""
	case res.SkipReason != "":
		return skip, res.SkipReason
	case f.skipped > 0 && f.passed == 0 && f.known == 0:
		return skip, skipReason(res.Skips, f.skipped)
	}
	return pass, ""
}

// skipReason says why every expectation of a file was skipped: the reason
// they share, or how many reasons there are.
func skipReason(skips []script.Skip, n int) string {
	reasons := map[string]bool{}
	for _, sk := range skips {
		reasons[sk.Reason] = true
	}
	if len(reasons) == 1 {
		return fmt.Sprintf("all %d expectations skipped: %s", n, skips[0].Reason)
	}
	return fmt.Sprintf("all %d expectations skipped, for %d reasons (above)", n, len(reasons))
}

// line is the file's verdict line.
func (f fileResult) line(file string) string {
	switch f.verdict {
	case skip:
		return fmt.Sprintf("SKIP %s: %s", file, f.reason)
	case broken:
		return fmt.Sprintf("ERROR %s: %s, not run", file, plural(f.syntaxErrors, "syntax error"))
	}
	counts := fmt.Sprintf("%d passed", f.passed)
	if f.verdict == fail {
		counts += fmt.Sprintf(", %d failed", f.failed)
	}
	counts += fmt.Sprintf(", %d skipped", f.skipped)
	if f.known > 0 {
		counts += fmt.Sprintf(", %s", plural(f.known, "known difference"))
	}
	if f.notRun > 0 {
		counts += fmt.Sprintf(", %d not run", f.notRun)
	}
	return fmt.Sprintf("%s %s (%s)", f.verdict, file, counts)
}

// plural is "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// tally counts a script command's expectations, and its files by verdict.
type tally struct {
	passed, failed, known, skipped int
	files                          map[verdict]int
}

func (t *tally) add(f fileResult) {
	t.passed += f.passed
	t.failed += f.failed
	t.known += f.known
	t.skipped += f.skipped
	if t.files == nil {
		t.files = map[verdict]int{}
	}
	t.files[f.verdict]++
}

func (t tally) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", t.passed, t.failed, t.skipped)
	if t.known > 0 {
		s += fmt.Sprintf(", %d known differences", t.known)
	}
	if n := t.files[broken]; n > 0 {
		s += fmt.Sprintf(", %s with syntax errors", plural(n, "file"))
	}
	return s
}

// end returns what the command ends with, by the files' verdicts, the
// most serious first (docs/exit-status.md): a failure (exit 1); syntax
// errors (exit 5); no file passed and one was skipped, so nothing was
// tested (exit 4); else nil (exit 0).
func (t tally) end(e *env) error {
	syntax := ""
	if n := t.files[broken]; n > 0 {
		syntax = fmt.Sprintf("%s with syntax errors, not run (the .its language: docs/language.md)", plural(n, "file"))
	}
	switch {
	case t.files[fail] > 0 && syntax != "":
		return errors.New("some expectations failed, and " + syntax)
	case t.files[fail] > 0:
		return errScriptFailed
	case syntax != "":
		fmt.Fprintf(e.stderr, "itsbench script: %s\n", syntax)
		return &exitStatusError{exitSyntax}
	case t.files[pass] == 0 && t.files[skip] > 0:
		fmt.Fprintf(e.stderr, "itsbench script: every file was skipped: nothing was tested (exit status %d)\n", exitSkipped)
		return &exitStatusError{exitSkipped}
	}
	return nil
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

// errScriptFailed makes the command exit 1 with a short message: the
// failures are printed above it.
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
