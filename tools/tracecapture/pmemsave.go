package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"time"
)

// QEMU virt's RAM starts at 1 GiB (hw/arm/virt.c, VIRT_MEM); -m sets its size.
const virtRAMBase = 0x40000000

const (
	// pmemsavePoll is how often the pmemsave subcommand asks QEMU's
	// status; each asking is a connection of its own, so that the script's
	// device_del and device_add get the QMP socket in between.
	pmemsavePoll = time.Second
	// pmemsaveTimeout bounds QEMU's writing of the RAM (1 GiB takes a
	// few seconds).
	pmemsaveTimeout = 5 * time.Minute
)

// runPmemsave is the pmemsave subcommand: it waits for the guest to power
// off, saves its RAM with QEMU's pmemsave and tells QEMU to quit.
func runPmemsave(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pmemsave", flag.ContinueOnError)
	fs.SetOutput(stderr)
	socket := fs.String("socket", "", "QEMU's QMP socket (-qmp unix:PATH,server=on,wait=off)")
	out := fs.String("o", "", "the file QEMU writes the memory to")
	base := fs.String("base", fmt.Sprintf("%#x", virtRAMBase), "the guest physical address to save from (QEMU virt's RAM starts at 0x40000000)")
	size := fs.String("size", "", "how many bytes to save (the RAM's size: -m 1024 is 0x40000000)")
	wait := fs.Duration("wait", 10*time.Minute, "how long to wait for the guest to power off")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *socket == "" || *out == "" || *size == "" || fs.NArg() > 0 {
		return usageError("need -socket, -o and -size, and no other argument")
	}
	var req pmemsaveRequest
	var err error
	if req.base, err = strconv.ParseUint(*base, 0, 64); err != nil {
		return usageError("-base: " + err.Error())
	}
	if req.size, err = strconv.ParseUint(*size, 0, 64); err != nil || req.size == 0 {
		return usageError(fmt.Sprintf("-size %q: want a positive number of bytes", *size))
	}
	// QEMU opens the file itself, relative to its own directory.
	if req.file, err = filepath.Abs(*out); err != nil {
		return err
	}
	dial := func() (net.Conn, error) { return net.DialTimeout("unix", *socket, qmpTimeout) }
	if err := saveRAMWhenStopped(dial, req, time.Now().Add(*wait), pmemsavePoll); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "saved %#x bytes of guest memory from %#x in %s; QEMU told to quit\n", req.size, req.base, req.file)
	return nil
}

// pmemsaveRequest is what QMP's pmemsave saves: size bytes of guest
// physical memory from base, into file (QEMU's path).
type pmemsaveRequest struct {
	base, size uint64
	file       string
}

// errNotStopped is the answer of a status asking that found the guest still
// running.
var errNotStopped = errors.New("the guest has not powered off yet")

// saveRAMWhenStopped asks QEMU's status, on a new connection from dial,
// every poll until it is "shutdown" (the guest powered off, and QEMU,
// run with -no-shutdown, kept it as it was) or until deadline; then it has
// QEMU save req with pmemsave and tells QEMU to quit, even when pmemsave
// failed. A connection that fails counts as QEMU not there yet, or busy
// with another client, until deadline.
func saveRAMWhenStopped(dial func() (net.Conn, error), req pmemsaveRequest, deadline time.Time, poll time.Duration) error {
	for {
		err := trySaveRAM(dial, req)
		if err == nil {
			return nil
		}
		var fatal pmemsaveError
		if errors.As(err, &fatal) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for the guest to power off: %w", err)
		}
		time.Sleep(poll)
	}
}

// pmemsaveError is QEMU refusing the pmemsave itself: no point trying
// again.
type pmemsaveError struct{ err error }

func (e pmemsaveError) Error() string { return e.err.Error() }
func (e pmemsaveError) Unwrap() error { return e.err }

// trySaveRAM asks QEMU's status once, and saves req and quits when the
// guest has powered off. It returns errNotStopped while it runs.
func trySaveRAM(dial func() (net.Conn, error), req pmemsaveRequest) error {
	conn, err := dial()
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(qmpTimeout)); err != nil {
		return err
	}
	s, err := startQMP(conn)
	if err != nil {
		return err
	}
	ret, err := s.execute("query-status", nil)
	if err != nil {
		return err
	}
	var status struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(ret, &status); err != nil {
		return fmt.Errorf("query-status returned %s", ret)
	}
	if status.Status != "shutdown" {
		return fmt.Errorf("%w (QEMU's status: %s)", errNotStopped, status.Status)
	}
	if err := conn.SetDeadline(time.Now().Add(pmemsaveTimeout)); err != nil {
		return err
	}
	_, saveErr := s.execute("pmemsave", map[string]any{"val": req.base, "size": req.size, "filename": req.file})
	// QEMU may close the socket before it answers quit: its answer does not matter.
	s.execute("quit", nil)
	if saveErr != nil {
		return pmemsaveError{fmt.Errorf("pmemsave %#x %#x %s: %w", req.base, req.size, req.file, saveErr)}
	}
	return nil
}
