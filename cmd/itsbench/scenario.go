package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
	"github.com/gicits/gicits/script"
)

// scenarioFlags are the flags of the commands that inspect what a backend
// holds (state, explain): the backend, and where its state comes from, a
// .its scenario, a saved-state file, or a saved-state file and then a
// scenario run on it.
type scenarioFlags struct {
	backend, script, restore *string
	command                  string // "itsbench state", to name it in messages
}

func addScenarioFlags(fs *flag.FlagSet) scenarioFlags {
	addGuestFlags(fs)
	return scenarioFlags{
		command: fs.Name(),
		backend: fs.String("backend", "sim", "backend to run on: "+backendList()),
		script:  fs.String("script", "", "the .its scenario to run first (optional with -restore)"),
		restore: fs.String("restore", "", "start from the saved-state `FILE` (written by state -save on any backend) instead of, or before, the scenario"),
	}
}

// check refuses a command line that names neither a scenario nor a saved
// state.
func (f scenarioFlags) check() error {
	if *f.script == "" && *f.restore == "" {
		return usagef("-script FILE or -restore FILE is required")
	}
	return nil
}

// describe says where the observed state came from, for a heading.
func (f scenarioFlags) describe() string {
	switch {
	case *f.restore == "":
		return *f.script
	case *f.script == "":
		return "restoring " + *f.restore
	}
	return fmt.Sprintf("restoring %s and running %s", *f.restore, *f.script)
}

// loadState reads the -restore file: a missing file is a usage error, a
// file that is not a valid saved state an error saying what is wrong.
func loadState(path string) (*savedstate.State, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, usagef("-restore: %v", err)
	}
	st, err := savedstate.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-restore: %w", err)
	}
	return st, nil
}

// startFrom makes a scenario run start from st: the backend opens with
// st's machine (a scenario's cpus, queue, devtable or colltable settings
// must agree with it), st is restored into it before the first action,
// and the scenario allocates ITTs after the ones st holds.
func startFrom(st *savedstate.State, opts *script.Options) {
	var conflict error
	opts.Configure = func(cfg *model.Config) { conflict = st.Configure(cfg) }
	opts.Start = func(b model.Backend) (uint64, error) {
		if conflict != nil {
			return 0, fmt.Errorf("-restore: %w", conflict)
		}
		if err := savedstate.Restore(b, st); err != nil {
			return 0, fmt.Errorf("-restore: %w", err)
		}
		return st.ITTAreaInUse(), nil
	}
}

// runScenario opens the named backend, restores the -restore file into
// it when there is one, runs the -script file when there is one, and
// calls observe with the backend (and the scenario, nil without one)
// before it closes. Expectations that failed are reported on stderr and
// do not stop the inspection; a scenario that could not run to its end is
// an error, and one with syntax errors ends the command with exitSyntax.
func runScenario(e *env, f scenarioFlags, observe func(*script.Script, model.Backend) error) error {
	backend, file := *f.backend, *f.script
	if !slices.Contains(model.Backends(), backend) {
		return usagef("-backend %q: want one of %s", backend, backendList())
	}
	var st *savedstate.State
	if *f.restore != "" {
		var err error
		if st, err = loadState(*f.restore); err != nil {
			return err
		}
	}
	if file == "" {
		return observeRestored(e, backend, st, observe)
	}
	if _, err := os.Stat(file); err != nil {
		return usagef("-script: %v", err)
	}
	s, err := script.ParseFile(file)
	var syntax *script.Error
	if errors.As(err, &syntax) {
		// One line per bad line, and the status of a syntax error.
		for l := range strings.SplitSeq(err.Error(), "\n") {
			fmt.Fprintf(e.stderr, "%s: scenario: %s\n", f.command, l)
		}
		return &exitStatusError{exitSyntax}
	}
	if err != nil {
		return fmt.Errorf("scenario: %w", err)
	}
	observed := false
	var obsErr error
	opts := script.Options{
		Backend: backend,
		Wrap:    e.traced,
		Observe: func(b model.Backend) error {
			observed = true
			obsErr = observe(s, b)
			return nil
		},
	}
	if st != nil {
		startFrom(st, &opts)
	}
	res := script.Run(s, opts)
	for _, f := range res.Failures {
		fmt.Fprintf(e.stderr, "scenario: %v\n", f)
	}
	for _, sk := range res.Skips {
		fmt.Fprintf(e.stderr, "scenario: %v\n", sk)
	}
	if res.SkipReason != "" {
		return fmt.Errorf("scenario %s skipped on %s: %s", file, backend, res.SkipReason)
	}
	if !observed {
		return fmt.Errorf("scenario %s did not run to its end on %s (see above): nothing to inspect", file, backend)
	}
	return obsErr
}

// observeRestored opens the backend with st's machine, restores st into
// it and observes it.
func observeRestored(e *env, backend string, st *savedstate.State, observe func(*script.Script, model.Backend) error) error {
	b, err := e.openBackend(backend, st.Config())
	if err != nil {
		return err
	}
	defer b.Close()
	if err := savedstate.Restore(b, st); err != nil {
		return fmt.Errorf("-restore: %w", err)
	}
	return observe(nil, b)
}

// scriptPMR returns the last priority mask the scenario set on each CPU
// (none without a scenario).
func scriptPMR(s *script.Script) map[model.CPU]uint8 {
	pmr := map[model.CPU]uint8{}
	if s == nil {
		return pmr
	}
	for _, st := range s.Stmts {
		if p, ok := st.(*script.PMRStmt); ok {
			pmr[p.CPU] = p.Value
		}
	}
	return pmr
}
