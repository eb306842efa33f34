package main

import (
	"bufio"
	"cmp"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const (
	// defaultTimeout bounds a run whose test has no -test.timeout: go
	// test's own default.
	defaultTimeout = 10 * time.Minute
	// unboundedTimeout bounds a run whose test has -test.timeout=0, which
	// asks for none: long enough for any run a person starts on purpose (a
	// survey of thousands of differential seeds), short of a QEMU left
	// running for ever.
	unboundedTimeout = 24 * time.Hour
	// bootSlack is added to -test.timeout: the guest needs 7-9 s to boot on
	// a 2-core x86-64 machine under TCG. It stays below the minute go test
	// waits past -test.timeout before it signals qemuexec, so a hang is
	// reported by qemuexec, with the console, rather than by go test.
	bootSlack = 45 * time.Second
	// postExitGrace is how long QEMU may take to power off after the test
	// reported its exit status.
	postExitGrace = 20 * time.Second
	// postOopsGrace is how long the test may take to exit after the kernel
	// oopsed before the run is given up, rather than waiting for the
	// overall deadline: a test killed in the kernel often leaves the
	// guest stuck on the locks it held.
	postOopsGrace = 30 * time.Second
	// guestMemMiB is the guest's memory.
	guestMemMiB = 1024
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// usage is the text of -h and of a wrong command line.
const usage = `usage: GOARCH=arm64 CGO_ENABLED=0 go test -exec qemuexec [packages] [flags]
       qemuexec [-in PATH]... [-out PATH]... [-dir DIR] [-stderr] BINARY [ARGS...]
Boots BINARY, a static linux/arm64 program (under go test, a test binary), as
the only program of an arm64 Linux guest under qemu-system-aarch64 (GICv3,
ITS, EL2, TCG), streams its output and exits with its status.
  -in PATH   copy the host file or directory PATH into the guest at the same
             absolute path (relative to the working directory); repeatable
  -out PATH  after BINARY exits, copy the guest's regular file PATH back to the
             same host path, replacing it only once all of it arrived intact;
             the guest has PATH's directory; repeatable
  -dir DIR   run BINARY in the guest directory DIR (absolute) and copy only the
             -in paths, not go test's package directory and testdata
  -stderr    BINARY's standard error to qemuexec's standard error; without it,
             both go to standard output
Environment: GICITS_KERNEL (required), GICITS_QEMU_BIN, GICITS_QEMU_TIMEOUT,
GICITS_QEMU_VERBOSE, GICITS_QEMU_SUMMARY; see scripts/kvm-harness.`

// run is qemuexec without the process around it: it returns the exit status.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	t0 := time.Now()
	fail := func(err error) int {
		fmt.Fprintf(stderr, "qemuexec: %v\n", err)
		return 1
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fail(err)
	}
	opts, err := parseOptions(args, cwd)
	if errors.Is(err, errHelp) {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "qemuexec: %v\n%s\n", err, usage)
		return 2
	}
	kernel, err := kernelPath(getenv)
	if err != nil {
		return fail(err)
	}
	if err := checkTestBinary(opts.binary); err != nil {
		return fail(err)
	}
	timeout, err := overallTimeout(opts.args, getenv)
	if err != nil {
		return fail(err)
	}
	tmp, err := os.MkdirTemp("", "qemuexec-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	nonce, err := newNonce()
	if err != nil {
		return fail(err)
	}
	initrd := filepath.Join(tmp, "initrd.cpio")
	warn := func(msg string) { fmt.Fprintf(stderr, "qemuexec: %s\n", msg) }
	if err := buildInitrd(initrd, cwd, opts, nonce, warn); err != nil {
		return fail(err)
	}
	qemuBin := getenv("GICITS_QEMU_BIN")
	if qemuBin == "" {
		qemuBin = "qemu-system-aarch64"
	}
	var noise io.Writer
	if getenv("GICITS_QEMU_VERBOSE") == "1" {
		noise = stderr
	}
	return boot(bootSpec{
		qemu:        qemuBin,
		args:        qemuArgs(kernel, initrd),
		kernel:      kernel,
		nonce:       nonce,
		outputs:     opts.outputs,
		timeout:     timeout,
		t0:          t0,
		summaryFile: getenv("GICITS_QEMU_SUMMARY"),
	}, stdout, stderr, noise)
}

// options is qemuexec's command line: its own options, then the binary and
// its arguments.
type options struct {
	inputs      []string // -in: absolute host paths, copied to the same guest paths
	outputs     []string // -out: absolute paths, copied from the guest to the host
	dir         string   // -dir: the binary's guest working directory; "" for go test's package directory
	splitStderr bool     // -stderr
	binary      string
	args        []string
}

// errHelp is what parseOptions returns for -h.
var errHelp = errors.New("help requested")

// parseOptions parses qemuexec's leading options, which end at the first
// argument that does not start with '-' (go test's BINARY ARGS... has none)
// or after "--". An option's value follows it or "=" ("-in PATH",
// "-in=PATH"), and "--in" is "-in". Relative -in and -out paths are made
// absolute against cwd; -in paths must exist on the host.
func parseOptions(args []string, cwd string) (options, error) {
	var o options
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		arg := args[0]
		args = args[1:]
		if arg == "--" {
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(arg[1:], "-"), "=")
		switch name {
		case "h", "help":
			return options{}, errHelp
		case "stderr":
			if hasValue {
				return options{}, fmt.Errorf("option -stderr takes no value: %s", arg)
			}
			o.splitStderr = true
			continue
		case "in", "out", "dir":
		default:
			return options{}, fmt.Errorf("unknown option %s", arg)
		}
		if !hasValue {
			if len(args) == 0 {
				return options{}, fmt.Errorf("option -%s needs a path", name)
			}
			value, args = args[0], args[1:]
		}
		if value == "" {
			return options{}, fmt.Errorf("option -%s needs a path, not \"\"", name)
		}
		if err := o.set(name, value, cwd); err != nil {
			return options{}, err
		}
	}
	if len(args) == 0 {
		return options{}, errors.New("no binary to run")
	}
	o.binary, o.args = args[0], args[1:]
	return o, nil
}

