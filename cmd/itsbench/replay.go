package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/gicits/gicits/replay"
)

func init() {
	register(&command{
		name:    "replay",
		summary: "replay a QEMU trace of a guest's ITS traffic on a backend and check every MSI lands where QEMU put it",
		run:     runReplay,
	})
}

const replayUsage = `[-backend NAME] [-lint] [-mem FILE@GPA]... [-verbose] TRACE
       itsbench replay -pmemsave TRACE

TRACE is a QEMU trace log, plain or gzipped, captured with
  -trace 'gicv3_its*' -trace 'gicv3_redist*' -D TRACE
(add -trace gicv3_icc_iar1_read to check the order of acknowledges too).
It is QEMU's log, not the gicits event log that other commands' -trace
flag writes.
-mem gives dumps of guest memory taken at the end of the run, with QEMU's
monitor command pmemsave (plain or gzipped): the command queue's (then the
commands still in it are replayed from their exact packets: SYNC's target,
INVALL's collection) and the LPI property table's (each LPI's priority,
and what the lint needs). -pmemsave prints the monitor commands that take
them, from the trace so far; docs/drivers.md shows the whole loop.
With -lint, the guest's use of the ITS is checked too, from the trace and
the dumps (docs/drivers.md lists the rules; three need a dump), and its
findings printed after the replay's report.
Exit status 0: the backend agrees with the trace (and, with -lint, the
guest's driver breaks no rule); 1: it diverges, the lint finds misuse, or
TRACE is not a trace; 2: the command line is wrong.`

func runReplay(e *env, args []string) error {
	flags := newFlagSet(e, "replay", replayUsage)
	backend := flags.String("backend", "sim", "backend to replay on: "+backendList())
	addGuestFlags(flags)
	verbose := flags.Bool("verbose", false, "print every replayed event and what the backend did")
	lint := flags.Bool("lint", false, "also report the guest driver's misuse of the ITS (rule, trace line, IHI 0069 section), after the replay's report")
	pmemsave := flags.Bool("pmemsave", false, "replay nothing: print the QEMU monitor commands that dump the command queue and the LPI property table the trace's guest uses, for -mem")
	var mems memSpecs
	flags.Var(&mems, "mem", "a dump of guest memory, `FILE@GPA` (QEMU's pmemsave, plain or gzipped), taken at the end of the run: the command queue's or the LPI property table's; or a file listing them (NAME.mem, as scripts/capture-its-trace writes); repeatable")
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
	if *pmemsave {
		return writePmemsave(e, tr, flags.Arg(0))
	}
	mem, merr := replay.LoadMemory(mems)
	if merr != nil {
		return fmt.Errorf("-mem: %w", merr)
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
	opts := replay.Options{Memory: mem}
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
		misuses = replay.Lint(tr, mem)
		err = replay.WriteLint(e.stdout, misuses, replay.Gaps(tr, mem))
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

// memSpecs are replay's -mem flags, each FILE@GPA, checked as they are
// parsed so that a bad one is a usage error naming it.
type memSpecs []string

func (m *memSpecs) String() string { return strings.Join(*m, ",") }

func (m *memSpecs) Set(s string) error {
	files, err := replay.MemSpecFiles(s)
	if err != nil {
		return err
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			return err
		}
	}
	*m = append(*m, s)
	return nil
}

// Inputs returns the files the dumps are read from, for a relay to the
// guest.
func (m *memSpecs) Inputs() []string {
	var files []string
	for _, s := range *m {
		fs, _ := replay.MemSpecFiles(s)
		files = append(files, fs...)
	}
	return files
}

// writePmemsave prints the monitor commands that dump what -mem reads,
// ready to paste, and on standard error the replay that uses the dumps.
func writePmemsave(e *env, tr *replay.Trace, trace string) error {
	cmds, mems := replay.PmemsaveCommands(tr)
	if len(cmds) == 0 {
		return fmt.Errorf("%s: the guest programmed neither GITS_CBASER nor GICR_PROPBASER in the trace: nothing to dump", trace)
	}
	for _, c := range cmds {
		fmt.Fprintln(e.stdout, c)
	}
	fmt.Fprintf(e.stderr, "then: itsbench replay -lint -mem %s %s\n", strings.Join(mems, " -mem "), trace)
	return nil
}
