package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// badHarnessInput is the part of docs/bad-input.md about the hosts
// scripts/kvm-harness runs on: QEMU or the arm64 kernel missing. Each case
// runs the script with GICITS_NO_INSTALL=1 (so it changes nothing) and a
// PATH without qemu-system-aarch64, and wants exit status 1 and the row's
// lines on stderr (CACHE is the empty cache directory it is given).
var badHarnessInput = []struct {
	id       string
	env      []string
	fakeQEMU bool // put a stand-in qemu-system-aarch64 on PATH
	want     []string
}{
	{id: "H7", want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: not installing it (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    apt-get update && apt-get install -y --no-install-recommends qemu-system-arm",
	}},
	{id: "H8", env: []string{"GICITS_QEMU_BIN=/nonexistent/qemu"}, want: []string{
		"kvm-harness: error: GICITS_QEMU_BIN=/nonexistent/qemu is not an executable",
	}},
	{id: "H9", fakeQEMU: true, want: []string{
		"kvm-harness: missing: an arm64 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or GICITS_KERNEL)",
		"kvm-harness: not installing it (--no-install / GICITS_NO_INSTALL=1); run as root:",
	}},
	{id: "H10", fakeQEMU: true, env: []string{"GICITS_KERNEL=/nonexistent/vmlinuz"}, want: []string{
		"kvm-harness: error: GICITS_KERNEL=/nonexistent/vmlinuz does not exist",
	}},
}

// pathWithout returns a directory of symlinks to every program on PATH
// except those named in drop.
func pathWithout(t *testing.T, drop func(name string) bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		ents, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if drop(e.Name()) {
				continue
			}
			_ = os.Symlink(filepath.Join(d, e.Name()), filepath.Join(dir, e.Name())) // first on PATH wins
		}
	}
	return dir
}

func TestBadInputHarness(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("scripts/kvm-harness is a Linux script")
	}
	if runtime.GOARCH == "arm64" {
		t.Skip("on arm64 the harness may run go test natively, never reaching the QEMU checks")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if testing.Short() {
		t.Skip("-short: each case runs the script (a go list)")
	}
	script, err := filepath.Abs("../../scripts/kvm-harness")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range badHarnessInput {
		t.Run(c.id, func(t *testing.T) {
			bin := pathWithout(t, func(n string) bool { return strings.HasPrefix(n, "qemu-system-") })
			if c.fakeQEMU {
				fake := "#!/bin/sh\necho 'QEMU emulator version 0 (stand-in)'\n"
				if err := os.WriteFile(filepath.Join(bin, "qemu-system-aarch64"), []byte(fake), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cache := t.TempDir()
			cmd := exec.Command(script, "-run", "^$", "./backend/kvm/...")
			env := []string{"PATH=" + bin, "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + cache, "GICITS_NO_INSTALL=1"}
			for _, k := range []string{"GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOROOT", "GOTOOLCHAIN"} {
				if v, ok := os.LookupEnv(k); ok {
					env = append(env, k+"="+v)
				}
			}
			cmd.Env = append(env, c.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("kvm-harness: %v, want exit status 1; stderr:\n%s", err, stderr.String())
			}
			got := strings.ReplaceAll(stderr.String(), cache, "CACHE")
			lines := map[string]bool{}
			for _, l := range strings.Split(got, "\n") {
				lines[l] = true
			}
			for _, w := range c.want {
				if !lines[w] {
					t.Errorf("stderr lacks the line %q:\n%s", w, got)
				}
			}
			doc := harnessDocTexts(t)
			if d, ok := doc[c.id]; ok && d != strings.Join(c.want, "\n") {
				t.Errorf("docs/bad-input.md says\n%s\nthe test wants\n%s", d, strings.Join(c.want, "\n"))
			}
		})
	}
}

// harnessDocTexts returns the exact-text column of docs/bad-input.md by
// row ID (qemuexec imports nothing of the project, so it parses it itself).
func harnessDocTexts(t *testing.T) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile("../../docs/bad-input.md")
	if err != nil {
		t.Logf("docs/bad-input.md: %v", err)
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 5 || !strings.HasPrefix(cells[0], "| ") {
			continue
		}
		var parts []string
		for _, p := range strings.Split(cells[3], "<br>") {
			parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "`"), "`"))
		}
		out[strings.TrimPrefix(cells[0], "| ")] = strings.Join(parts, "\n")
	}
	return out
}
