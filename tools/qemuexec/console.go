package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The guest's /init reports to the host through marker lines on the console:
//
//	qemuexec:<nonce>:kernel=<release>   the guest kernel's release (uname -r), before start
//	qemuexec:<nonce>:start              the binary is about to be started
//	qemuexec:<nonce>:stderr=<text>      with -stderr: a line the binary wrote on stderr, without its newline
//	qemuexec:<nonce>:stderr-part=<text> with -stderr: stderr text with no newline after it (a final
//	                                    partial line, or a 4096-byte piece of a longer line)
//	qemuexec:<nonce>:file-begin=<i>     the -out file with index i (in -out order) follows
//	qemuexec:<nonce>:file-data=<base64> its next bytes (3072 at most), standard base64 with padding
//	qemuexec:<nonce>:file-end=<i>:<size>:<sha256 hex>
//	                                    its end, with its size and SHA-256
//	qemuexec:<nonce>:file-error=<i>:<text>
//	                                    the guest has a file at -out path i but cannot send it
//	qemuexec:<nonce>:exit-status=<n>    the binary exited with status n (128+signal if killed)
//	qemuexec:<nonce>:init-error=<text>  /init could not run it
//
// The stderr and file markers come between start and exit-status; the file
// markers after the binary exited. The nonce is drawn fresh for every run,
// so neither the binary's output nor kernel messages can produce a marker by
// accident. A marker may follow text on the same line (output that did not
// end in a newline): that text is output. Carriage returns are removed from
// every line, as the guest's tty adds one before each newline.
const markerPrefix = "qemuexec:"

const (
	markerKernel     = "kernel="
	markerStart      = "start"
	markerExit       = "exit-status="
	markerInitError  = "init-error="
	markerStderr     = "stderr="
	markerStderrPart = "stderr-part="
	markerFileBegin  = "file-begin="
	markerFileData   = "file-data="
	markerFileEnd    = "file-end="
	markerFileError  = "file-error="
)

const (
	// tailLines is how many console lines a failure report shows.
	tailLines = 40
	// tailLineBytes bounds a line of the report: a file-data marker
	// carries 4 KiB of base64.
	tailLineBytes = 240
)

// Console lines that mean the kernel died or is about to.
const (
	panicText = "Kernel panic - not syncing"
	oopsText  = "Internal error: Oops"
	oomText   = "Out of memory: Killed process"
)

// console consumes the guest console line by line: it forwards the binary's
// output, writes the -out files the guest sends, keeps the last lines for
// failure reports and records what the markers and kernel messages said. It
// is not safe for concurrent use.
type console struct {
	nonce   string
	outputs []string  // the -out paths, by the index the file markers name
	out     io.Writer // where the binary's output goes (the host's stdout)
	errOut  io.Writer // where its framed standard error goes (the host's stderr)
	noise   io.Writer // where console lines outside the binary's run go; nil drops them

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
	oomLine   string // first OOM-killer line

	file         *incomingFile // the -out file being received, nil between files
	strayData    bool          // file data came outside a file
	fileFailures []string      // -out files that were sent but not written, and why

	exitSeen chan struct{} // closed when the exit marker arrives
	oopsSeen chan struct{} // closed when the first oops line arrives
}

// incomingFile is an -out file the guest is sending.
type incomingFile struct {
	index   int
	data    bytes.Buffer
	corrupt string // why a data line did not decode; "" while all did
}

// newConsole returns a console for the run with this nonce and -out paths
// that writes the binary's output to stdout, its framed standard error to
// stderr and the console outside the binary's run to noise (nil drops it).
func newConsole(nonce string, outputs []string, stdout, stderr, noise io.Writer) *console {
	return &console{nonce: nonce, outputs: outputs, out: stdout, errOut: stderr, noise: noise,
		exitSeen: make(chan struct{}), oopsSeen: make(chan struct{})}
}

