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
		summary: "run a scenario (or restore a saved state), then walk one translation (DeviceID, EventID) step by step to the CPU, or to the vPE for a GICv4.0 vLPI; -its N picks the ITS of several",
		run:     runExplain,
	})
}

func runExplain(e *env, args []string) error {
	fs := newFlagSet(e, "explain", "[-backend NAME] [-script FILE] [-restore FILE] [-its N] [-format text|json] [-probe=false] dev=D ev=E")
	sc := addScenarioFlags(fs)
	format := fs.String("format", "text", "output format: text or json (the gicits-explain schema: docs/json.md)")
	itsFlag := fs.Int("its", 0, "on a machine with several ITSes (itses in the scenario), walk the tables of ITS `N` (0 up to one less than their number), the ITS an MSI to its doorbell (GITS_TRANSLATER) reaches; the redistributors are shared")
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
	if *itsFlag < 0 || *itsFlag >= model.MaxITSes {
		return usagef("-its %d: want an ITS number, 0..%d", *itsFlag, model.MaxITSes-1)
	}
	return runScenario(e, sc, func(s *script.Script, b model.Backend) error {
		// How many ITSes there are, the scenario (or the saved state)
		// says: the flag is checked against the machine it made.
		if n := max(b.Capabilities().ITSes, 1); *itsFlag >= n {
			if n == 1 {
				return usagef("-its %d: the machine has one ITS, ITS 0", *itsFlag)
			}
			return usagef("-its %d: the machine has %d ITSes, 0..%d", *itsFlag, n, n-1)
		}
		walked, err := inspect.NewWalked(b, model.DeviceID(dev), model.EventID(ev), *itsFlag)
		if err != nil {
			return err
		}
		steps, err := inspect.Explain(b, walked.Dev, walked.Ev, inspect.ExplainOptions{PMR: scriptPMR(s), Probe: *probeFlag, ITS: *itsFlag})
		if err != nil {
			return err
		}
		if *format == "json" {
			return inspect.WriteWalkJSON(e.stdout, walked, steps)
		}
		fmt.Fprintf(e.stdout, "translation of %v after %s\n", walked, sc.describe())
		return inspect.WriteSteps(e.stdout, steps)
	})
}
