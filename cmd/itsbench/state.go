package main

import (
	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "state",
		summary: "run a scenario and dump devices, ITTs, collections, LPI configuration and pending LPIs",
		run:     runState,
	})
}

func runState(e *env, args []string) error {
	fs := newFlagSet(e, "state", "[-backend NAME] -script FILE [-format text|json]")
	backend := fs.String("backend", "sim", "backend to run on: "+backendList())
	file := fs.String("script", "", "the .its scenario to run first")
	format := fs.String("format", "text", "output format: text or json (the same on every backend, so two dumps can be diffed)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if *file == "" {
		return usagef("-script FILE is required")
	}
	if *format != "text" && *format != "json" {
		return usagef("-format %q: want text or json", *format)
	}
	return runScenario(e, *backend, *file, func(_ *script.Script, b model.Backend) error {
		s, err := inspect.ReadState(b)
		if err != nil {
			return err
		}
		if *format == "json" {
			return s.WriteJSON(e.stdout)
		}
		return s.WriteText(e.stdout)
	})
}