// Line handles one console line, without its line terminator. Carriage
// returns (the tty's ONLCR) are removed.
func (c *console) Line(line string) {
	line = strings.ReplaceAll(line, "\r", "")
	c.remember(line)

	if c.panicLine == "" && strings.Contains(line, panicText) {
		c.panicLine = strings.TrimSpace(line)
	}
	if c.oomLine == "" && strings.Contains(line, oomText) {
		c.oomLine = strings.TrimSpace(line)
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
	if !c.marker(kind, value) {
		// Not a marker /init writes: show it rather than trust it.
		c.emit(line[len(before):])
	}
}

// marker acts on a marker of kind with value; it reports false, having
// done nothing, for a marker /init does not write where it stands.
func (c *console) marker(kind, value string) bool {
	running := c.started && !c.exited
	switch kind {
	case markerKernel:
		if c.release != "" || c.started {
			return false // only /init reports the kernel, once, before the binary
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
			return false
		}
		c.exited = true
		c.status = n
		close(c.exitSeen)
	case markerInitError:
		if c.initError == "" {
			c.initError = value
		}
	case markerStderr, markerStderrPart:
		if !running {
			return false
		}
		io.WriteString(c.errOut, value)
		if kind == markerStderr {
			io.WriteString(c.errOut, "\n")
		}
	case markerFileBegin, markerFileData, markerFileEnd, markerFileError:
		return running && c.fileMarker(kind, value)
	}
	return true
}

// fileMarker acts on a file marker; it reports false for one that names no
// -out file.
func (c *console) fileMarker(kind, value string) bool {
	switch kind {
	case markerFileBegin:
		i, ok := c.outputIndex(value)
		if !ok {
			return false
		}
		c.cutFile()
		c.file = &incomingFile{index: i}
	case markerFileData:
		switch {
		case c.file == nil:
			c.strayData = true
		case c.file.corrupt != "":
		default:
			b, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				c.file.corrupt = fmt.Sprintf("a data line does not decode (%v)", err)
			} else {
				c.file.data.Write(b)
			}
		}
	case markerFileEnd:
		index, rest, _ := strings.Cut(value, ":")
		i, ok := c.outputIndex(index)
		size, sum, _ := strings.Cut(rest, ":")
		n, err := strconv.Atoi(size)
		if !ok || err != nil {
			return false
		}
		if c.file == nil || c.file.index != i {
			c.fileFailed(i, "its end came without its beginning (a garbled console line)")
			return true
		}
		c.endFile(n, sum)
	case markerFileError:
		index, why, _ := strings.Cut(value, ":")
		i, ok := c.outputIndex(index)
		if !ok {
			return false
		}
		if c.file != nil && c.file.index == i {
			c.file = nil
		}
		c.fileFailed(i, "the guest could not send it: "+why)
	}
	return true
}

// outputIndex parses the index of an -out file.
func (c *console) outputIndex(s string) (int, bool) {
	i, err := strconv.Atoi(s)
	return i, err == nil && i >= 0 && i < len(c.outputs)
}

// endFile checks the file received against the size and SHA-256 (hex) the
// guest sent and writes it to its -out path, or records why not.
func (c *console) endFile(size int, sum string) {
	f := c.file
	c.file = nil
	got := sha256.Sum256(f.data.Bytes())
	switch {
	case f.corrupt != "":
		c.fileFailed(f.index, "corrupt: "+f.corrupt)
	case f.data.Len() != size:
		c.fileFailed(f.index, fmt.Sprintf("corrupt: %d bytes arrived, the guest sent %d", f.data.Len(), size))
	case hex.EncodeToString(got[:]) != sum:
		c.fileFailed(f.index, fmt.Sprintf("corrupt: the bytes that arrived have SHA-256 %x, the guest's have %s", got, sum))
	default:
		if err := replaceFile(c.outputs[f.index], f.data.Bytes()); err != nil {
			c.fileFailed(f.index, err.Error())
		}
	}
}

// cutFile records the file being received, if any, as cut short.
func (c *console) cutFile() {
	if c.file != nil {
		c.fileFailed(c.file.index, fmt.Sprintf("truncated: %d bytes arrived and no end marker", c.file.data.Len()))
		c.file = nil
	}
}

func (c *console) fileFailed(index int, why string) {
	c.fileFailures = append(c.fileFailures, fmt.Sprintf("-out %s: %s; not written", c.outputs[index], why))
}

