package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testNonce = "0123456789abcdef"

// Canned pieces of guest console transcripts, as QEMU prints them.
const (
	bootNoise    = "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x000f0510]\r\nEFI stub: Booting Linux Kernel...\r\n[    1.234567] Run /init as init process\r\n"
	kernelMarker = "qemuexec:" + testNonce + ":kernel=6.12.95+deb12-arm64\r\n"
	startMarker  = "qemuexec:" + testNonce + ":start\r\n"
	testOutput   = "=== RUN   TestKVM\r\n--- PASS: TestKVM (0.31s)\r\nPASS\r\n"
	poweroff     = "[   11.000000] reboot: Power down\r\n"
)

func exitMarker(n int) string { return fmt.Sprintf("qemuexec:%s:exit-status=%d\r\n", testNonce, n) }

// feed runs a transcript through a console and returns it with the test
// output and the noise it produced.
func feed(transcript string) (c *console, out, noise string) {
	var o, n bytes.Buffer
	c = newConsole(testNonce, &o, &n)
	lines := strings.Split(transcript, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		c.Line(l)
	}
	return c, o.String(), n.String()
}

func TestConsole(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		e          ending
		wantOut    string // the test's output as streamed to stdout
		wantCode   int
		wantFail   string // substring of the failure reason; "" for none
		wantWarn   string // substring of a warning; "" for none
		// wantRelease is the kernel release the console recorded.
		wantRelease string
	}{
		{
			name:       "pass",
			transcript: bootNoise + startMarker + testOutput + exitMarker(0) + poweroff,
			wantOut:    "=== RUN   TestKVM\n--- PASS: TestKVM (0.31s)\nPASS\n",
			wantCode:   0,
		},
		{
			name:        "kernel release is recorded, not output",
			transcript:  bootNoise + kernelMarker + startMarker + testOutput + exitMarker(0),
			wantOut:     "=== RUN   TestKVM\n--- PASS: TestKVM (0.31s)\nPASS\n",
			wantCode:    0,
			wantRelease: "6.12.95+deb12-arm64",
		},
		{
			// Only /init speaks before the test: the test cannot
			// rename the kernel.
			name:        "kernel marker from the test is ignored",
			transcript:  kernelMarker + startMarker + "qemuexec:" + testNonce + ":kernel=9.9.9\r\n" + exitMarker(0),
			wantOut:     "qemuexec:" + testNonce + ":kernel=9.9.9\n",
			wantCode:    0,
			wantRelease: "6.12.95+deb12-arm64",
		},
		{
			name:       "test failure keeps the test's status",
			transcript: bootNoise + startMarker + "--- FAIL: TestKVM (0.01s)\r\nFAIL\r\n" + exitMarker(1) + poweroff,
			wantOut:    "--- FAIL: TestKVM (0.01s)\nFAIL\n",
			wantCode:   1,
		},
		{
			name:       "test timeout panic status 2",
			transcript: startMarker + "panic: test timed out after 1s\r\n" + exitMarker(2),
			wantOut:    "panic: test timed out after 1s\n",
			wantCode:   2,
		},
		{
			name:       "marker after output without newline",
			transcript: startMarker + "partial" + exitMarker(3),
			wantOut:    "partial\n",
			wantCode:   3,
		},
		{
			name:       "other nonce is output, not a marker",
			transcript: startMarker + "qemuexec:ffffffffffffffff:exit-status=0\r\n" + exitMarker(0),
			wantOut:    "qemuexec:ffffffffffffffff:exit-status=0\n",
			wantCode:   0,
		},
		{
			name:       "malformed exit status is output, not trusted",
			transcript: startMarker + "qemuexec:" + testNonce + ":exit-status=zero\r\n",
			wantOut:    "qemuexec:" + testNonce + ":exit-status=zero\n",
			wantCode:   1,
			wantFail:   "missing exit marker",
		},
		{
			name:       "kernel panic during the test",
			transcript: bootNoise + startMarker + "=== RUN   TestKVM\r\n[    9.1] Internal error: Oops: 96000004 [#1] SMP\r\n[    9.2] Kernel panic - not syncing: Oops: Fatal exception\r\n",
			wantOut:    "=== RUN   TestKVM\n[    9.1] Internal error: Oops: 96000004 [#1] SMP\n[    9.2] Kernel panic - not syncing: Oops: Fatal exception\n",
			wantCode:   1,
			wantFail:   "kernel panic after the test started: [    9.2] Kernel panic - not syncing: Oops: Fatal exception",
		},
		{
			name:       "kernel panic before the test: init died",
			transcript: bootNoise + "[    2.0] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\r\n",
			wantCode:   1,
			wantFail:   "kernel panic before the test started: [    2.0] Kernel panic - not syncing: Attempted to kill init!",
		},
		{
			name:       "panic after the exit marker is only a warning",
			transcript: startMarker + exitMarker(0) + "[   12.0] Kernel panic - not syncing: whatever\r\n",
			wantCode:   0,
			wantWarn:   "panicked after the test exited",
		},
		{
			name:       "init error",
			transcript: bootNoise + startMarker + "qemuexec:" + testNonce + ":init-error=cannot start the test binary: exec format error\r\n",
			wantCode:   1,
			wantFail:   "/init could not run the test: cannot start the test binary: exec format error",
		},
		{
			name:       "hang before the test",
			transcript: bootNoise,
			e:          ending{timedOut: true, timeout: 45 * time.Second, qemuErr: errors.New("signal: killed")},
			wantCode:   1,
			wantFail:   "timeout: no exit marker within 45s (before the test started)",
		},
		{
			name:       "hang in the test after an oops",
			transcript: startMarker + "=== RUN   TestKVM\r\n[ 5.0] Internal error: Oops: 0 [#1] SMP\r\n",
			e:          ending{timedOut: true, timeout: time.Minute, qemuErr: errors.New("signal: killed")},
			wantOut:    "=== RUN   TestKVM\n[ 5.0] Internal error: Oops: 0 [#1] SMP\n",
			wantCode:   1,
			wantFail:   "timeout: no exit marker within 1m0s (after the test started); QEMU was killed; the kernel oopsed: [ 5.0] Internal error: Oops",
		},
		{
			name:       "stuck after an oops: given up before the deadline",
			transcript: startMarker + "=== RUN   TestKVM\r\n[ 5.0] Internal error: Oops: 0 [#1] SMP\r\n",
			e:          ending{oopsKilled: 30 * time.Second, qemuErr: errors.New("signal: killed")},
			wantOut:    "=== RUN   TestKVM\n[ 5.0] Internal error: Oops: 0 [#1] SMP\n",
			wantCode:   1,
			wantFail:   "the kernel oopsed after the test started and the test did not exit within 30s of it (a task that dies in the kernel may hold locks the rest wait on); QEMU was killed: [ 5.0] Internal error: Oops",
		},
		{
			name:     "QEMU fails to boot",
			e:        ending{qemuErr: errors.New("exit status 1")},
			wantCode: 1,
			wantFail: "QEMU failed before the test started: exit status 1",
		},
		{
			name:       "powered off without a marker",
			transcript: bootNoise + startMarker + "=== RUN   TestKVM\r\n" + poweroff,
			wantOut:    "=== RUN   TestKVM\n" + "[   11.000000] reboot: Power down\n",
			wantCode:   1,
			wantFail:   "missing exit marker: the guest stopped after the test started",
		},
		{
			name:       "interrupted",
			transcript: startMarker,
			e:          ending{signal: syscall.SIGQUIT, qemuErr: errors.New("signal: killed")},
			wantCode:   1,
			wantFail:   "interrupted by signal quit after the test started",
		},
		{
			name:       "exit marker, then QEMU does not stop",
			transcript: startMarker + exitMarker(0),
			e:          ending{graceKilled: true, qemuErr: errors.New("signal: killed")},
			wantCode:   0,
			wantWarn:   "did not power off",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, out, _ := feed(tt.transcript)
			if out != tt.wantOut {
				t.Errorf("test output\n%q\nwant\n%q", out, tt.wantOut)
			}
			if c.release != tt.wantRelease {
				t.Errorf("release %q, want %q", c.release, tt.wantRelease)
			}
			o := judge(c, tt.e)
			if o.code != tt.wantCode {
				t.Errorf("code = %d, want %d", o.code, tt.wantCode)
			}
			if tt.wantFail == "" && o.failure != "" {
				t.Errorf("failure %q, want none", o.failure)
			}
			if tt.wantFail != "" && !strings.Contains(o.failure, tt.wantFail) {
				t.Errorf("failure %q, want it to contain %q", o.failure, tt.wantFail)
			}
			warnings := strings.Join(o.warnings, "\n")
			if (tt.wantWarn == "") != (warnings == "") || !strings.Contains(warnings, tt.wantWarn) {
				t.Errorf("warnings %q, want %q", warnings, tt.wantWarn)
			}
		})
	}
}

