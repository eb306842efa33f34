package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
	c, out, _, noise = feedOutputs(transcript, nil)
	return c, out, noise
}

// feedOutputs runs a transcript through a console with the -out paths
// outputs and returns it with the output, standard error and noise it
// produced.
func feedOutputs(transcript string, outputs []string) (c *console, out, errOut, noise string) {
	var o, e, n bytes.Buffer
	c = newConsole(testNonce, outputs, &o, &e, &n)
	lines := strings.Split(transcript, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, l := range lines {
		c.Line(l)
	}
	return c, o.String(), e.String(), n.String()
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
			name:       "out of memory: the status stands, with why",
			transcript: startMarker + "[ 9.0] Out of memory: Killed process 61 (itsbench) total-vm:1200000kB\r\n" + exitMarker(137),
			wantOut:    "[ 9.0] Out of memory: Killed process 61 (itsbench) total-vm:1200000kB\n",
			wantCode:   137,
			wantWarn:   "the guest ran out of its 1024 MiB of memory and the kernel killed a process: [ 9.0] Out of memory: Killed process 61 (itsbench)",
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

// marker is a marker line of the test nonce as the guest's console prints it.
func marker(kind, value string) string { return "qemuexec:" + testNonce + ":" + kind + value + "\r\n" }

// fileFrames is what /init sends for data as -out file index, without the
// end marker: the oracle of the decoder (internal/initprog checks its side
// against testdata/framing.golden).
func fileFrames(index int, data []byte) string {
	s := marker(markerFileBegin, fmt.Sprint(index))
	for len(data) > 0 {
		n := min(len(data), 3072)
		s += marker(markerFileData, base64.StdEncoding.EncodeToString(data[:n]))
		data = data[n:]
	}
	return s
}

// fileEnd is the end marker of data as -out file index.
func fileEnd(index int, data []byte) string {
	return marker(markerFileEnd, fmt.Sprintf("%d:%d:%x", index, len(data), sha256.Sum256(data)))
}

func TestConsoleStderr(t *testing.T) {
	tests := []struct {
		name       string
		transcript string
		wantOut    string
		wantErr    string
		wantNoise  string // substring
	}{
		{
			name: "lines and a final partial line, apart from stdout",
			transcript: startMarker + marker(markerStderr, "warning: one") + "stdout line\r\n" +
				marker(markerStderrPart, "partial ") + marker(markerStderrPart, "and more") + marker(markerStderr, " ends") +
				marker(markerStderrPart, "no newline") + exitMarker(0),
			wantOut: "stdout line\n",
			wantErr: "warning: one\npartial and more ends\nno newline",
		},
		{
			name:       "text is kept as it is",
			transcript: startMarker + marker(markerStderr, "  two  spaces\tand a tab ") + marker(markerStderr, "") + exitMarker(0),
			wantErr:    "  two  spaces\tand a tab \n\n",
		},
		{
			name:       "stdout without a newline before a stderr marker",
			transcript: startMarker + "partial" + marker(markerStderr, "err"),
			wantOut:    "partial\n",
			wantErr:    "err\n",
		},
		{
			name:       "outside the run it is not the binary's",
			transcript: marker(markerStderr, "before") + startMarker + exitMarker(0) + marker(markerStderr, "after"),
			wantNoise:  "qemuexec:" + testNonce + ":stderr=before\nqemuexec:" + testNonce + ":stderr=after\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out, errOut, noise := feedOutputs(tt.transcript, nil)
			if out != tt.wantOut {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
			if errOut != tt.wantErr {
				t.Errorf("stderr %q, want %q", errOut, tt.wantErr)
			}
			if !strings.Contains(noise, tt.wantNoise) {
				t.Errorf("noise %q, want it to contain %q", noise, tt.wantNoise)
			}
		})
	}
}

func TestConsoleFiles(t *testing.T) {
	plot := make([]byte, 7000) // three data lines, every byte value, newlines too
	for i := range plot {
		plot[i] = byte(i * 167)
	}
	other := []byte("other\n")
	flipped := bytes.Clone(plot)
	flipped[5000] ^= 1
	tests := []struct {
		name       string
		transcript string
		old        string // the host file at -out 0 before the run; "" for none
		wantCode   int
		wantFail   []string // substrings of the failure; nil for none
		want0      []byte   // the host file at -out 0 after the run; nil for none
		want1      []byte   // the one at -out 1, in a directory the host lacked
		wantOut    string
	}{
		{
			name:       "files written",
			transcript: startMarker + "out\r\n" + fileFrames(0, plot) + fileEnd(0, plot) + fileFrames(1, other) + fileEnd(1, other) + exitMarker(0),
			want0:      plot,
			want1:      other,
			wantOut:    "out\n",
		},
		{
			name:       "an existing file is replaced",
			transcript: startMarker + fileFrames(0, other) + fileEnd(0, other) + exitMarker(0),
			old:        "old contents",
			want0:      other,
		},
		{
			name:       "an empty file",
			transcript: startMarker + fileFrames(0, nil) + fileEnd(0, nil) + exitMarker(0),
			old:        "old contents",
			want0:      []byte{},
		},
		{
			name:       "a file the guest did not create changes nothing",
			transcript: startMarker + fileFrames(1, other) + fileEnd(1, other) + exitMarker(0),
			old:        "old contents",
			want0:      []byte("old contents"),
			want1:      other,
		},
		{
			name:       "the binary's status stays with intact files",
			transcript: startMarker + fileFrames(0, other) + fileEnd(0, other) + exitMarker(3),
			wantCode:   3,
			want0:      other,
		},
		{
			name:       "SHA-256 mismatch",
			transcript: startMarker + fileFrames(0, flipped) + fileEnd(0, plot) + exitMarker(0),
			old:        "old contents",
			wantCode:   1,
			wantFail:   []string{"-out {0}: corrupt: the bytes that arrived have SHA-256 ", "; not written (the binary exited with status 0)"},
			want0:      []byte("old contents"),
		},
		{
			name:       "size mismatch",
			transcript: startMarker + fileFrames(0, plot[:6999]) + fileEnd(0, plot) + exitMarker(0),
			wantCode:   1,
			wantFail:   []string{"-out {0}: corrupt: 6999 bytes arrived, the guest sent 7000; not written"},
		},
		{
			name:       "a data line that does not decode",
			transcript: startMarker + strings.Replace(fileFrames(0, plot), "file-data=", "file-data=#", 1) + fileEnd(0, plot) + exitMarker(0),
			old:        "old contents",
			wantCode:   1,
			wantFail:   []string{"-out {0}: corrupt: a data line does not decode"},
			want0:      []byte("old contents"),
		},
		{
			name:       "truncated: no end marker before the exit",
			transcript: startMarker + fileFrames(0, plot) + exitMarker(0),
			old:        "old contents",
			wantCode:   1,
			wantFail:   []string{"-out {0}: truncated: 7000 bytes arrived and no end marker; not written"},
			want0:      []byte("old contents"),
		},
		{
			name:       "truncated: the guest died",
			transcript: startMarker + fileFrames(0, plot[:3072]),
			old:        "old contents",
			wantCode:   1,
			wantFail:   []string{"missing exit marker", "; -out {0}: truncated: 3072 bytes arrived"},
			want0:      []byte("old contents"),
		},
		{
			name:       "truncated: the next file began",
			transcript: startMarker + fileFrames(0, plot) + fileFrames(1, other) + fileEnd(1, other) + exitMarker(0),
			wantCode:   1,
			wantFail:   []string{"-out {0}: truncated"},
			want1:      other,
		},
		{
			name:       "the guest could not send it",
			transcript: startMarker + marker(markerFileError, "0:/x/plot.png is not a regular file (mode drwxr-xr-x)") + exitMarker(0),
			wantCode:   1,
			wantFail:   []string{"-out {0}: the guest could not send it: /x/plot.png is not a regular file"},
		},
		{
			name:       "an end without its beginning",
			transcript: startMarker + fileEnd(0, other) + exitMarker(0),
			wantCode:   1,
			wantFail:   []string{"-out {0}: its end came without its beginning"},
		},
		{
			// A begin marker naming no -out file is no marker of
			// /init's: shown as output; its data is dropped.
			name:       "a begin marker naming no file",
			transcript: startMarker + fileFrames(2, other) + fileEnd(2, other) + exitMarker(0),
			wantCode:   1,
			wantFail:   []string{"file data came without a begin marker"},
			wantOut:    "qemuexec:" + testNonce + ":file-begin=2\nqemuexec:" + testNonce + ":" + strings.TrimSuffix(strings.TrimPrefix(fileEnd(2, other), "qemuexec:"+testNonce+":"), "\r\n") + "\n",
		},
		{
			name:       "file markers outside the run are not the binary's",
			transcript: fileFrames(0, other) + fileEnd(0, other) + startMarker + exitMarker(0),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			outputs := []string{filepath.Join(dir, "plot.png"), filepath.Join(dir, "sub", "trace.json")}
			if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
				t.Fatal(err) // a run writes into existing directories only
			}
			if tt.old != "" {
				if err := os.WriteFile(outputs[0], []byte(tt.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, out, _, _ := feedOutputs(tt.transcript, outputs)
			o := judge(c, ending{})
			if o.code != tt.wantCode {
				t.Errorf("code %d, want %d (failure %q)", o.code, tt.wantCode, o.failure)
			}
			if tt.wantFail == nil && o.failure != "" {
				t.Errorf("failure %q, want none", o.failure)
			}
			for _, w := range tt.wantFail {
				if w = strings.ReplaceAll(w, "{0}", outputs[0]); !strings.Contains(o.failure, w) {
					t.Errorf("failure %q, want it to contain %q", o.failure, w)
				}
			}
			if out != tt.wantOut {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
			for i, want := range [][]byte{tt.want0, tt.want1} {
				got, err := os.ReadFile(outputs[i])
				switch {
				case want == nil && err == nil:
					t.Errorf("%s written (%d bytes), want no file", outputs[i], len(got))
				case want != nil && !bytes.Equal(got, want):
					t.Errorf("%s: %d bytes (%v), want %d", outputs[i], len(got), err, len(want))
				}
			}
			if tt.old != "" {
				// A replaced file keeps its mode.
				if fi, err := os.Stat(outputs[0]); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: %v, %v; want mode 0600 kept", outputs[0], fi.Mode(), err)
				}
			}
			left, _ := filepath.Glob(filepath.Join(dir, "*", ".*.qemuexec-*"))
			left2, _ := filepath.Glob(filepath.Join(dir, ".*.qemuexec-*"))
			if left = append(left, left2...); len(left) > 0 {
				t.Errorf("temporary files left: %q", left)
			}
			for _, l := range c.Tail() {
				if len(l) > tailLineBytes+32 {
					t.Errorf("a tail line of %d bytes: %.60q", len(l), l)
				}
			}
		})
	}
}

// TestConsoleDecodesInitTranscript decodes what /init sends for
// internal/initprog/testdata/framing.stderr and framing.out, pinned in
// framing.golden by initprog's own test, back into those files.
func TestConsoleDecodesInitTranscript(t *testing.T) {
	golden, err := os.ReadFile("internal/initprog/testdata/framing.golden")
	if err != nil {
		t.Fatal(err)
	}
	wantStderr, err := os.ReadFile("internal/initprog/testdata/framing.stderr")
	if err != nil {
		t.Fatal(err)
	}
	wantFile, err := os.ReadFile("internal/initprog/testdata/framing.out")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	outputs := []string{filepath.Join(dir, "framing.out"), filepath.Join(dir, "no-such-file")}
	// The guest's tty puts a carriage return before every newline.
	transcript := startMarker + strings.ReplaceAll(string(golden), "\n", "\r\n") + exitMarker(0)
	c, out, errOut, _ := feedOutputs(transcript, outputs)
	if o := judge(c, ending{}); o.code != 0 || o.failure != "" {
		t.Errorf("code %d, failure %q", o.code, o.failure)
	}
	if out != "" {
		t.Errorf("stdout %q, want none", out)
	}
	if errOut != string(wantStderr) {
		t.Errorf("stderr\n%q\nwant\n%q", errOut, wantStderr)
	}
	if got, err := os.ReadFile(outputs[0]); err != nil || !bytes.Equal(got, wantFile) {
		t.Errorf("%s: %d bytes, %v; want framing.out's %d", outputs[0], len(got), err, len(wantFile))
	}
	if _, err := os.Stat(outputs[1]); err == nil {
		t.Errorf("%s written, though the guest had no such file", outputs[1])
	}
}

// TestBootStderrAndFiles runs boot against a fake QEMU whose guest splits
// the binary's standard error and sends two -out files, one of them broken.
func TestBootStderrAndFiles(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("needs /bin/sh for the fake QEMU")
	}
	plot := bytes.Repeat([]byte("\x89PNG\r\n\x1a\n\x00"), 1000)
	tests := []struct {
		name       string
		transcript string
		wantCode   int
		wantStderr []string // in order
		wantPlot   bool     // plot.png written; else "old" kept
	}{
		{
			name: "pass",
			transcript: bootNoise + kernelMarker + startMarker + "=== RUN   TestX\r\n" + marker(markerStderr, "itsbench: warning") +
				"ok\r\n" + marker(markerStderrPart, "last") + fileFrames(0, plot) + fileEnd(0, plot) + exitMarker(0) + poweroff,
			wantStderr: []string{"itsbench: warning\nlast", "qemuexec: kernel 6.12.95+deb12-arm64: total "},
			wantPlot:   true,
		},
		{
			name: "corrupt file",
			transcript: bootNoise + kernelMarker + startMarker + "=== RUN   TestX\r\n" + marker(markerStderr, "itsbench: warning") +
				"ok\r\n" + marker(markerStderrPart, "last") + fileFrames(0, plot[1:]) + fileEnd(0, plot) + exitMarker(0) + poweroff,
			wantCode: 1,
			wantStderr: []string{"itsbench: warning\nlast", "qemuexec: FAIL: -out {plot}: corrupt: 8999 bytes arrived, the guest sent 9000; not written",
				"qemuexec: last ", "file-data=", "... (4132 bytes)", "qemuexec: kernel 6.12.95+deb12-arm64: total "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "plot.png")
			if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := boot(bootSpec{qemu: fakeQEMU(t, tt.transcript, ""), kernel: "/boot/vmlinuz-test", nonce: testNonce,
				outputs: []string{out}, timeout: time.Minute, t0: time.Now()}, &stdout, &stderr, nil)
			if code != tt.wantCode {
				t.Errorf("code %d, want %d\nstderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if want := "=== RUN   TestX\nok\n"; stdout.String() != want {
				t.Errorf("stdout %q, want %q", stdout.String(), want)
			}
			rest := stderr.String()
			for _, w := range tt.wantStderr {
				w = strings.ReplaceAll(w, "{plot}", out)
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stderr lacks %q after what came before:\n%s", w, stderr.String())
					break
				}
				rest = rest[i+len(w):]
			}
			got, _ := os.ReadFile(out)
			if tt.wantPlot && !bytes.Equal(got, plot) || !tt.wantPlot && string(got) != "old" {
				t.Errorf("plot.png has %d bytes; want the plot: %v", len(got), tt.wantPlot)
			}
		})
	}
}
