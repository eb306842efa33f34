package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// The guest's /init reports to the host through marker lines on the console:
//
//	qemuexec:<nonce>:kernel=<release>   the guest kernel's release (uname -r), before start
//	qemuexec:<nonce>:start              the test binary is about to be started
//	qemuexec:<nonce>:exit-status=<n>    it exited with status n (128+signal if killed)
//	qemuexec:<nonce>:init-error=<text>  /init could not run it
//
// The nonce is drawn fresh for every run, so neither test output nor kernel
// messages can produce a marker by accident. A marker may follow text on the
// same line (test output that did not end in a newline): that text is output.
const markerPrefix = "qemuexec:"

const (
	markerKernel    = "kernel="
	markerStart     = "start"
	markerExit      = "exit-status="
	markerInitError = "init-error="
)

// tailLines is how many console lines a failure report shows.
const tailLines = 40

// Console lines that mean the kernel died or is about to.
const (
	panicText = "Kernel panic - not syncing"
	oopsText  = "Internal error: Oops"
)

// console consumes the guest console line by line: it forwards the test's
// output, keeps the last lines for failure reports and records what the
// markers and kernel messages said. It is not safe for concurrent use.
type console struct {
	nonce string
	out   io.Writer // where the test's output goes (the host's stdout)
	noise io.Writer // where console lines outside the test go; nil drops them

	tail []string // ring of the last tailLines lines
	next int      // index in tail of the oldest line once tail is full

	release   string // the guest kernel's release, "" until the kernel marker
	started   bool
	startedAt time.Time
	exited    bool
	status    int
	initError string
	panicLine string // first "Kernel panic" line
	oopsLine  string // first "Oops" line

	exitSeen chan struct{} // closed when the exit marker arrives
	oopsSeen chan struct{} // closed when the first oops line arrives
}

func newConsole(nonce string, out, noise io.Writer) *console {
	return &console{nonce: nonce, out: out, noise: noise, exitSeen: make(chan struct{}), oopsSeen: make(chan struct{})}
}

// Line handles one console line, without its line terminator. Carriage
// returns (the tty's ONLCR) are removed.
func (c *console) Line(line string) {
	line = strings.ReplaceAll(line, "\r", "")
	c.remember(line)

	if c.panicLine == "" && strings.Contains(line, panicText) {
		c.panicLine = strings.TrimSpace(line)
	}
	if c.oopsLine == "" && strings.Contains(line, oopsText) {
		c.oopsLine = strings.TrimSpace(line)
		close(c.oopsSeen)
	}

	before, kind, value, ok := c.parseMarker(line)
	if !ok {
		c.emit(line)
		return
	}
	if before != "" {
		c.emit(before)
	}
	switch kind {
	case markerKernel:
		if c.release != "" || c.started {
			// Only /init reports the kernel, once, before the test.
			c.emit(line)
			return
		}
		c.release = value
	case markerStart:
		if !c.started {
			c.started = true
			c.startedAt = time.Now()
		}
	case markerExit:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 || c.exited {
			// Not a marker /init writes: show it rather than trust it.
			c.emit(line)
			return
		}
		c.exited = true
		c.status = n
		close(c.exitSeen)
	case markerInitError:
		if c.initError == "" {
			c.initError = value
		}
	}
}

// parseMarker finds this run's marker in line. It returns the text before the
// marker, the marker kind (markerKernel, markerStart, markerExit,
// markerInitError) and the value after "=" for all but markerStart.
func (c *console) parseMarker(line string) (before, kind, value string, ok bool) {
	prefix := markerPrefix + c.nonce + ":"
	i := strings.Index(line, prefix)
	if i < 0 {
		return "", "", "", false
	}
	before, rest := line[:i], line[i+len(prefix):]
	switch {
	case strings.HasPrefix(rest, markerKernel):
		return before, markerKernel, strings.TrimSpace(rest[len(markerKernel):]), true
	case rest == markerStart:
		return before, markerStart, "", true
	case strings.HasPrefix(rest, markerExit):
		return before, markerExit, strings.TrimSpace(rest[len(markerExit):]), true
	case strings.HasPrefix(rest, markerInitError):
		return before, markerInitError, rest[len(markerInitError):], true
	}
	return "", "", "", false
}