// set sets the option -name (in, out or dir) to value.
func (o *options) set(name, value, cwd string) error {
	p := value
	if !filepath.IsAbs(p) {
		if name == "dir" {
			return fmt.Errorf("-dir %s: the guest directory must be an absolute path", value)
		}
		p = filepath.Join(cwd, p)
	}
	p = filepath.Clean(p)
	if why := reservedGuestPath(filepath.ToSlash(p), name == "dir"); why != "" {
		return fmt.Errorf("-%s %s: %s", name, value, why)
	}
	switch name {
	case "in":
		if _, err := os.Lstat(p); err != nil {
			return fmt.Errorf("-in %s: %w", value, err)
		}
		o.inputs = append(o.inputs, p)
	case "out":
		o.outputs = append(o.outputs, p)
	case "dir":
		if o.dir != "" {
			return fmt.Errorf("-dir given twice (%s and %s)", o.dir, value)
		}
		o.dir = p
	}
	return nil
}

// reservedGuestPath says why the clean absolute guest path p cannot be given
// to -in, -out or (isDir) -dir, or returns "".
func reservedGuestPath(p string, isDir bool) string {
	under := func(dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if under(d) {
			return "the guest kernel mounts its own file system on " + d
		}
	}
	if isDir {
		return ""
	}
	if p == "/" || p == "/init" || under("/"+guestQemuexec) {
		return "the guest's /, /init and /" + guestQemuexec + " are qemuexec's"
	}
	return ""
}

// buildInitrd writes the guest's initramfs to path: /init (built or taken
// from the cache), the binary with its arguments and environment, the -in
// paths, and, without -dir, the testdata of the package directory cwd that
// go test runs it in.
func buildInitrd(path, cwd string, opts options, nonce string, warn func(string)) error {
	cacheDir, err := os.UserCacheDir()
	if err != nil {
		return fmt.Errorf("finding the cache directory: %w", err)
	}
	initPath, err := initProgram(filepath.Join(cacheDir, "gicits", "qemuexec"))
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	err = writeInitrd(f, initrdSpec{
		initProgram: initPath,
		testBinary:  opts.binary,
		args:        opts.args,
		repoRoot:    findRepoRoot(cwd),
		pkgDir:      cwd,
		env:         guestEnv(os.Environ()),
		nonce:       nonce,
		inputs:      opts.inputs,
		outputs:     opts.outputs,
		dir:         opts.dir,
		splitStderr: opts.splitStderr,
	}, warn)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the initramfs: %w", err)
	}
	return nil
}

// qemuArgs is the QEMU command line: the machine of kvm-vgic-its.md section 1
// (GICv3 with an ITS, EL2 so the guest kernel runs KVM), no network card
// (nothing uses it, and its option ROM is only in a recommended package), and
// a kernel command line that keeps the console quiet and turns a panic into
// an immediate reboot, which -no-reboot turns into QEMU's exit.
//
// Multi-threaded TCG is QEMU 7.2's default for this guest on an x86-64 host;
// it is spelled out because it matters: boot to /init took 7.1-7.7 s with it
// and 7.8-8.1 s with thread=single on the 2-core machine.
func qemuArgs(kernel, initrd string) []string {
	return []string{
		"-M", "virt,gic-version=3,virtualization=on,its=on",
		"-cpu", "max",
		"-accel", "tcg,thread=multi",
		"-smp", "2",
		"-m", fmt.Sprint(guestMemMiB),
		"-nographic",
		"-no-reboot",
		"-nic", "none",
		"-kernel", kernel,
		"-initrd", initrd,
		"-append", "console=ttyAMA0 quiet panic=-1 rdinit=/init",
	}
}