func TestConsoleNoiseAndTail(t *testing.T) {
	var transcript strings.Builder
	transcript.WriteString(bootNoise)
	transcript.WriteString(startMarker)
	for i := range 100 {
		fmt.Fprintf(&transcript, "line %d\r\n", i)
	}
	transcript.WriteString(exitMarker(0) + poweroff)
	c, out, noise := feed(transcript.String())

	if strings.Contains(out, "Booting Linux") || strings.Contains(out, "Power down") || strings.Contains(out, "qemuexec:") {
		t.Errorf("kernel console or markers leaked into the test output:\n%s", out)
	}
	if !strings.Contains(noise, "Booting Linux") || !strings.Contains(noise, "Power down") {
		t.Errorf("noise lacks the kernel lines:\n%s", noise)
	}
	if strings.Contains(out, "\r") {
		t.Errorf("carriage returns left in the output")
	}
	tail := c.Tail()
	if len(tail) != tailLines {
		t.Fatalf("tail has %d lines, want %d", len(tail), tailLines)
	}
	if tail[0] != "line 62" || tail[len(tail)-1] != "[   11.000000] reboot: Power down" {
		t.Errorf("tail runs from %q to %q, want line 62 to the power-down", tail[0], tail[len(tail)-1])
	}
}

// fakeQEMU writes a shell script that stands in for qemu-system-aarch64: it
// prints transcript, then runs tail (shell commands), ignoring its arguments.
func fakeQEMU(t *testing.T, transcript, tail string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "transcript"), []byte(transcript), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf("#!/bin/sh\ncat '%s'\n%s\n", filepath.Join(dir, "transcript"), tail)
	p := filepath.Join(dir, "qemu")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBoot runs boot against fake QEMUs: the whole host side except QEMU.
