package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeQEMU answers QMP connections as a QEMU whose status is statuses[i]
// on the i-th connection (the last one from then on), and records every
// command it received, with pmemsave's arguments.
type fakeQEMU struct {
	statuses    []string
	pmemsaveErr bool

	mu    sync.Mutex
	conns int
	got   []string
}

func (q *fakeQEMU) dial() (net.Conn, error) {
	client, server := net.Pipe()
	q.mu.Lock()
	status := q.statuses[min(q.conns, len(q.statuses)-1)]
	q.conns++
	q.mu.Unlock()
	go q.serve(server, status)
	return client, nil
}

func (q *fakeQEMU) serve(conn net.Conn, status string) {
	defer conn.Close()
	fmt.Fprintln(conn, `{"QMP": {"version": {"qemu": {"major": 7, "minor": 2}}, "capabilities": []}}`)
	sc := bufio.NewScanner(conn)
	for sc.Scan() {
		var req struct {
			Execute   string          `json:"execute"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			return
		}
		q.mu.Lock()
		q.got = append(q.got, strings.TrimSpace(req.Execute+" "+string(req.Arguments)))
		q.mu.Unlock()
		switch req.Execute {
		case "query-status":
			fmt.Fprintf(conn, `{"return": {"status": %q, "singlestep": false, "running": %v}}`+"\n", status, status == "running")
		case "pmemsave":
			if q.pmemsaveErr {
				fmt.Fprintln(conn, `{"error": {"class": "GenericError", "desc": "Could not open '/nope/ram.bin': No such file or directory"}}`)
				continue
			}
			fmt.Fprintln(conn, `{"return": {}}`)
		case "quit":
			// QEMU exits, and may close the socket before it answers.
			return
		default:
			fmt.Fprintln(conn, `{"return": {}}`)
		}
	}
}

func (q *fakeQEMU) commands() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]string(nil), q.got...)
}

var testRequest = pmemsaveRequest{base: 0x40000000, size: 0x40000000, file: "/tmp/ram.bin"}

// TestSaveRAMWhenStopped: the RAM is saved only once QEMU's status is
// shutdown, each asking on a connection of its own, and QEMU is told to
// quit after.
func TestSaveRAMWhenStopped(t *testing.T) {
	q := &fakeQEMU{statuses: []string{"running", "running", "shutdown"}}
	if err := saveRAMWhenStopped(q.dial, testRequest, time.Now().Add(time.Minute), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"qmp_capabilities", "query-status",
		"qmp_capabilities", "query-status",
		"qmp_capabilities", "query-status",
		`pmemsave {"filename":"/tmp/ram.bin","size":1073741824,"val":1073741824}`,
		"quit",
	}
	if got := q.commands(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("QEMU received\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSaveRAMWhenStoppedPmemsaveFails: QEMU refusing the pmemsave is an
// error at once, and QEMU is still told to quit (it would wait, stopped,
// until the script's timeout).
func TestSaveRAMWhenStoppedPmemsaveFails(t *testing.T) {
	q := &fakeQEMU{statuses: []string{"shutdown"}, pmemsaveErr: true}
	err := saveRAMWhenStopped(q.dial, testRequest, time.Now().Add(time.Minute), time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "Could not open") {
		t.Errorf("err = %v, want QEMU's refusal", err)
	}
	if got := q.commands(); len(got) == 0 || got[len(got)-1] != "quit" {
		t.Errorf("QEMU received %q, want quit last", got)
	}
}

// TestSaveRAMWhenStoppedGivesUp: a guest that never powers off, or a QEMU
// that is not there, is an error once the deadline has passed.
func TestSaveRAMWhenStoppedGivesUp(t *testing.T) {
	q := &fakeQEMU{statuses: []string{"running"}}
	err := saveRAMWhenStopped(q.dial, testRequest, time.Now().Add(20*time.Millisecond), time.Millisecond)
	if !errors.Is(err, errNotStopped) {
		t.Errorf("err = %v, want %v", err, errNotStopped)
	}
	for _, c := range q.commands() {
		if c != "qmp_capabilities" && c != "query-status" {
			t.Errorf("QEMU received %q from a guest still running", c)
		}
	}
	gone := func() (net.Conn, error) {
		return nil, errors.New("dial unix qmp.sock: connect: no such file or directory")
	}
	if err := saveRAMWhenStopped(gone, testRequest, time.Now().Add(20*time.Millisecond), time.Millisecond); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("err = %v, want the dial's", err)
	}
}

func TestPmemsaveUsage(t *testing.T) {
	for _, args := range [][]string{
		{"pmemsave", "-socket", "s", "-o", "f"},
		{"pmemsave", "-socket", "s", "-o", "f", "-size", "0"},
		{"pmemsave", "-socket", "s", "-o", "f", "-size", "1k"},
		{"pmemsave", "-socket", "s", "-o", "f", "-size", "1", "-base", "x"},
	} {
		var out, errb strings.Builder
		if st := run(args, &out, &errb); st != 2 {
			t.Errorf("%q: exit status %d, want 2 (%s)", args, st, errb.String())
		}
	}
}
