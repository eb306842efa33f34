package main

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// badHarnessInput is the part of docs/bad-input.md about the hosts
// scripts/kvm-harness runs on: QEMU or an arm64 kernel missing where the
// harness may not install them, and kernel lists it cannot run. Each case
// runs the script on a fake host (harness_test.go) and wants exit status 3
// where it printed the commands that set the host up and 1 for an error
// (docs/exit-status.md), exactly the row's lines (in order) among its stderr, and, but where
// mayChange says so, no call that changes the host and apt's sources as
// they were. CACHE is the fake host's XDG_CACHE_HOME, SOURCES its apt's
// sources.list.d.
var badHarnessInput = []struct {
	id        string
	host      fakeHostState
	env       []string
	want      []string
	calls     []string // every call to the faked programs but id, when set
	mayChange bool     // the case runs as root and may install
}{
	{id: "H7", host: fakeHostState{cached: bothCached}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
	}},
	{id: "H8", env: []string{"GICITS_QEMU_BIN=/nonexistent/qemu"}, want: []string{
		"kvm-harness: error: GICITS_QEMU_BIN=/nonexistent/qemu is not an executable",
	}},
	{id: "H9", host: fakeHostState{qemu: true}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: the 6.1 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: the 6.12 kernel (vmlinuz-6.12.NN+deb12-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: bookworm-backports in apt's sources (the 6.12 kernel comes from there)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    dpkg --add-architecture arm64",
		"    " + writeBackports,
		"    apt-get update",
		"    apt-cache show linux-image-arm64:arm64   # its Depends: lines name linux-image-6.1.0-NN-arm64 and linux-image-6.12.NN+deb12-arm64: use the highest NN below",
		"    cd $(mktemp -d) && apt-get download linux-image-6.1.0-NN-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.1.0-NN-arm64 CACHE/gicits/",
		"    cd $(mktemp -d) && apt-get download linux-image-6.12.NN+deb12-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.12.NN+deb12-arm64 CACHE/gicits/",
	}, calls: []string{callArches, callSuites, callSourcesDir}},
	{id: "H10", host: fakeHostState{qemu: true}, env: []string{"GICITS_KERNEL=/nonexistent/vmlinuz"}, want: []string{
		"kvm-harness: error: GICITS_KERNEL=/nonexistent/vmlinuz does not exist",
	}},
	{id: "H11", host: fakeHostState{arm64: true, lists: true}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: missing: the 6.1 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: the 6.12 kernel (vmlinuz-6.12.NN+deb12-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: bookworm-backports in apt's sources (the 6.12 kernel comes from there)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    " + writeBackports,
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
		"    apt-cache show linux-image-arm64:arm64   # its Depends: lines name linux-image-6.12.NN+deb12-arm64: use the highest NN below",
		"    cd $(mktemp -d) && apt-get download linux-image-6.1.0-99-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.1.0-99-arm64 CACHE/gicits/",
		"    cd $(mktemp -d) && apt-get download linux-image-6.12.NN+deb12-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.12.NN+deb12-arm64 CACHE/gicits/",
	}},
	{id: "H12", host: fakeHostState{uid: 1000}, want: []string{
		"kvm-harness: missing: qemu-system-aarch64",
		"kvm-harness: missing: the 6.1 kernel (vmlinuz-6.1.0-NN-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: the 6.12 kernel (vmlinuz-6.12.NN+deb12-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: bookworm-backports in apt's sources (the 6.12 kernel comes from there)",
		"kvm-harness: installing needs root; run as root:",
		"    dpkg --add-architecture arm64",
		"    " + writeBackports,
		"    apt-get update",
		"    apt-get install -y --no-install-recommends qemu-system-arm",
	}},
	{id: "H13", host: fakeHostState{qemu: true, noKernelPkg: true}, mayChange: true, want: []string{
		"kvm-harness: error: apt-cache show linux-image-arm64:arm64 names no linux-image-6.1.0-NN-arm64 (is a bookworm source in apt's lists?)",
	}},
	{id: "H14", host: fakeHostState{qemu: true, cached: bothCached}, env: []string{"GICITS_KERNELS=6.1 6.6"}, want: []string{
		"kvm-harness: error: GICITS_KERNELS: unknown kernel series 6.6: the harness fetches 6.1 (Debian bookworm) and 6.12 (bookworm-backports); any other kernel is the path of its arm64 image",
	}, calls: []string{}},
	{id: "H15", host: fakeHostState{qemu: true, cached: bothCached}, env: []string{"GICITS_KERNELS=6.12 /nonexistent/vmlinuz"}, want: []string{
		"kvm-harness: error: GICITS_KERNELS: /nonexistent/vmlinuz does not exist (an entry is a kernel series, 6.1 or 6.12, or the path of an arm64 kernel image)",
	}, calls: []string{}},
	{id: "H16", host: fakeHostState{qemu: true, cached: bothCached}, env: []string{"GICITS_KERNELS=6.1", "GICITS_KERNEL=/boot/vmlinuz"}, want: []string{
		"kvm-harness: error: GICITS_KERNELS and GICITS_KERNEL are both set: GICITS_KERNELS lists every kernel (a path is one of them); unset one",
	}, calls: []string{}},
	{id: "H17", host: fakeHostState{qemu: true, cached: bothCached}, env: []string{"GICITS_KERNELS=6.12 6.1 6.12"}, want: []string{
		"kvm-harness: error: GICITS_KERNELS names 6.12 twice",
	}, calls: []string{}},
	{id: "H18", host: fakeHostState{qemu: true, arm64: true, lists: true, cached: []string{"6.1.0-99-arm64"}}, env: []string{"GICITS_NO_INSTALL=1"}, want: []string{
		"kvm-harness: missing: the 6.12 kernel (vmlinuz-6.12.NN+deb12-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: missing: bookworm-backports in apt's sources (the 6.12 kernel comes from there)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    " + writeBackports,
		"    apt-get update",
		"    apt-cache show linux-image-arm64:arm64   # its Depends: lines name linux-image-6.12.NN+deb12-arm64: use the highest NN below",
		"    cd $(mktemp -d) && apt-get download linux-image-6.12.NN+deb12-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.12.NN+deb12-arm64 CACHE/gicits/",
	}, calls: []string{callArches, callSuites, callSourcesDir}},
	{id: "H19", host: fakeHostState{qemu: true, arm64: true, backports: true, lists: true}, env: []string{"GICITS_NO_INSTALL=1", "GICITS_KERNELS=6.12"}, want: []string{
		"kvm-harness: missing: the 6.12 kernel (vmlinuz-6.12.NN+deb12-arm64 in CACHE/gicits, or a path in GICITS_KERNELS)",
		"kvm-harness: not installing (--no-install / GICITS_NO_INSTALL=1); run as root:",
		"    cd $(mktemp -d) && apt-get download linux-image-6.12.10+deb12-arm64:arm64 && dpkg-deb -x linux-image-*.deb root",
		"    mkdir -p CACHE/gicits && cp root/boot/vmlinuz-6.12.10+deb12-arm64 CACHE/gicits/",
	}, calls: []string{callArches, callSuites, callKernelPkgs}},
	{id: "H20", host: fakeHostState{qemu: true, arm64: true, backports: true, noKernelPkg: true}, env: []string{"GICITS_KERNELS=6.12"}, mayChange: true, want: []string{
		"kvm-harness: error: apt-cache show linux-image-arm64:arm64 names no linux-image-6.12.NN+deb12-arm64 (is a bookworm-backports source in apt's lists?)",
	}},
}