func TestBoot(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the fake QEMU")
	}
	tests := []struct {
		name       string
		transcript string
		tail       string
		timeout    time.Duration
		// timeoutOnSignal times the run out once the fake QEMU has
		// created the file its tail names {started}.
		timeoutOnSignal bool
		oopsGrace       time.Duration
		wantCode        int
		wantStdout      string
		wantStderr      []string
	}{
		{
			name:       "pass",
			transcript: bootNoise + kernelMarker + startMarker + testOutput + exitMarker(0) + poweroff,
			wantStdout: "=== RUN   TestKVM\n--- PASS: TestKVM (0.31s)\nPASS\n",
			wantStderr: []string{"qemuexec: kernel 6.12.95+deb12-arm64: total ", "boot ", "test "},
		},
		{
			name:       "no release reported",
			transcript: bootNoise + startMarker + testOutput + exitMarker(0) + poweroff,
			wantStdout: "=== RUN   TestKVM\n--- PASS: TestKVM (0.31s)\nPASS\n",
			wantStderr: []string{"qemuexec: kernel unknown (image /boot/vmlinuz-test reported no release): total "},
		},
		{
			name:       "failing test",
			transcript: startMarker + "FAIL\r\n" + exitMarker(1),
			wantCode:   1,
			wantStdout: "FAIL\n",
		},
		{
			name:       "kernel panic",
			transcript: bootNoise + startMarker + "[ 3.0] Kernel panic - not syncing: VFS\r\n",
			wantCode:   1,
			wantStdout: "[ 3.0] Kernel panic - not syncing: VFS\n",
			wantStderr: []string{"qemuexec: FAIL: kernel panic after the test started", "last 5 console lines", "  | [ 3.0] Kernel panic - not syncing: VFS"},
		},
		{
			// The timeout comes when the fake QEMU has printed its
			// transcript and says so ({started}), not after a guess
			// at how long a fork and two execs take.
			name:            "hang",
			transcript:      bootNoise,
			tail:            ": > {started}; exec sleep 30",
			timeoutOnSignal: true,
			wantCode:        1,
			wantStderr:      []string{"qemuexec: FAIL: timeout: no exit marker within 1m0s (before the test started)", "Run /init as init process"},
		},
		{
			// A test that oopses in the kernel and leaves the guest
			// stuck is given up on soon after the oops, not at the
			// deadline (a minute here; the check below fails a run
			// that takes 20 s).
			name:       "stuck after an oops",
			transcript: bootNoise + startMarker + "=== RUN   TestKVM\r\n[ 5.0] Internal error: Oops: 0 [#1] SMP\r\n",
			tail:       "exec sleep 30",
			oopsGrace:  100 * time.Millisecond,
			wantCode:   1,
			wantStdout: "=== RUN   TestKVM\n[ 5.0] Internal error: Oops: 0 [#1] SMP\n",
			wantStderr: []string{"qemuexec: FAIL: the kernel oopsed after the test started and the test did not exit within 100ms of it"},
		},
		{
			name:       "QEMU error",
			tail:       "echo 'qemu-system-aarch64: -kernel vmlinuz: No such file' >&2; exit 1",
			wantCode:   1,
			wantStderr: []string{"QEMU failed before the test started: exit status 1", "QEMU's stderr:", "No such file"},
		},
		{
			name:       "missing marker",
			transcript: bootNoise + startMarker + "=== RUN   TestKVM\r\n",
			wantCode:   1,
			wantStdout: "=== RUN   TestKVM\n",
			wantStderr: []string{"missing exit marker"},
		},
		{
			name:       "exit status 3 passes through",
			transcript: startMarker + exitMarker(3),
			wantCode:   3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.timeout == 0 {
				tt.timeout = time.Minute
			}
			var stdout, stderr bytes.Buffer
			start := time.Now()
			spec := bootSpec{
				kernel:    "/boot/vmlinuz-test",
				nonce:     testNonce,
				timeout:   tt.timeout,
				t0:        start,
				oopsGrace: tt.oopsGrace,
			}
			tail := tt.tail
			if tt.timeoutOnSignal {
				started := filepath.Join(t.TempDir(), "started")
				tail = strings.ReplaceAll(tail, "{started}", "'"+started+"'")
				expired, waited := make(chan time.Time, 1), make(chan struct{})
				spec.expired = expired
				go func() {
					defer close(waited)
					expired <- waitForFile(t, started, 30*time.Second)
				}()
				defer func() { <-waited }()
			}
			spec.qemu = fakeQEMU(t, tt.transcript, tail)
			code := boot(spec, &stdout, &stderr, nil)
			if elapsed := time.Since(start); elapsed > 20*time.Second {
				t.Errorf("boot took %v", elapsed)
			}
			if code != tt.wantCode {
				t.Errorf("code = %d, want %d\nstderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if stdout.String() != tt.wantStdout {
				t.Errorf("stdout\n%q\nwant\n%q", stdout.String(), tt.wantStdout)
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
			if tt.wantCode == 0 && strings.Contains(stderr.String(), "FAIL") {
				t.Errorf("stderr reports a failure:\n%s", stderr.String())
			}
		})
	}
}

