package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/gicits/gicits/inspect"
)

// A command is one itsbench subcommand.
type command struct {
	name    string
	summary string // one line, for `itsbench help`
	// run runs the command with its arguments (the subcommand name
	// removed). A *usageError exits with status 2; any other error with 1.
	run func(env *env, args []string) error
}

// env is what a command may touch: its output streams and its arguments. It
// keeps commands testable without a process.
type env struct {
	stdout, stderr io.Writer
	// stdin is what commands that read input read; nil means os.Stdin.
	stdin io.Reader
	// stderrIsTerminal says whether progress lines may be drawn.
	stderrIsTerminal bool
	// stdinIsTerminal says whether a command reading standard input
	// should say so (a person may be waiting for it to do something).
	stdinIsTerminal bool
	// tracing is where -trace sends the running command's trace, and
	// traceEvents the -trace-events patterns that select its events.
	tracing     tracing
	traceEvents []string
	// guest is the arm64 guest a kvm side of compare runs in, prepared
	// once (guestOf).
	guest       *guest
	guestStatus int
	guestReady  bool
}

var commands = map[string]*command{}

// defaultCommand runs when itsbench is called with no command.
var defaultCommand = "run"

func register(c *command) {
	if _, dup := commands[c.name]; dup {
		panic("itsbench: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageError is a mistake in the command line: exit status 2. hint, when
// set, is printed on a line of its own after the error.
type usageError struct{ msg, hint string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr, stderrIsTerminal: isTerminal(os.Stderr), stdinIsTerminal: isTerminal(os.Stdin)}, os.Args[1:]))
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run runs itsbench with args and returns the exit status.
func run(e *env, args []string) int {
	name := defaultCommand
	switch {
	case len(args) > 0 && slices.Contains(helpFlags, args[0]):
		// Help for itsbench itself, not for the default command.
		printHelp(e.stdout)
		return exitOK
	case len(args) > 0 && !strings.HasPrefix(args[0], "-"):
		name, args = args[0], args[1:]
	}
	if name == "help" {
		return help(e, args)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(e.stderr, "itsbench: unknown command %q (known: %s)\n", name, strings.Join(commandNames(), ", "))
		return exitUsage
	}
	err := c.run(e, args)
	e.endTracing()
	var ue *usageError
	var re *relayError
	var se *exitStatusError
	switch {
	case errors.As(err, &re):
		return relay(e, append([]string{name}, args...), re)
	case errors.As(err, &se):
		return se.status
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "itsbench %s: %v\n", name, err)
		if ue.hint != "" {
			fmt.Fprintln(e.stderr, ue.hint)
		}
		return exitUsage
	default:
		fmt.Fprintf(e.stderr, "itsbench %s: %v\n", name, err)
		return exitFailure
	}
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// helpFlags ask for help, as the flag package understands them.
var helpFlags = []string{"-h", "-help", "--h", "--help"}

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: itsbench [command] [flags]   (default command: %s)\n\ncommands:\n", defaultCommand)
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nitsbench help COMMAND (or itsbench COMMAND -h) shows a command's flags.\n")
}

// help is `itsbench help [COMMAND]`: the command list, or one command's
// usage and flags, on standard output.
func help(e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" {
		printHelp(e.stdout)
		return exitOK
	}
	if len(args) > 1 {
		fmt.Fprintf(e.stderr, "itsbench help: want one command, got %d arguments (%s)\n", len(args), strings.Join(args, " "))
		return exitUsage
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "itsbench help: unknown command %q (known: %s)\n", args[0], strings.Join(commandNames(), ", "))
		return exitUsage
	}
	// The command prints its usage for -h, to what is its standard error.
	err := c.run(&env{stdout: e.stdout, stderr: e.stdout, stdin: e.stdin}, []string{"-h"})
	if !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stderr, "itsbench help %s: %v\n", args[0], err)
		return exitFailure
	}
	return exitOK
}

// newFlagSet returns a flag set for a subcommand that reports errors
// instead of exiting, printing its usage to e.stderr.
func newFlagSet(e *env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("itsbench "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: itsbench %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	fs.Var(&traceFlag{e: e}, "trace", "log every ITS command, MSI, register write, acknowledge and EOI with its outcome to `FILE` (- for stderr)")
	fs.Var(&traceEventsFlag{e: e}, "trace-events", "with -trace: log only the events the comma-separated `PATTERNS` select (globs over "+strings.Join(inspect.TraceEvents, ", ")+"; -PATTERN excludes), e.g. 'command,msi' or '*,-write'")
	return fs
}

// parseFlags parses args, turning a flag error into a usage error (with a
// hint naming the command's -h) and refusing stray positional arguments
// unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := parseQuietly(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error(), hint: fmt.Sprintf("run '%s -h' for the flags", fs.Name())}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if r := relayFor(fs); r != nil {
		return r
	}
	return nil
}

// parseQuietly parses args as fs.Parse does, but without the flag
// package's own printing: on a mistake it prints the error and the whole
// usage, and run prints the error again. Here the usage is printed only
// when it was asked for (-h), and the error only by run.
func parseQuietly(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
	}
	return err
}
