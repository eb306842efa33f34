package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/kvmtest"
	"github.com/gicits/gicits/model"
)

// cliKernelVar names the guest kernel series the CLI's KVM tests boot on a
// host without arm64 KVM; scripts/test sets it, once per kernel.
const cliKernelVar = "GICITS_CLI_KERNEL"

// cliKVM decides how a CLI test reaches KVM and returns the arguments to
// add to a kvm command line. On an arm64 Linux host the CLI opens KVM
// itself (kvmtest.Require decides). Elsewhere the CLI boots the arm64 guest
// itself, as a user's command does: the test runs when GICITS_CLI_KERNEL
// names the kernel (scripts/test sets it), and needs QEMU and that kernel
// cached (scripts/kvm-harness --setup-only); without them it fails where
// KVM is required (GICITS_KVM_REQUIRED=1) and skips elsewhere, saying why.
// Inside the harness's own guest, where the CLI would run natively but the
// package's sources are absent, it skips.
func cliKVM(t *testing.T) []string {
	t.Helper()
	if os.Getenv("GICITS_QEMU") == "1" {
		t.Skip("the CLI's KVM tests run on the host, whose CLI boots the guest: scripts/test runs them")
	}
	if runtime.GOOS == "linux" && runtime.GOARCH == "arm64" {
		kvmtest.Require(t, model.Config{})
		return nil
	}
	series := os.Getenv(cliKernelVar)
	if series == "" {
		t.Skipf("%s is not set: the CLI's KVM tests boot an arm64 guest on this %s/%s host, on the kernel it names (6.1 or 6.12; scripts/test sets it)", cliKernelVar, runtime.GOOS, runtime.GOARCH)
	}
	missing := ""
	cache, err := os.UserCacheDir()
	switch {
	case err != nil:
		missing = "no cache directory: " + err.Error()
	case cachedKernel(filepath.Join(cache, "gicits"), series) == "" && !isFile(series):
		missing = "no " + series + " kernel in " + filepath.Join(cache, "gicits")
	}
	if _, err := exec.LookPath(qemuBinary()); err != nil {
		missing += " no " + qemuBinary() + " on PATH"
	}
	if missing != "" {
		msg := "the CLI's KVM tests need QEMU and the guest kernel (GICITS_KERNELS=" + series + " scripts/kvm-harness --setup-only installs them): " + missing
		if os.Getenv("GICITS_KVM_REQUIRED") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return []string{"-kernel", series}
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// TestScriptCorpusKVM runs the conformance corpus and the fidelity cases
// with `itsbench script -backend kvm`, as a user would: every expectation
// holds or fails as a known difference of the kernel it ran on, reported
// as such with its catalogue entry, and the command exits 0.
//
//	GICITS_CLI_KERNEL=6.12 go test -run TestScriptCorpusKVM -v ./cmd/itsbench/
func TestScriptCorpusKVM(t *testing.T) {
	guest := cliKVM(t)
	args := append(append([]string{"script", "-backend", "kvm"}, guest...), "../../testdata/conformance", "../../testdata/fidelity")
	status, stdout, stderr := runArgs(t, args...)
	t.Logf("itsbench %s: status %d\n%s%s", strings.Join(args, " "), status, stdout, stderr)
	if status != exitOK {
		t.Fatalf("status %d, want %d", status, exitOK)
	}
	for _, w := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^backend kvm on Linux \S+: failures the fidelity catalogue knows`),
		// discard-pending shows on every kernel the catalogue knows.
		regexp.MustCompile(`cmd-discard\.its:\d+: .* \(known difference discard-pending on Linux \S+: docs/fidelity\.md#discard-pending\)`),
		regexp.MustCompile(`(?m)^\d+ passed, 0 failed, \d+ skipped, \d+ known differences$`),
	} {
		if !w.MatchString(stdout) {
			t.Errorf("output lacks %v", w)
		}
	}
}

// TestReplayKVM replays a real Linux guest's QEMU trace on KVM, through
// the CLI's guest, and lints it: KVM agrees with what QEMU recorded, and
// Linux's driver breaks no rule.
//
//	GICITS_CLI_KERNEL=6.12 go test -run TestReplayKVM -v ./cmd/itsbench/
func TestReplayKVM(t *testing.T) {
	guest := cliKVM(t)
	// The trace with memory dumps: the list and the dumps it names go
	// into the guest too, and every rule is checked.
	const trace = "../../testdata/qemutrace/linux-6.1-smp2-dumps"
	args := append(append([]string{"replay", "-lint", "-backend", "kvm", "-mem", trace + ".mem"}, guest...), trace+".log.gz")
	status, stdout, stderr := runArgs(t, args...)
	t.Logf("itsbench %s: status %d\n%s%s", strings.Join(args, " "), status, stdout, stderr)
	if status != exitOK {
		t.Fatalf("status %d, want %d", status, exitOK)
	}
	for _, w := range []string{"ok: the kvm backend agrees with the trace", "lint: ok: the guest's driver breaks none of the 18 rules checked\n", "220 packets of the trace's commands exactly as the queue dump"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}
