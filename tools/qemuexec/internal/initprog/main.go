//go:build linux

// Command initprog is the /init of the throwaway arm64 guest that qemuexec
// boots for every run. qemuexec embeds this file, cross-compiles it
// (GOARCH=arm64 CGO_ENABLED=0) and puts it at /init in the initramfs next to
// /qemuexec/config.json, which says what to run.
//
// It mounts devtmpfs on /dev, proc on /proc, sysfs on /sys and tmpfs on /tmp
// (not on /tmp when the initramfs holds files there), creates the
// directories the config names, prints a marker line with the kernel's
// release (uname -r), changes to the binary's working directory, runs the
// binary with the console as its standard output and error (or, with
// split_stderr, its standard error framed line by line as stderr markers),
// sends back the output files that exist as file markers, prints a marker
// line with the exit status, syncs and powers the machine off.
//
// It must never hang and never exit normally (the kernel panics when init
// exits): every failure is reported with an init-error marker and followed by
// the power-off. If even the power-off fails, it exits; with panic=-1 on the
// kernel command line and QEMU's -no-reboot, the panic stops QEMU. A process
// the binary leaves behind holding its standard error open is waited for
// only stderrDrainLimit, and output files are opened without following
// symlinks or blocking, so that a FIFO left at an output path is reported,
// not waited on.
//
// This file is a self-contained program: it uses the standard library only
// (syscall, not golang.org/x/sys) because qemuexec builds it in a scratch
// module with no dependencies. The marker and config formats are shared with
// qemuexec's console.go and initrd.go and must change together.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// configPath is where qemuexec puts the run's configuration.
const configPath = "/qemuexec/config.json"

// config mirrors guestConfig in qemuexec's initrd.go.
type config struct {
	Nonce    string   `json:"nonce"`
	Binary   string   `json:"binary"`    // guest path of the binary
	Args     []string `json:"args"`      // arguments after the binary
	Dir      string   `json:"dir"`       // guest path of its working directory
	Env      []string `json:"env"`       // its whole environment
	MakeDirs []string `json:"make_dirs"` // directories to create after the mounts
	// Outputs are the files to send back after the binary exited (-out),
	// in order; a marker names one by its index here.
	Outputs []string `json:"outputs,omitempty"`
	// SplitStderr frames the binary's standard error as stderr markers
	// (-stderr) instead of giving it the console.
	SplitStderr bool `json:"split_stderr,omitempty"`
	// KeepInitramfsTmp mounts no tmpfs on /tmp: the initramfs holds files
	// there (-in, -dir) that a mount would hide.
	KeepInitramfsTmp bool `json:"keep_initramfs_tmp,omitempty"`
}

// Marker kinds, after "qemuexec:<nonce>:"; console.go on the host lists
// what each means.
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
	// stderrChunk bounds a stderr marker's text: a longer line goes as
	// several stderr-part markers and a stderr marker.
	stderrChunk = 4096
	// fileChunk is the bytes of an output file per file-data marker, a
	// multiple of 3 so that only the last line has base64 padding; the
	// line carries 4096 base64 characters.
	fileChunk = 3072
	// stderrDrainLimit is how long the binary's standard error is read
	// after it exited: a process it left behind may hold the pipe open.
	stderrDrainLimit = 5 * time.Second
)

func main() {
	cfg, err := readConfig()
	if err != nil {
		// Without the nonce no marker can be written; the host reports the
		// missing marker and shows this line among the last console lines.
		fmt.Fprintf(os.Stderr, "qemuexec init: %v\n", err)
		powerOff()
		return
	}
	status, err := run(cfg)
	if err != nil {
		writeMarker(os.Stdout, cfg.Nonce, markerInitError, oneLine(err.Error()))
	} else {
		sendOutputs(os.Stdout, cfg.Nonce, cfg.Outputs)
		writeMarker(os.Stdout, cfg.Nonce, markerExit, strconv.Itoa(status))
	}
	powerOff()
}

func readConfig() (*config, error) {
	b, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var cfg config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", configPath, err)
	}
	if cfg.Nonce == "" || cfg.Binary == "" || cfg.Dir == "" {
		return nil, fmt.Errorf("%s lacks nonce, binary or dir", configPath)
	}
	return &cfg, nil
}

// run prepares the machine and runs the binary, returning its exit status
// (128+signal number if a signal killed it).
func run(cfg *config) (int, error) {
	if err := mountAll(cfg.KeepInitramfsTmp); err != nil {
		return 0, err
	}
	for _, d := range cfg.MakeDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
	}
	// The release only names the kernel in the host's report: a kernel
	// that hides it is no reason not to run the binary.
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		writeMarker(os.Stdout, cfg.Nonce, markerKernel, oneLine(strings.TrimSpace(string(rel))))
	}
	if err := os.Chdir(cfg.Dir); err != nil {
		return 0, err
	}
	return runBinary(cfg)
}

// mountAll mounts the kernel's file systems, and a tmpfs on /tmp unless
// keepTmp, and makes /tmp writable by all.
func mountAll(keepTmp bool) error {
	mounts := []struct{ source, target, fstype string }{
		{"devtmpfs", "/dev", "devtmpfs"},
		{"proc", "/proc", "proc"},
		{"sysfs", "/sys", "sysfs"},
		{"tmpfs", "/tmp", "tmpfs"},
	}
	if keepTmp {
		mounts = mounts[:3]
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return err
		}
		if err := syscall.Mount(m.source, m.target, m.fstype, 0, ""); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	if err := os.MkdirAll("/tmp", 0o755); err != nil {
		return err
	}
	return os.Chmod("/tmp", 0o1777)
}