// replaceFile writes data to a new file beside path and renames it over
// path, so that path holds either what it held or all of data. A new file
// gets mode 0644, a replaced one keeps its mode; missing parent directories
// are created.
func replaceFile(path string, data []byte) (err error) {
	// The directory must exist: a run never creates host directories
	// (the caller checks the -out paths before it boots the guest).
	dir := filepath.Dir(path)
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file on the host", path)
		}
		perm = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".qemuexec-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// parseMarker finds this run's marker in line. It returns the text before
// the marker, the marker kind (one of the marker* constants) and the value
// after "=" for all but markerStart: trimmed of spaces for markerKernel and
// markerExit, verbatim for the others.
func (c *console) parseMarker(line string) (before, kind, value string, ok bool) {
	prefix := markerPrefix + c.nonce + ":"
	i := strings.Index(line, prefix)
	if i < 0 {
		return "", "", "", false
	}
	before, rest := line[:i], line[i+len(prefix):]
	if rest == markerStart {
		return before, markerStart, "", true
	}
	for _, k := range []string{markerKernel, markerExit} {
		if v, ok := strings.CutPrefix(rest, k); ok {
			return before, k, strings.TrimSpace(v), true
		}
	}
	for _, k := range []string{markerInitError, markerStderr, markerStderrPart, markerFileBegin, markerFileData, markerFileEnd, markerFileError} {
		if v, ok := strings.CutPrefix(rest, k); ok {
			return before, k, v, true
		}
	}
	return "", "", "", false
}

// emit sends a line to the binary's output while it runs, to noise otherwise.
func (c *console) emit(line string) {
	if c.started && !c.exited {
		fmt.Fprintln(c.out, line)
		return
	}
	if c.noise != nil {
		fmt.Fprintln(c.noise, line)
	}
}

// remember keeps line for the failure report, cut to tailLineBytes.
func (c *console) remember(line string) {
	if len(line) > tailLineBytes {
		line = fmt.Sprintf("%s... (%d bytes)", line[:tailLineBytes], len(line))
	}
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
// The binary's reported exit status is authoritative once the exit marker
// was seen, unless an -out file it wrote did not arrive intact: then the run
// fails (status 1), as it does without the marker, and failure names the
// most fundamental cause: kernel panic, then /init error, interruption,
// timeout, QEMU failure, and finally the bare absence of the marker; and
// then the files.
func judge(c *console, e ending) outcome {
	files := c.fileFailuresAtEnd()
	if c.exited {
		o := outcome{code: c.status}
		if len(files) > 0 {
			o.code = 1
			o.failure = fmt.Sprintf("%s (the binary exited with status %d)", strings.Join(files, "; "), c.status)
		}
		if c.panicLine != "" {
			o.warnings = append(o.warnings, "the kernel panicked after the test exited: "+c.panicLine)
		}
		if c.oomLine != "" {
			o.warnings = append(o.warnings, fmt.Sprintf("the guest ran out of its %d MiB of memory and the kernel killed a process: %s", guestMemMiB, c.oomLine))
		}
		if e.graceKilled {
			o.warnings = append(o.warnings, "the guest did not power off after the test exited; QEMU was killed")
		} else if e.qemuErr != nil {
			o.warnings = append(o.warnings, fmt.Sprintf("QEMU exited with an error after the test exited: %v", e.qemuErr))
		}
		return o
	}
	why := whyNoExit(c, e)
	if len(files) > 0 {
		why += "; " + strings.Join(files, "; ")
	}
	return outcome{code: 1, failure: why}
}

// fileFailuresAtEnd is c.fileFailures with, once the console has ended,
// the file still being received and any file data that came outside a file.
func (c *console) fileFailuresAtEnd() []string {
	c.cutFile()
	if c.strayData {
		c.strayData = false
		c.fileFailures = append(c.fileFailures, "file data came without a begin marker (a garbled console line)")
	}
	return c.fileFailures
}

// whyNoExit says why a run ended without the exit marker.
func whyNoExit(c *console, e ending) string {
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
	return why
}
