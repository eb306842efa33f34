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

// usageError is a mistake in the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func main() {
	fi, err := os.Stderr.Stat()
	tty := err == nil && fi.Mode()&os.ModeCharDevice != 0
	os.Exit(run(&env{stdout: os.Stdout, stderr: os.Stderr, stderrIsTerminal: tty}, os.Args[1:]))
}

// run runs itsbench with args and returns the exit status.
func run(e *env, args []string) int {
	name := defaultCommand
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		printHelp(e.stdout)
		return exitOK
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

func printHelp(w io.Writer) {
	fmt.Fprintf(w, "usage: itsbench [command] [flags]   (default command: %s)\n\ncommands:\n", defaultCommand)
	for _, n := range commandNames() {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nitsbench COMMAND -h shows a command's flags.\n")
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

// parseFlags parses args, turning a flag error into a usage error and
// refusing stray positional arguments unless allowArgs.
func parseFlags(fs *flag.FlagSet, args []string, allowArgs bool) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: err.Error()}
	}
	if !allowArgs && fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if r := relayFor(fs); r != nil {
		return r
	}
	return nil
}
