package main

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/gicits/gicits/replay"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "replay a QEMU trace of a guest's ITS traffic on a backend and check every MSI lands where QEMU put it",
		run:     runReplay,
	})
}

const replayUsage = `[-backend NAME] [-lint] [-v] TRACE

TRACE is a QEMU trace log, plain or gzipped, captured with
  -trace 'gicv3_its*' -trace 'gicv3_redist*' -D TRACE
(add -trace gicv3_icc_iar1_read to check the order of acknowledges too).
With -lint, the guest's use of the ITS is checked too, from the trace alone
(docs/drivers.md lists the rules), and its findings printed after the
replay's report.
Exit status 0: the backend agrees with the trace (and, with -lint, the
guest's driver breaks no rule); 1: it diverges, the lint finds misuse, or
TRACE is not a trace; 2: the command line is wrong.`

func runReplay(e *env, args []string) error {
	flags := newFlagSet(e, "replay", replayUsage)
	backend := flags.String("backend", "sim", "backend to replay on: "+backendList())
	addGuestFlags(flags)
	verbose := flags.Bool("v", false, "print every replayed event and what the backend did")
	lint := flags.Bool("lint", false, "also report the guest driver's misuse of the ITS (rule, trace line, IHI 0069 section), after the replay's report")
	err := parseFlags(flags, args, true)
	var relay *relayError
	if err != nil && !errors.As(err, &relay) {
		return err
	}
	// Check the trace here before a kvm backend relays the command to
	// the guest: a bad argument fails at once, not after a boot.
	tr, terr := replayTrace(flags.Args())
	if terr != nil {
		return terr
	}
	if !slices.Contains(backendNames(), *backend) {
		return usagef("-backend %q: want one of %s", *backend, backendList())
	}
	if relay != nil {
		return relay
	}
	b, err := e.openBackend(*backend, replay.BackendConfig(tr))
	if err != nil {
		return err
	}
	defer b.Close()
	opts := replay.Options{}
	if *verbose {
		opts.Log = e.stdout
	}
	rep, err := replay.Run(tr, b, opts)
	if rep != nil {
		if werr := rep.WriteText(e.stdout); werr != nil && err == nil {
			err = werr
		}
	}
	var misuses []replay.Misuse
	if *lint && err == nil {
		misuses = replay.Lint(tr)
		err = replay.WriteLint(e.stdout, misuses)
	}
	switch {
	case err != nil:
		return err
	case !rep.OK():
		return fmt.Errorf("%s: the %s backend diverges from the trace: see the divergences above", flags.Arg(0), *backend)
	case replay.Misuses(misuses):
		return fmt.Errorf("%s: the guest's driver misuses the ITS: see the lint findings above", flags.Arg(0))
	}
	return nil
}

// replayTrace parses the one TRACE argument. A missing argument or file
// is a usage error; a file that is not a trace a failure naming it.
func replayTrace(args []string) (*replay.Trace, error) {
	if len(args) != 1 {
		return nil, usagef("want one TRACE (a QEMU trace log, plain or gzipped), have %d arguments", len(args))
	}
	if _, err := os.Stat(args[0]); err != nil {
		return nil, usagef("TRACE: %v", err)
	}
	return replay.ParseFile(args[0])
}