type bootSpec struct {
	qemu    string
	args    []string
	kernel  string // the kernel image in args, named when the guest reports no release
	nonce   string
	outputs []string // the -out paths
	timeout time.Duration
	// expired, when not nil, stands in for the timer of timeout: a value
	// received on it is the timeout (tests send one when the fake QEMU
	// says it is ready, instead of guessing how long that takes).
	expired <-chan time.Time
	t0      time.Time // when qemuexec started, for the total time
	// oopsGrace is how long the test may take to exit after an oops
	// (postOopsGrace when 0).
	oopsGrace time.Duration
	// summaryFile, when not "", is a file the summary line is appended
	// to as well (GICITS_QEMU_SUMMARY): scripts/kvm-harness reads the
	// guests' kernel releases from it whether or not go test shows the
	// test's output.
	summaryFile string
}

// boot runs QEMU, streams the binary's output to stdout (its framed
// standard error to stderr) while it runs, writes the -out files the guest
// sends, and returns the binary's exit status, or 1 with a report on stderr
// if the run failed for any other reason.
func boot(spec bootSpec, stdout, stderr, noise io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	q, err := startQEMU(spec, newConsole(spec.nonce, spec.outputs, stdout, stderr, noise))
	if err != nil {
		fmt.Fprintf(stderr, "qemuexec: %v\n", err)
		return 1
	}
	o := judge(q.con, q.wait(spec, sigs))
	q.report(stderr, o)
	summary := q.summary(spec)
	fmt.Fprintln(stderr, summary)
	if spec.summaryFile != "" {
		if err := appendLine(spec.summaryFile, summary); err != nil {
			fmt.Fprintf(stderr, "qemuexec: warning: GICITS_QEMU_SUMMARY: %v\n", err)
		}
	}
	return o.code
}

// appendLine appends line and a newline to the file at path in one write,
// creating the file: go test runs test binaries in parallel, and their
// lines must not interleave.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// qemuRun is one QEMU process of boot and what it printed.
type qemuRun struct {
	cmd     *exec.Cmd
	con     *console
	stderr  *tailWriter // QEMU's own stderr, its end
	started time.Time
	// done receives QEMU's exit once its console has been read to the
	// end; exitedAt, when the console reported the test's exit status, is
	// written by the reader before that and read only after it.
	done     chan error
	exitedAt time.Time
}

// startQEMU starts QEMU with its console read into con.
func startQEMU(spec bootSpec, con *console) (*qemuRun, error) {
	q := &qemuRun{cmd: exec.Command(spec.qemu, spec.args...), con: con, stderr: &tailWriter{max: 16 << 10}, done: make(chan error, 1)}
	q.cmd.SysProcAttr = qemuProcAttr()
	pipe, err := q.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	q.cmd.Stderr = q.stderr
	q.started = time.Now()
	if err := q.cmd.Start(); err != nil {
		return nil, fmt.Errorf("FAIL: cannot start QEMU: %v (install qemu-system-arm, or let scripts/kvm-harness do it; GICITS_QEMU_BIN overrides the binary)", err)
	}
	go q.readConsole(pipe)
	return q, nil
}

// readConsole feeds QEMU's output to the console line by line, then waits
// for QEMU to exit and sends its error on q.done.
func (q *qemuRun) readConsole(pipe io.Reader) {
	br := bufio.NewReaderSize(pipe, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			q.con.Line(strings.TrimSuffix(line, "\n"))
			if q.con.exited && q.exitedAt.IsZero() {
				q.exitedAt = time.Now()
			}
		}
		if err != nil {
			break
		}
	}
	q.done <- q.cmd.Wait()
}

