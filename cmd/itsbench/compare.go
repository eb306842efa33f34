package main

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/report"
)

func init() {
	register(&command{
		name:    "compare",
		summary: "run one workload on two backends in one run and show them side by side with ratios",
		run:     runCompare,
	})
}

// emulationNote is printed whenever a side of the comparison ran on
// emulated CPUs (its backend's Capabilities.Emulated): KVM nested under
// QEMU's TCG, as on this project's x86-64 hosts.
const emulationNote = "note: kvm runs inside QEMU's emulation here (nested TCG): its absolute times mean nothing; only ratios between runs taken there do"

func runCompare(e *env, args []string) error {
	fs := newFlagSet(e, "compare", "-a NAME[:walk] -b NAME[:walk] [-workload NAME] [workload parameters] [-format F] [-o FILE] [-plot FILE.svg|.png]")
	a := fs.String("a", "sim", "baseline backend: "+backendList()+"; NAME:walk opens it with the translation cache off")
	b := fs.String("b", "sim:walk", "backend compared with the baseline")
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
	specA, err := parseBackendSpec("-a", *a)
	if err != nil {
		return err
	}
	specB, err := parseBackendSpec("-b", *b)
	if err != nil {
		return err
	}
	if specA.label == specB.label {
		specB.label += "-b"
	}
	inGuest := 0
	if (specA.name == "kvm" || specB.name == "kvm") && !nativeKVM() {
		if _, status := guestOf(e, fs); status != exitOK {
			return &exitStatusError{status}
		}
	}
	side := func(flagName string, spec backendSpec, raw string) (*bench.Result, error) {
		if spec.name == "kvm" && !nativeKVM() {
			inGuest++
			return compareSideInGuest(e, fs, args, flagName, spec, raw)
		}
		return execute(context.Background(), e, spec, w)
	}
	ra, err := side("-a", specA, *a)
	if err != nil {
		return err
	}
	rb, err := side("-b", specB, *b)
	if err != nil {
		return err
	}
	if inGuest > 0 {
		for _, r := range []*bench.Result{ra, rb} {
			if r.Backend != "kvm" {
				r.Where += fmt.Sprintf(", on this host (%s/%s); the kvm side ran in the arm64 QEMU guest", runtime.GOOS, runtime.GOARCH)
			}
		}
	}
	emulated := ra.Emulated || rb.Emulated
	if emulated {
		ra.Notes = append(ra.Notes, emulationNote[len("note: "):])
	}
	pair := report.ComparePair(ra, rb)
	return writeReport(e, &bf, []*bench.Result{ra, rb}, func(out io.Writer) error {
		if err := pair.WriteTable(out); err != nil {
			return err
		}
		fmt.Fprintln(out)
		for _, r := range []*bench.Result{ra, rb} {
			fmt.Fprintf(out, "%s ran %s\n", r.Label, r.Where)
		}
		if emulated {
			fmt.Fprintln(out, "\n"+emulationNote)
		}
		return nil
	})
}
