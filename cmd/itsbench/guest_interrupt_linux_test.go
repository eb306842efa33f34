package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestInterruptStopsTheGuest: Ctrl-C (SIGINT to the whole process group)
// while a command runs in the guest ends it with status 130 and leaves no
// QEMU behind. The test finds
// the run's processes by a variable only they carry in their environment.
func TestInterruptStopsTheGuest(t *testing.T) {
	guest := cliKVM(t)
	if guest == nil {
		t.Skip("KVM is native here: no guest to stop")
	}
	bin := filepath.Join(t.TempDir(), "itsbench")
	if msg, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	mark := fmt.Sprintf("GICITS_TEST_RUN=%d", time.Now().UnixNano())
	cmd := exec.Command(bin, append(append([]string{"script", "-backend", "kvm", "-verbose"}, guest...), "../../testdata/conformance")...)
	cmd.Env = append(os.Environ(), mark)
	// Its own process group, signalled whole, as a terminal's Ctrl-C
	// signals the foreground group: itsbench and qemuexec both get it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The first statement the guest prints means QEMU runs the command.
	lines := bufio.NewScanner(out)
	for lines.Scan() && !strings.Contains(lines.Text(), ".its:") {
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, out)
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != exitInterrupted {
		t.Errorf("exit status %d (%v), want %d; stderr:\n%s", code, err, exitInterrupted, stderr.String())
	}
	if left := processesWith(mark); len(left) > 0 {
		t.Errorf("processes of the run left behind: %v", left)
	}
}

// processesWith returns the command lines of the processes whose
// environment holds kv.
func processesWith(kv string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var found []string
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !slices.Contains(strings.Split(string(env), "\x00"), kv) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(d, "cmdline"))
		found = append(found, strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}
