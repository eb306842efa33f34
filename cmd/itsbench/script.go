package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
	flags := newFlagSet(e, "script", "[-backend NAME] [-restore FILE] [-v] FILE|DIR...")
	backend := flags.String("backend", "sim", "backend to run on: "+backendList())
	restore := flags.String("restore", "", "start every scenario from the saved-state `FILE` (written by state -save on any backend)")
	verbose := flags.Bool("v", false, "print each statement and its effect as it runs")
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
	var passed, failed, skipped int
	for _, file := range files {
		s, err := script.ParseFile(file)
		if err != nil {
			// Parse errors are failures of the script, one per bad line.
			for line := range strings.SplitSeq(err.Error(), "\n") {
				fmt.Fprintln(e.stdout, line)
			}
			failed++
			continue
		}
		opts := script.Options{Backend: *backend, Wrap: e.traced}
		if st != nil {
			startFrom(st, &opts)
		}
		if *verbose {
			opts.Verbose = e.stdout
		}
		res := script.Run(s, opts)
		for _, f := range res.Failures {
			fmt.Fprintln(e.stdout, f)
		}
		if res.NotRun > 0 {
			fmt.Fprintf(e.stdout, "%s: %d expectations not run after the failure\n", file, res.NotRun)
		}
		for _, sk := range res.Skips {
			fmt.Fprintln(e.stdout, sk)
		}
		passed += res.Passed
		failed += res.Failed
		skipped += res.Skipped
	}
	fmt.Fprintf(e.stdout, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	if failed > 0 {
		return errScriptFailed
	}
	return nil
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