// emit sends a line to the test's output while the test runs, to noise otherwise.
func (c *console) emit(line string) {
	if c.started && !c.exited {
		fmt.Fprintln(c.out, line)
		return
	}
	if c.noise != nil {
		fmt.Fprintln(c.noise, line)
	}
}

func (c *console) remember(line string) {
	if len(c.tail) < tailLines {
		c.tail = append(c.tail, line)
		return
	}
	c.tail[c.next] = line
	c.next = (c.next + 1) % tailLines
}

// Tail returns the last console lines, oldest first.
func (c *console) Tail() []string {
	return append(append([]string(nil), c.tail[c.next:]...), c.tail[:c.next]...)
}

// ending is how the QEMU process ended, as seen by the host.
type ending struct {
	timedOut    bool          // the overall deadline passed and QEMU was killed
	timeout     time.Duration // that deadline
	signal      os.Signal     // qemuexec was told to stop and killed QEMU
	qemuErr     error         // QEMU's exit error (non-zero status or killed), nil if it exited 0
	graceKilled bool          // QEMU did not exit after the exit marker and was killed
	oopsKilled  time.Duration // when not 0: no exit marker this long after an oops, and QEMU was killed
}

// outcome is qemuexec's verdict on a run.
type outcome struct {
	code     int      // qemuexec's exit status
	failure  string   // why the run failed for a reason other than the test's own status; "" if none
	warnings []string // oddities that did not change the test's status
}

// judge turns what the console said and how QEMU ended into an exit status.
// The test's reported exit status is authoritative once the exit marker was
// seen; without it the run fails (status 1) and failure names the most
// fundamental cause: kernel panic, then /init error, interruption, timeout,
// QEMU failure, and finally the bare absence of the marker.
func judge(c *console, e ending) outcome {
	if c.exited {
		o := outcome{code: c.status}
		if c.panicLine != "" {
			o.warnings = append(o.warnings, "the kernel panicked after the test exited: "+c.panicLine)
		}
		if e.graceKilled {
			o.warnings = append(o.warnings, "the guest did not power off after the test exited; QEMU was killed")
		} else if e.qemuErr != nil {
			o.warnings = append(o.warnings, fmt.Sprintf("QEMU exited with an error after the test exited: %v", e.qemuErr))
		}
		return o
	}
	stage := "after the test started"
	if !c.started {
		stage = "before the test started"
	}
	var why string
	switch {
	case c.panicLine != "":
		why = fmt.Sprintf("kernel panic %s: %s", stage, c.panicLine)
	case c.initError != "":
		why = "/init could not run the test: " + c.initError
	case e.signal != nil:
		why = fmt.Sprintf("interrupted by signal %v %s; QEMU was killed", e.signal, stage)
	case e.oopsKilled != 0:
		why = fmt.Sprintf("the kernel oopsed %s and the test did not exit within %v of it (a task that dies in the kernel may hold locks the rest wait on); QEMU was killed: %s", stage, e.oopsKilled, c.oopsLine)
	case e.timedOut:
		why = fmt.Sprintf("timeout: no exit marker within %v (%s); QEMU was killed", e.timeout, stage)
		if c.oopsLine != "" {
			why += "; the kernel oopsed: " + c.oopsLine
		}
	case e.qemuErr != nil:
		why = fmt.Sprintf("QEMU failed %s: %v", stage, e.qemuErr)
	default:
		why = fmt.Sprintf("missing exit marker: the guest stopped %s without reporting the test's exit status", stage)
		if c.oopsLine != "" {
			why += "; the kernel oopsed: " + c.oopsLine
		}
	}
	return outcome{code: 1, failure: why}
}
