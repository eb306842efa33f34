package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestTraceFlagLogsEveryCommandAndMSI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "trace.log")
	status, _, stderr := runArgs(t, "demo", "-trace", path, "-cpus", "1", "-devices", "1", "-events", "2")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `level=DEBUG msg=enablelpis cpu=0 outcome=ok
level=DEBUG msg=lpiconfig lpi=8192 config="prio=0xa0 enabled" outcome=ok
level=DEBUG msg=lpiconfig lpi=8193 config="prio=0xa0 enabled" outcome=ok
level=INFO msg=command cmd="MAPC icid=0 rdbase=0" offset=0x0 outcome=ok
level=INFO msg=command cmd="MAPD dev=0x8 bits=1 itt=0x40800000" offset=0x20 outcome=ok
level=INFO msg=command cmd="MAPTI dev=0x8 ev=0 lpi=8192 icid=0" offset=0x40 outcome=ok
level=INFO msg=command cmd="MAPTI dev=0x8 ev=1 lpi=8193 icid=0" offset=0x60 outcome=ok
level=INFO msg=msi dev=0x8 ev=0 devid=valid outcome=delivered
level=INFO msg=msi dev=0x8 ev=1 devid=valid outcome=delivered
level=DEBUG msg=ack cpu=0 intid=8192 outcome=ok
level=DEBUG msg=eoi cpu=0 intid=8192 outcome=ok
level=DEBUG msg=ack cpu=0 intid=8193 outcome=ok
level=DEBUG msg=eoi cpu=0 intid=8193 outcome=ok
level=DEBUG msg=ack cpu=0 intid=1023 outcome=ok
`
	if string(b) != want {
		t.Errorf("trace:\n%s\nwant:\n%s", b, want)
	}

	// Without -trace nothing is wrapped or written.
	if status, _, stderr := runArgs(t, "demo", "-cpus", "1", "-devices", "1", "-events", "1"); status != 0 || stderr != "" {
		t.Errorf("demo without -trace: status %d, stderr %q", status, stderr)
	}
	if status, _, stderr := runArgs(t, "demo", "-trace", filepath.Join(t.TempDir(), "no", "such", "dir")); status != 2 || !strings.Contains(stderr, "cannot open the trace file") {
		t.Errorf("unwritable trace file: status %d, stderr %q", status, stderr)
	}
}

// TestTraceEventsSelect: -trace-events patterns select events as QEMU's
// -trace does, and a pattern that names no event is a usage error.
func TestTraceEventsSelect(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		msg      string
		want     bool
	}{
		{nil, "ack", true},
		{[]string{"command", "msi"}, "msi", true},
		{[]string{"command", "msi"}, "ack", false},
		{[]string{"*", "-write"}, "write", false},
		{[]string{"*", "-write"}, "eoi", true},
		{[]string{"-write"}, "command", true},
		{[]string{"e*"}, "eoi", true},
		{[]string{"e*"}, "ack", false},
	} {
		if got := traceAllows(c.patterns, c.msg); got != c.want {
			t.Errorf("patterns %q, event %s: %v, want %v", c.patterns, c.msg, got, c.want)
		}
	}
	status, _, stderr := runArgs(t, "demo", "-trace", "-", "-trace-events", "cmd*")
	if status != 2 || !strings.Contains(stderr, `"cmd*" matches no event (events: command, queue, msi,`) {
		t.Errorf("-trace-events cmd*: status %d, stderr %q", status, stderr)
	}
}

// TestTraceIsPerRun runs two commands at once, each tracing to its own
// file: the trace state is the run's env's, not the process's.
func TestTraceIsPerRun(t *testing.T) {
	dir := t.TempDir()
	paths := []string{filepath.Join(dir, "one.log"), filepath.Join(dir, "two.log")}
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Go(func() {
			args := []string{"demo", "-trace", path, "-cpus", "1", "-devices", "1", "-events", fmt.Sprint(i + 1)}
			if status := run(&env{stdout: io.Discard, stderr: io.Discard}, args); status != 0 {
				t.Errorf("%v: status %d", args, status)
			}
		})
	}
	wg.Wait()
	for i, path := range paths {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Count(string(b), "msg=msi "), i+1; got != want {
			t.Errorf("%s: %d MSIs traced, want %d:\n%s", path, got, want, b)
		}
	}
}
