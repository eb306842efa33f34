package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: tracecapture modules -dir LIBMODULES NAME...
       tracecapture initramfs -o FILE -init BINARY [MODULE.ko]...
       tracecapture qmp -socket PATH HMP-COMMAND
       tracecapture pmemsave -socket PATH -o FILE [-base GPA] -size BYTES [-wait D]
       tracecapture dumps -trace FILE -ram FILE [-base GPA] -o PREFIX
       tracecapture guest [-steps traffic,cpu,rebind,hotplug] [-reads N] [-frames N] [-wait D]
The guest half of scripts/capture-its-trace; see tools/tracecapture/doc.go.

Memory dumps (pmemsave, then dumps): once the guest has powered off (QEMU
run with -no-shutdown keeps it stopped), pmemsave saves its RAM with
QEMU's pmemsave and quits QEMU; dumps cuts out of that RAM the ITS command
queue (the trace's last GITS_CBASER write: base bits [51:12], (Size+1) x
4 KiB) and the LPI property table (the last GICR_PROPBASER write: base bits
[51:12], 2^IDbits - 8192 bytes) and writes (scripts/capture-its-trace's
PREFIX is the trace's name without .gz and .log):
  PREFIX.queue.bin.gz       the command queue, gzipped
  PREFIX.proptable.bin.gz   the LPI property table, gzipped
  PREFIX.mem                the sidecar: one FILE@GPA a line (replay.LoadMemory's
                            form), FILE relative to the sidecar's directory
                            (NAME.queue.bin.gz@0x42580000); lines starting
                            with # say what each dump holds
`

func main() {
	args := os.Args[1:]
	if os.Getpid() == 1 {
		// The guest's /init: the kernel passes what follows "--" on its
		// command line, which may or may not start with the subcommand.
		if len(args) > 0 && args[0] == "guest" {
			args = args[1:]
		}
		os.Exit(runGuest(args, os.Stdout))
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// run runs the subcommand of args and returns the exit status: 0, 1 when the
// subcommand failed, 2 for a wrong command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "modules":
		err = runModules(args[1:], stdout, stderr)
	case "initramfs":
		err = runInitramfs(args[1:], stderr)
	case "qmp":
		err = runQMP(args[1:], stdout)
	case "pmemsave":
		err = runPmemsave(args[1:], stdout, stderr)
	case "dumps":
		err = runDumps(args[1:], stdout, stderr)
	case "guest":
		return runGuest(args[1:], stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "tracecapture: unknown subcommand %q\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "tracecapture %s: %v\n", args[0], err)
		if ue := usageError(""); errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a wrong command line: run exits 2 on it.
type usageError string

func (e usageError) Error() string { return string(e) }
