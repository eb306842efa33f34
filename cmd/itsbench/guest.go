package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gicits/gicits/bench"
)

// Running a command on real KVM from a host that has none (x86-64, or no
// /dev/kvm): the command line goes whole to the linux/arm64 build of
// itsbench, run as the only program of an arm64 QEMU guest by qemuexec (the
// program scripts/kvm-harness gives go test), with the files the command
// reads packed in at their host paths, its standard output and error, its
// exit status and the files it writes brought back. compare with one side
// on each runs the sim side here and only the kvm side there
// (compareSideRunsInGuest, all of the side's runs in one boot).

// inGuestVar is set in the guest's environment: a command there never
// relays again.
const inGuestVar = "GICITS_IN_GUEST"

// defaultKernel is the guest kernel when -kernel is not given.
const defaultKernel = "6.12"

// Exit statuses of every itsbench command and of scripts/kvm-harness
// (docs/exit-status.md).
const (
	exitOK          = 0   // done; every expectation held
	exitFailure     = 1   // something failed: an expectation, a check, the run
	exitUsage       = 2   // the command line is wrong
	exitSetup       = 3   // KVM needs set-up this run may not do: the commands to run were printed
	exitSkipped     = 4   // every script was skipped: nothing was tested (kselftest's KSFT_SKIP)
	exitSyntax      = 5   // a .its file has syntax errors: it was not run
	exitInterrupted = 130 // SIGINT (Ctrl-C) or SIGTERM: the run stopped, the guest too
)

// relayError is what parseFlags returns for a command that needs KVM where
// the host has none: run hands the whole command line to the guest.
type relayError struct {
	inputs, outputs []string // host paths the command reads and writes
	kernel          string   // -kernel
	guestBinary     string   // -guest-binary
}

func (*relayError) Error() string { return "the command runs in the KVM guest" }

// addGuestFlags adds the flags that choose the guest a kvm backend runs in
// on a host without KVM.
func addGuestFlags(fs *flag.FlagSet) {
	fs.String("kernel", defaultKernel, "with a kvm backend on a host without arm64 KVM: the guest kernel, 6.1, 6.12 or the path of an arm64 kernel image")
	fs.String("guest-binary", "", "with a kvm backend on a host without arm64 KVM: the linux/arm64 itsbench `FILE` to run in the guest (default: built from the checkout, or found beside this program)")
}

// nativeKVM reports whether the kvm backend runs here without a guest: in
// the guest itself, or on an arm64 Linux host whose /dev/kvm opens.
func nativeKVM() bool {
	if os.Getenv(inGuestVar) == "1" {
		return true
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "arm64" {
		return false
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

func isKVM(spec string) bool { return spec == "kvm" || strings.HasPrefix(spec, "kvm:") }

// Flags whose values are files a command reads or writes ("-" is a stream).
var (
	inputFlags  = []string{"script", "restore", "file"}
	outputFlags = []string{"o", "plot", "save", "trace", "gobench-a", "gobench-b"}
)

// An inputLister is a flag whose value names files the command reads
// (replay's repeatable -mem FILE@GPA).
type inputLister interface{ Inputs() []string }

// relayFor returns the relay of a parsed command line that asks for KVM
// (-backend kvm, or compare with kvm on both sides) on a host without it,
// or nil when the command runs here.
func relayFor(fs *flag.FlagSet) *relayError {
	value := func(name string) string {
		if f := fs.Lookup(name); f != nil {
			return f.Value.String()
		}
		return ""
	}
	wants := isKVM(value("backend")) || isKVM(value("a")) && isKVM(value("b"))
	if !wants || nativeKVM() {
		return nil
	}
	r := &relayError{kernel: value("kernel"), guestBinary: value("guest-binary")}
	fs.Visit(func(f *flag.Flag) {
		v := f.Value.String()
		if in, ok := f.Value.(inputLister); ok {
			r.inputs = append(r.inputs, in.Inputs()...)
			return
		}
		switch {
		case v == "" || v == "-":
		case slices.Contains(inputFlags, f.Name):
			r.inputs = append(r.inputs, v)
		case slices.Contains(outputFlags, f.Name):
			r.outputs = append(r.outputs, v)
		}
	})
	for _, a := range fs.Args() {
		if _, err := os.Stat(a); err == nil {
			r.inputs = append(r.inputs, a)
		}
	}
	return r
}

// relay runs args (the whole command line, command name first) in the
// guest and returns the exit status to exit with.
func relay(e *env, args []string, r *relayError) int {
	if err := checkTransfers(r.inputs, r.outputs); err != nil {
		fmt.Fprintf(e.stderr, "itsbench %s: %v\n", args[0], err)
		return exitUsage
	}
	g, status := prepareGuest(e, r.kernel, r.guestBinary)
	if status != exitOK {
		return status
	}
	return g.run(e, args, r.inputs, r.outputs)
}

// checkTransfers refuses, before anything boots, the files a guest run
// cannot carry: an input that does not exist or is not a plain file or
// directory (a pipe, /dev/fd/N), an output whose directory does not exist
// here (the sim would fail to create it too; a run creates none).
func checkTransfers(inputs, outputs []string) error {
	for _, in := range inputs {
		fi, err := os.Stat(in)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() && !fi.IsDir() {
			return fmt.Errorf("%s is not a file or directory: it cannot go into the guest", in)
		}
	}
	for _, out := range outputs {
		dir := filepath.Dir(out)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("open %s: no such file or directory", out)
		}
		if special(out) {
			return fmt.Errorf("%s is a special file: the guest cannot write it here (use - for standard output)", out)
		}
	}
	return nil
}

// special reports whether p is under /dev, /proc or /sys.
func special(p string) bool {
	for _, d := range []string{"/dev/", "/proc/", "/sys/"} {
		if strings.HasPrefix(filepath.Clean(p)+"/", d) {
			return true
		}
	}
	return false
}

// guest is what running a command in the arm64 guest needs.
type guest struct {
	qemuexec string // the host's qemuexec
	binary   string // the linux/arm64 itsbench
	kernel   string // the arm64 kernel image
	series   string // its series (6.1, 6.12) or its file name
}

// run runs itsbench args in g, with inputs packed in and outputs brought
// back (host paths, relative to the working directory), and returns the
// exit status.
func (g *guest) run(e *env, args, inputs, outputs []string) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(e.stderr, "itsbench: %v\n", err)
		return exitFailure
	}
	qargs := []string{"-dir", wd, "-stderr"}
	for _, in := range inputs {
		qargs = append(qargs, "-in", absIn(wd, in))
	}
	for _, out := range outputs {
		qargs = append(qargs, "-out", absIn(wd, out))
	}
	qargs = append(append(qargs, g.binary), args...)
	cmd := exec.Command(g.qemuexec, qargs...)
	cmd.SysProcAttr = childProcAttr()
	cmd.Env = append(os.Environ(), "GICITS_KERNEL="+g.kernel, inGuestVar+"=1")
	if os.Getenv("GICITS_QEMU_TIMEOUT") == "" {
		cmd.Env = append(cmd.Env, "GICITS_QEMU_TIMEOUT="+guestTimeout(args).String())
	}
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	fmt.Fprintf(e.stderr, "itsbench: running in the arm64 KVM guest (kernel %s, QEMU TCG): itsbench %s\n", g.series, strings.Join(args, " "))
	return waitGuest(e, cmd)
}

