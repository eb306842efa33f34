package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

func init() {
	register(&command{
		name:    "explain",
		summary: "run a scenario (or restore a saved state), then walk one translation (DeviceID, EventID) step by step to the CPU, or to the vPE for a GICv4.0 vLPI",
		run:     runExplain,
	})
}

func runExplain(e *env, args []string) error {
	fs := newFlagSet(e, "explain", "[-backend NAME] [-script FILE] [-restore FILE] [-format text|json] [-probe=false] dev=D ev=E")
	sc := addScenarioFlags(fs)
	format := fs.String("format", "text", "output format: text or json (the gicits-explain schema: docs/json.md)")
	probeFlag := fs.Bool("probe", true, "end by acknowledging on the target CPU to see what the CPU interface really does (a physical LPI; the walk of a GICv4.0 vLPI reads the virtual CPU interface's pending vLPIs instead, and acknowledges nothing)")
	if err := parseFlags(fs, args, true); err != nil {
		return err
	}
	if err := sc.check(); err != nil {
		return err
	}
	if *format != "text" && *format != "json" {
		return usagef("-format %q: want text or json", *format)
	}
	var dev, ev uint64
	seen := map[string]bool{}
	for _, a := range fs.Args() {
		k, v, ok := strings.Cut(a, "=")
		n, err := strconv.ParseUint(strings.ReplaceAll(v, "_", ""), 0, 32)
		switch {
		case !ok || (k != "dev" && k != "ev"):
			return usagef("argument %q: want dev=D ev=E", a)
		case err != nil:
			return usagef("argument %q: %s must be a 32-bit number (decimal or 0x hexadecimal)", a, k)
		case k == "dev":
			dev = n
		default:
			ev = n
		}
		seen[k] = true
	}
	if !seen["dev"] || !seen["ev"] {
		return usagef("want dev=D ev=E")
	}
	return runScenario(e, sc, func(s *script.Script, b model.Backend) error {
		steps, err := inspect.Explain(b, model.DeviceID(dev), model.EventID(ev), inspect.ExplainOptions{PMR: scriptPMR(s), Probe: *probeFlag})
		if err != nil {
			return err
		}
		if *format == "json" {
			return inspect.WriteExplainJSON(e.stdout, model.DeviceID(dev), model.EventID(ev), steps)
		}
		fmt.Fprintf(e.stdout, "translation of DeviceID %#x EventID %d after %s\n", dev, ev, sc.describe())
		return inspect.WriteSteps(e.stdout, steps)
	})
}