// bothCached has a kernel of each series in the cache.
var bothCached = []string{"6.1.0-99-arm64", "6.12.10+deb12-arm64"}

// writeBackports is the command that adds bookworm-backports to apt's
// sources, on the mirror of the fake host's bookworm, for arm64, signed by
// the Debian archive keyring (KEYRING).
const writeBackports = "printf '%s\\n' 'Types: deb' 'URIs: " + fakeMirror + "' 'Suites: bookworm-backports' 'Components: main' " +
	"'Architectures: arm64' 'Signed-By: KEYRING' >SOURCES/gicits-bookworm-backports.sources"

func TestBadInputHarness(t *testing.T) {
	for _, c := range badHarnessInput {
		t.Run(c.id, func(t *testing.T) {
			h := newFakeHost(t, c.host)
			sources := h.sourcesFiles(t)
			res := h.run(t, "", c.env, "-run", "^$", "./backend/kvm/...")
			want := 1
			if slices.ContainsFunc(c.want, func(l string) bool { return strings.HasSuffix(l, "; run as root:") }) {
				want = 3 // the set-up commands were printed
			}
			if res.status != want {
				t.Fatalf("kvm-harness: exit status %d, want %d; stderr:\n%s", res.status, want, res.stderr)
			}
			if !containsInOrder(strings.Split(res.stderr, "\n"), c.want) {
				t.Errorf("stderr lacks, in this order:\n%s\nstderr:\n%s", strings.Join(c.want, "\n"), res.stderr)
			}
			if c.calls != nil && !slices.Equal(res.calls, c.calls) {
				t.Errorf("calls %q, want %q", res.calls, c.calls)
			}
			if !c.mayChange {
				if m := mutating(res.calls); len(m) > 0 {
					t.Errorf("the harness changed the host although it may not: %q", m)
				}
				if after := h.sourcesFiles(t); !maps.Equal(after, sources) {
					t.Errorf("the harness changed apt's sources although it may not: %q", slices.Sorted(maps.Keys(after)))
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