// waitGuest runs cmd, passing SIGINT and SIGTERM on to it (qemuexec stops
// QEMU and exits), and returns its exit status, or exitInterrupted when a
// signal stopped it.
func waitGuest(e *env, cmd *exec.Cmd) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(e.stderr, "itsbench: starting qemuexec: %v\n", err)
		return exitFailure
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	interrupted := false
	for {
		select {
		case s := <-sigs:
			interrupted = true
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			switch {
			case interrupted:
				fmt.Fprintf(e.stderr, "itsbench: interrupted: %s stopped\n", filepath.Base(cmd.Path))
				return exitInterrupted
			case err == nil:
				return exitOK
			case errors.As(err, &ee) && ee.ExitCode() > 128:
				// 128+N: a signal ended the command in the guest (the OOM
				// killer's 9, a crash's 11), not one of its statuses.
				fmt.Fprintf(e.stderr, "itsbench: the command in the guest was killed by signal %d (the lines above say why)\n", ee.ExitCode()-128)
				return exitFailure
			case errors.As(err, &ee) && ee.ExitCode() >= 0:
				return ee.ExitCode()
			default:
				fmt.Fprintf(e.stderr, "itsbench: qemuexec: %v\n", err)
				return exitFailure
			}
		}
	}
}

func absIn(wd, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(wd, p)
}

// guestTimeout bounds a guest run: a run's -duration, times compare's
// -runs (both sides' when both run in the guest), with 10 minutes to
// spare, and 30 minutes for anything else (the guest boots in seconds;
// the corpus takes under two minutes).
func guestTimeout(args []string) time.Duration {
	value := func(flag string) (string, bool) {
		for i, a := range args {
			name, val, has := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if !strings.HasPrefix(a, "-") || name != flag {
				continue
			}
			if !has && i+1 < len(args) {
				val = args[i+1]
			}
			return val, true
		}
		return "", false
	}
	runs := 1
	if len(args) > 0 && args[0] == "compare" {
		runs = 2 * defaultRuns
		if v, ok := value("runs"); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				runs = 2 * n
			}
		}
	}
	if v, ok := value("duration"); ok {
		if d, err := time.ParseDuration(v); err == nil {
			return time.Duration(runs)*d + 10*time.Minute
		}
	}
	return 30 * time.Minute
}

// exitStatusError ends a command with a given exit status; its message,
// if any, has been printed.
type exitStatusError struct{ status int }

func (e *exitStatusError) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// resultExchange is one run's result with its samples, as compare's
// -side-runs writes them in the guest for the host to read back.
type resultExchange struct {
	Result          *bench.Result `json:"result"`
	CallSamples     []float64     `json:"call_samples"`
	EndToEndSamples []float64     `json:"end_to_end_samples"`
}

// guestOf prepares the guest the flags of fs choose (-kernel,
// -guest-binary), once per command: compare prepares it before it runs
// the side that stays here, so a guest that cannot be set up fails at
// once.
func guestOf(e *env, fs *flag.FlagSet) (*guest, int) {
	if !e.guestReady {
		value := func(name string) string { return fs.Lookup(name).Value.String() }
		e.guest, e.guestStatus = prepareGuest(e, value("kernel"), value("guest-binary"))
		e.guestReady = true
	}
	return e.guest, e.guestStatus
}

// compareOnly are compare's flags that do not go to the run in the guest.
var compareOnly = []string{"a", "b", "o", "plot", "format", "kernel", "guest-binary", "trace", "gobench-a", "gobench-b"}

// workloadArgs returns args without compareOnly's flags (and their
// values): the workload and its parameters, as written.
func workloadArgs(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || a == "--" || !slices.Contains(compareOnly, name) {
			out = append(out, a)
			continue
		}
		if f := fs.Lookup(name); !hasValue && f != nil && !isBoolFlag(f) {
			i++ // the value is the next argument
		}
	}
	return out
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