// wait waits for QEMU to exit, killing it when the run times out, when
// qemuexec is signalled, or when QEMU has not powered off postExitGrace
// after the test reported its exit status; it says how the run ended.
func (q *qemuRun) wait(spec bootSpec, sigs <-chan os.Signal) ending {
	e := ending{timeout: spec.timeout}
	deadline := time.NewTimer(spec.timeout)
	defer deadline.Stop()
	expired := deadline.C
	if spec.expired != nil {
		expired = spec.expired
	}
	exitSeen, oopsSeen := q.con.exitSeen, q.con.oopsSeen
	oopsGrace := cmp.Or(spec.oopsGrace, postOopsGrace)
	var grace, stuck <-chan time.Time
	kill := func() { _ = q.cmd.Process.Kill() }
	for {
		select {
		case err := <-q.done:
			e.qemuErr = err
			return e
		case <-expired:
			e.timedOut = true
			kill()
		case s := <-sigs:
			e.signal = s
			kill()
		case <-exitSeen:
			exitSeen, stuck = nil, nil
			grace = time.After(postExitGrace)
		case <-oopsSeen:
			oopsSeen = nil
			if exitSeen != nil {
				stuck = time.After(oopsGrace)
			}
		case <-stuck:
			stuck = nil
			e.oopsKilled = oopsGrace
			kill()
		case <-grace:
			grace = nil
			e.graceKilled = true
			kill()
		}
	}
}

// report writes o's warnings and failure to stderr, on failure with the
// last console lines and QEMU's stderr.
func (q *qemuRun) report(stderr io.Writer, o outcome) {
	for _, w := range o.warnings {
		fmt.Fprintf(stderr, "qemuexec: warning: %s\n", w)
	}
	if o.failure != "" {
		fmt.Fprintf(stderr, "qemuexec: FAIL: %s\n", o.failure)
		tail := q.con.Tail()
		fmt.Fprintf(stderr, "qemuexec: last %d console lines:\n", len(tail))
		for _, l := range tail {
			fmt.Fprintf(stderr, "  | %s\n", l)
		}
		if s := strings.TrimSpace(q.stderr.String()); s != "" {
			fmt.Fprintf(stderr, "qemuexec: QEMU's stderr:\n")
			for l := range strings.SplitSeq(s, "\n") {
				fmt.Fprintf(stderr, "  | %s\n", l)
			}
		}
	}
}

// summary is the run's last line: the kernel the guest ran, as its /init
// reported it (uname -r), and the timings. A guest that reported no
// release (it died before /init ran) is named by its image.
//
//	qemuexec: kernel 6.12.95+deb12-arm64: total 12.3s, boot 7.4s, test 4.6s
func (q *qemuRun) summary(spec bootSpec) string {
	kernel := "kernel " + q.con.release
	if q.con.release == "" {
		kernel = "kernel unknown (image " + spec.kernel + " reported no release)"
	}
	line := fmt.Sprintf("qemuexec: %s: total %.1fs", kernel, time.Since(spec.t0).Seconds())
	if q.con.started {
		line += fmt.Sprintf(", boot %.1fs", q.con.startedAt.Sub(q.started).Seconds())
		if !q.exitedAt.IsZero() {
			line += fmt.Sprintf(", test %.1fs", q.exitedAt.Sub(q.con.startedAt).Seconds())
		}
	}
	return line
}

// kernelPath returns the guest kernel named by GICITS_KERNEL.
func kernelPath(getenv func(string) string) (string, error) {
	k := getenv("GICITS_KERNEL")
	if k == "" {
		return "", errors.New("GICITS_KERNEL is not set: it must name an arm64 Linux kernel image " +
			"(vmlinuz, KVM built in); scripts/kvm-harness downloads one and sets it")
	}
	fi, err := os.Stat(k)
	if err != nil {
		return "", fmt.Errorf("GICITS_KERNEL=%s: %w; scripts/kvm-harness downloads an arm64 kernel", k, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("GICITS_KERNEL=%s is not a regular file", k)
	}
	return k, nil
}

// checkTestBinary refuses binaries the guest cannot run: not arm64 ELF, or
// dynamically linked (the initramfs has no libc or loader).
func checkTestBinary(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("test binary %s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("test binary %s is built for %v, not arm64: run go test with GOARCH=arm64 CGO_ENABLED=0", path, f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("test binary %s is dynamically linked: run go test with CGO_ENABLED=0", path)
		}
	}
	return nil
}

// overallTimeout is how long one run may take from QEMU's start:
// GICITS_QEMU_TIMEOUT if set, else -test.timeout plus bootSlack
// (unboundedTimeout for -test.timeout=0, go test's "no timeout"), else
// defaultTimeout.
func overallTimeout(args []string, getenv func(string) string) (time.Duration, error) {
	if v := getenv("GICITS_QEMU_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("GICITS_QEMU_TIMEOUT=%q: want a positive duration such as 15m", v)
		}
		return d, nil
	}
	if v, ok := testFlag(args, "timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("-test.timeout=%q: %w", v, err)
		}
		if d <= 0 {
			return unboundedTimeout, nil
		}
		return d + bootSlack, nil
	}
	return defaultTimeout, nil
}

func newNonce() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// tailWriter keeps the last max bytes written to it. Only one goroutine (the
// exec package's copier) writes; String is called after the process ended.
type tailWriter struct {
	max int
	buf []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return string(t.buf) }
