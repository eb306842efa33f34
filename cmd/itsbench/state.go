package main

import (
	"fmt"
	"os"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "state",
		summary: "run a scenario (or restore a saved state) and dump devices, ITTs, collections, LPI configuration and pending LPIs; -save writes the state to a file",
		run:     runState,
	})
}

func runState(e *env, args []string) error {
	fs := newFlagSet(e, "state", "[-backend NAME] [-script FILE] [-restore FILE] [-save FILE] [-format text|json]")
	sc := addScenarioFlags(fs)
	save := fs.String("save", "", "also write the state to `FILE` in the saved-state format (for -restore, on any backend)")
	format := fs.String("format", "text", "output format: text or json (the same on every backend, so two dumps can be diffed)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := sc.check(); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("-format %q: want text or json", *format)
	}
	var out *os.File
	if *save != "" {
		// Created now, so that a path that cannot be written fails before
		// a scenario runs (on KVM, after a VM boots).
		var err error
		if out, err = os.Create(*save); err != nil {
			return usagef("-save: %v", err)
		}
	}
	err := runScenario(e, sc, func(_ *script.Script, b model.Backend) error {
		if out != nil {
			if err := saveState(e, b, out); err != nil {
				return err
			}
		}
		s, err := inspect.ReadState(b)
		if err != nil {
			return err
		}
		if *format == "json" {
			return s.WriteJSON(e.stdout)
		}
		return s.WriteText(e.stdout)
	})
	if out != nil {
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("-save: %w", cerr)
		}
		if err != nil {
			os.Remove(*save) // no half-written or empty state file
		}
	}
	return err
}

// saveState captures b's state into out and says so on stderr.
func saveState(e *env, b model.Backend, out *os.File) error {
	st, err := savedstate.Capture(b)
	if err != nil {
		return fmt.Errorf("-save: %w", err)
	}
	data, err := st.MarshalBinary()
	if err != nil {
		return fmt.Errorf("-save: %w", err)
	}
	if _, err := out.Write(data); err != nil {
		return fmt.Errorf("-save: %w", err)
	}
	fmt.Fprintf(e.stderr, "itsbench state: saved the state of %s (%d CPUs, %d tables, %d bytes) to %s\n", st.Source, st.CPUs, len(st.Regions), len(data), out.Name())
	return nil
}
