package main

import (
	"os"
	"slices"
	"strings"
	"testing"
)

// badHarnessInput is the part of docs/bad-input.md about the hosts
// scripts/kvm-harness runs on: QEMU or the arm64 kernel missing where the
// harness may not install them. Each case runs the script on a fake host
// (harness_test.go) and wants exit status 1, exactly the row's lines (in
// order) among its stderr, and no call that changes the host. CACHE is the
// fake host's XDG_CACHE_HOME.
var badHarnessInput = []struct {
	id    string
	host  fakeHostState
	env   []string
	want  []string
	calls []string // every call to the faked programs but id, when set
}{
	{id: "H7", host: fakeHostState{kernelCached: true}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
	}},
	{id: "H8", env: []string{"GICITS_QEMU_BIN=/nonexistent/qemu"}, want: []string{
		"kvm-harness: error: GICITS_QEMU_BIN=/nonexistent/qemu is not an executable",
	}},
	{id: "H9", host: fakeHostState{qemu: true}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: an arm64 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or GICITS_KERNEL)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    dpkg --add-architecture arm64",
		"    apt-get update",
		"    apt-cache depends linux-image-arm64:arm64   # names linux-image-6.1.0-NN-arm64: use its NN below",
		"    cd $(mktemp -d) && apt-get download linux-image-6.1.0-NN-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.1.0-NN-arm64 CACHE/gicits/",
	}, calls: []string{"dpkg --print-foreign-architectures"}},
	{id: "H10", host: fakeHostState{qemu: true}, env: []string{"GICITS_KERNEL=/nonexistent/vmlinuz"}, want: []string{
		"kvm-harness: error: GICITS_KERNEL=/nonexistent/vmlinuz does not exist",
	}},
	{id: "H11", host: fakeHostState{arm64: true, arm64Lists: true}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: missing: an arm64 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or GICITS_KERNEL)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
		"    cd $(mktemp -d) && apt-get download linux-image-6.1.0-99-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.1.0-99-arm64 CACHE/gicits/",
	}},
	{id: "H12", host: fakeHostState{uid: 1000}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: missing: an arm64 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or GICITS_KERNEL)",
		"kvm-harness: installing needs root; run as root:",
		"    dpkg --add-architecture arm64",
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
	}},
	{id: "H13", host: fakeHostState{qemu: true, noKernelPkg: true}, want: []string{
		"kvm-harness: error: apt-cache depends linux-image-arm64:arm64 names no linux-image-6.1.0-NN-arm64 (is a bookworm source in apt's lists?)",
	}},
}

func TestBadInputHarness(t *testing.T) {
	for _, c := range badHarnessInput {
		t.Run(c.id, func(t *testing.T) {
			res := newFakeHost(t, c.host).run(t, c.env, "-run", "^$", "./backend/kvm/...")
			if res.status != 1 {
				t.Fatalf("kvm-harness: exit status %d, want 1; stderr:\n%s", res.status, res.stderr)
			}
			if !containsInOrder(strings.Split(res.stderr, "\n"), c.want) {
				t.Errorf("stderr lacks, in this order:\n%s\nstderr:\n%s", strings.Join(c.want, "\n"), res.stderr)
			}
			if c.calls != nil && !slices.Equal(res.calls, c.calls) {
				t.Errorf("calls %q, want %q", res.calls, c.calls)
			}
			if c.id != "H13" {
				if m := mutating(res.calls); len(m) > 0 {
					t.Errorf("the harness changed the host although it may not: %q", m)
				}
			}
			doc := harnessDocTexts(t)
			if d, ok := doc[c.id]; !ok {
				t.Errorf("docs/bad-input.md has no row %s", c.id)
			} else if d != strings.Join(c.want, "\n") {
				t.Errorf("docs/bad-input.md says\n%s\nthe test wants\n%s", d, strings.Join(c.want, "\n"))
			}
		})
	}
}

// containsInOrder reports whether want's lines stand in lines in order,
// next to each other.
func containsInOrder(lines, want []string) bool {
	for i := range lines {
		if len(lines)-i >= len(want) && slices.Equal(lines[i:i+len(want)], want) {
			return true
		}
	}
	return false
}

// harnessDocTexts returns the exact-text column of docs/bad-input.md by
// row ID (qemuexec imports nothing of the project, so it parses it itself).
func harnessDocTexts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	b, err := os.ReadFile("../../docs/bad-input.md")
	if err != nil {
		t.Fatalf("docs/bad-input.md: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 5 || !strings.HasPrefix(cells[0], "| ") {
			continue
		}
		var parts []string
		for p := range strings.SplitSeq(cells[3], "<br>") {
			parts = append(parts, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "`"), "`"))
		}
		out[strings.TrimPrefix(cells[0], "| ")] = strings.Join(parts, "\n")
	}
	return out
}