// waitForFile returns when path exists, or reports an error and returns
// after limit: either way boot's timeout follows.
func waitForFile(t *testing.T, path string, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for {
		if _, err := os.Stat(path); err == nil {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Errorf("the fake QEMU did not create %s within %v", path, limit)
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
}

// TestBootSummaryFile: every run appends its summary line, the one it
// prints last, to GICITS_QEMU_SUMMARY's file, failed runs too.
func TestBootSummaryFile(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the fake QEMU")
	}
	file := filepath.Join(t.TempDir(), "summary")
	var stderrs []string
	for _, transcript := range []string{
		kernelMarker + startMarker + exitMarker(0),
		bootNoise + "[    2.0] Kernel panic - not syncing: VFS\r\n",
	} {
		var stdout, stderr bytes.Buffer
		boot(bootSpec{qemu: fakeQEMU(t, transcript, ""), kernel: "/boot/vmlinuz-test", nonce: testNonce,
			timeout: time.Minute, t0: time.Now(), summaryFile: file}, &stdout, &stderr, nil)
		stderrs = append(stderrs, stderr.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "qemuexec: kernel 6.12.95+deb12-arm64: total ") ||
		!strings.HasPrefix(lines[1], "qemuexec: kernel unknown (image /boot/vmlinuz-test reported no release): total ") {
		t.Fatalf("summary file:\n%s", b)
	}
	for i, l := range lines {
		if !strings.HasSuffix(stderrs[i], l+"\n") {
			t.Errorf("run %d: the summary file's line %q is not the last line of its stderr:\n%s", i, l, stderrs[i])
		}
	}
}

func TestBootCannotStartQEMU(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := boot(bootSpec{qemu: filepath.Join(t.TempDir(), "no-such-qemu"), nonce: testNonce, timeout: time.Minute, t0: time.Now()},
		&stdout, &stderr, nil)
	if code != 1 || !strings.Contains(stderr.String(), "cannot start QEMU") || !strings.Contains(stderr.String(), "qemu-system-arm") {
		t.Errorf("code %d, stderr %q; want 1 and a hint to install qemu-system-arm", code, stderr.String())
	}
}