// runBinary runs the binary of cfg and returns its exit status.
func runBinary(cfg *config) (int, error) {
	cmd := exec.Command(cfg.Binary, cfg.Args...)
	cmd.Dir = cfg.Dir
	cmd.Env = cfg.Env
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	var stderrR, stderrW *os.File
	if cfg.SplitStderr {
		var err error
		if stderrR, stderrW, err = os.Pipe(); err != nil {
			return 0, fmt.Errorf("creating the pipe for the binary's stderr: %w", err)
		}
		defer stderrR.Close()
		cmd.Stderr = stderrW
	}
	writeMarker(os.Stdout, cfg.Nonce, markerStart, "")
	err := cmd.Start()
	if stderrW != nil {
		stderrW.Close() // the child has its own copy
	}
	if err != nil {
		return 0, fmt.Errorf("cannot start the binary: %w", err)
	}
	var framed chan struct{}
	if stderrR != nil {
		framed = make(chan struct{})
		go func() {
			defer close(framed)
			_ = frameStderr(os.Stdout, cfg.Nonce, stderrR)
		}()
	}
	err = cmd.Wait()
	if framed != nil {
		drainStderr(framed, stderrR)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exitErr):
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			note(cfg, fmt.Sprintf("qemuexec init: the binary was killed by signal %v", ws.Signal()))
			return 128 + int(ws.Signal()), nil
		}
		return exitErr.ExitCode(), nil
	default:
		return 0, fmt.Errorf("waiting for the binary: %w", err)
	}
}

// note writes a message of /init's own where the binary's standard error
// goes.
func note(cfg *config, msg string) {
	if cfg.SplitStderr {
		writeMarker(os.Stdout, cfg.Nonce, markerStderr, msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

// drainStderr waits until the framing of the binary's standard error is
// done (framed is closed), at most stderrDrainLimit; then it closes r, which
// ends the framing at once.
func drainStderr(framed <-chan struct{}, r *os.File) {
	t := time.NewTimer(stderrDrainLimit)
	defer t.Stop()
	select {
	case <-framed:
	case <-t.C:
		r.Close()
		<-framed
	}
}

// frameStderr copies r to w as marker lines, one write each: a line that
// ends in a newline as stderr=<line> (without the newline), any other piece
// (a final partial line, or a stderrChunk-byte piece of a longer line) as
// stderr-part=<piece>. It returns when r ends (nil) or fails.
func frameStderr(w io.Writer, nonce string, r io.Reader) error {
	br := bufio.NewReaderSize(r, stderrChunk)
	for {
		piece, err := br.ReadSlice('\n')
		if len(piece) > 0 {
			kind := markerStderrPart
			if piece[len(piece)-1] == '\n' {
				kind, piece = markerStderr, piece[:len(piece)-1]
			}
			if werr := writeMarker(w, nonce, kind, string(piece)); werr != nil {
				return werr
			}
		}
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
		case err == io.EOF:
			return nil
		default:
			return err
		}
	}
}

// sendOutputs sends, in order, each of paths that is a file in the guest:
// a regular file as sendFile does, anything else as a file-error marker
// that says why it was not sent. A path where nothing exists sends nothing.
// It stops at the first failed write to w.
func sendOutputs(w io.Writer, nonce string, paths []string) error {
	for i, p := range paths {
		f, err := openOutput(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil {
			err = sendFile(w, nonce, i, f)
			f.Close()
		}
		if err != nil {
			if werr := writeMarker(w, nonce, markerFileError, fmt.Sprintf("%d:%s", i, oneLine(err.Error()))); werr != nil {
				return werr
			}
		}
	}
	return nil
}

// openOutput opens the regular file at p for reading. It refuses anything
// else, and opens without following a symlink or blocking, so that a FIFO
// put there between the check and the open fails rather than hangs.
func openOutput(p string) (*os.File, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (mode %v)", p, fi.Mode())
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s was replaced while it was opened", p)
	}
	return f, nil
}

// sendFile writes r to w as output file index: a file-begin=<index>
// marker, one file-data=<base64> marker per fileChunk bytes (standard
// base64 with padding, so every line decodes alone), and
// file-end=<index>:<size>:<sha256 hex> with the size and SHA-256 of all
// the bytes sent. If reading r fails it returns the error, having sent no
// end marker.
func sendFile(w io.Writer, nonce string, index int, r io.Reader) error {
	if err := writeMarker(w, nonce, markerFileBegin, strconv.Itoa(index)); err != nil {
		return err
	}
	sum := sha256.New()
	var size int64
	buf := make([]byte, fileChunk)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			sum.Write(buf[:n])
			size += int64(n)
			if werr := writeMarker(w, nonce, markerFileData, base64.StdEncoding.EncodeToString(buf[:n])); werr != nil {
				return werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return writeMarker(w, nonce, markerFileEnd, fmt.Sprintf("%d:%d:%x", index, size, sum.Sum(nil)))
}

// writeMarker writes the marker line qemuexec:<nonce>:<kind><value> in one
// write, so that the console never interleaves it with the binary's output.
func writeMarker(w io.Writer, nonce, kind, value string) error {
	_, err := io.WriteString(w, "qemuexec:"+nonce+":"+kind+value+"\n")
	return err
}

// powerOff syncs and turns the machine off; QEMU then exits with status 0.
func powerOff() {
	syscall.Sync()
	err := syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	fmt.Fprintf(os.Stderr, "qemuexec init: power off failed: %v\n", err)
	os.Exit(1)
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
