package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// This file tests scripts/kvm-harness on a fake host: a PATH whose apt-get,
// apt-cache, dpkg, dpkg-deb, id and qemu-system-aarch64 are stand-ins that
// record every call and keep the state a real host would (the dpkg
// architectures, whether apt's lists know arm64, whether QEMU is
// installed). So the harness's set-up runs the same on every machine,
// whatever the machine itself has installed or cached.

// fakeHostState is what the fake host has before the harness runs.
type fakeHostState struct {
	qemu         bool // qemu-system-aarch64 is on PATH
	arm64        bool // dpkg --print-foreign-architectures lists arm64
	arm64Lists   bool // apt's lists know arm64 packages (updated since arm64 was added)
	kernelCached bool // CACHE/gicits holds vmlinuz-6.1.0-99-arm64
	noKernelPkg  bool // even updated, apt knows no linux-image-arm64:arm64
	uid          int  // what id -u prints
}

// fakeHost is a fake host's directories.
type fakeHost struct {
	state string // the stand-ins' state files and their call log
	bin   string // the whole PATH
	cache string // XDG_CACHE_HOME
}

// fakeKernel is the kernel package the fake apt names.
const fakeKernel = "linux-image-6.1.0-99-arm64"

// fakeTools is one stand-in shell script for all the faked programs,
// dispatching on the name it was called by. %[1]s is the state directory,
// %[2]s the PATH directory.
const fakeTools = `#!/bin/sh
state=%[1]s
name=${0##*/}
echo "$name $*" >>"$state/calls"
case $name in
dpkg)
	case $1 in
	--print-foreign-architectures) cat "$state/arches" 2>/dev/null ;;
	--add-architecture) echo "$2" >>"$state/arches" ;;
	*) echo "dpkg stand-in: unexpected $*" >&2; exit 2 ;;
	esac ;;
apt-get)
	case $1 in
	update) if grep -qx arm64 "$state/arches" 2>/dev/null && [ ! -f "$state/no-kernel-pkg" ]; then touch "$state/arm64-lists"; fi ;;
	install) ln -s "$0" %[2]s/qemu-system-aarch64 ;;
	download) for a; do last=$a; done; touch "${last%%:arm64}_1_arm64.deb" ;;
	*) echo "apt-get stand-in: unexpected $*" >&2; exit 2 ;;
	esac ;;
apt-cache)
	if [ ! -f "$state/arm64-lists" ]; then echo "E: No packages found" >&2; exit 100; fi
	printf 'linux-image-arm64:arm64\n  Depends: ` + fakeKernel + `:arm64\n' ;;
dpkg-deb) mkdir -p "$3/boot" && echo kernel >"$3/boot/vmlinuz-6.1.0-99-arm64" ;;
id) cat "$state/uid" ;;
qemu-system-aarch64) echo 'QEMU emulator version 0 (stand-in)' ;;
esac
`

// fakedTools are the programs the fake host replaces.
var fakedTools = []string{"apt-get", "apt-cache", "dpkg", "dpkg-deb", "id", "qemu-system-aarch64"}

// newFakeHost makes a fake host in the given state.
func newFakeHost(t *testing.T, st fakeHostState) *fakeHost {
	t.Helper()
	h := &fakeHost{state: t.TempDir(), cache: t.TempDir()}
	h.bin = pathWithout(t, func(n string) bool {
		return strings.HasPrefix(n, "qemu-system-") || slices.Contains(fakedTools, n)
	})
	tool := filepath.Join(h.state, "tool")
	write := func(name, text string) {
		if err := os.WriteFile(name, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(tool, fmt.Sprintf(fakeTools, h.state, h.bin))
	for _, name := range fakedTools {
		if name == "qemu-system-aarch64" && !st.qemu {
			continue
		}
		if err := os.Symlink(tool, filepath.Join(h.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(h.state, "uid"), fmt.Sprintf("%d\n", st.uid))
	if st.arm64 {
		write(filepath.Join(h.state, "arches"), "arm64\n")
	}
	if st.arm64Lists {
		write(filepath.Join(h.state, "arm64-lists"), "")
	}
	if st.noKernelPkg {
		write(filepath.Join(h.state, "no-kernel-pkg"), "")
	}
	if st.kernelCached {
		if err := os.MkdirAll(filepath.Join(h.cache, "gicits"), 0o755); err != nil {
			t.Fatal(err)
		}
		write(filepath.Join(h.cache, "gicits", "vmlinuz-6.1.0-99-arm64"), "kernel\n")
	}
	return h
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

// harnessResult is what one run of scripts/kvm-harness did.
type harnessResult struct {
	status int
	stderr string   // CACHE stands for the cache directory
	calls  []string // the faked programs' calls in order, but id's; TMP stands for temporary directories
}

// run runs scripts/kvm-harness on the fake host with the given environment
// additions and arguments.
func (h *fakeHost) run(t *testing.T, env []string, args ...string) harnessResult {
	t.Helper()
	requireHarnessHost(t)
	script, err := filepath.Abs("../../scripts/kvm-harness")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(script, args...)
	cmd.Env = []string{"PATH=" + h.bin, "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + h.cache}
	for _, k := range []string{"GOCACHE", "GOPATH", "GOMODCACHE", "GOFLAGS", "GOROOT", "GOTOOLCHAIN", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	res := harnessResult{}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("kvm-harness: %v", err)
		}
		res.status = ee.ExitCode()
	}
	res.stderr = strings.ReplaceAll(stderr.String(), h.cache, "CACHE")
	log, err := os.ReadFile(filepath.Join(h.state, "calls"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	tmp := regexp.MustCompile(`/\S*/tmp\.[A-Za-z0-9]+`)
	for c := range strings.SplitSeq(strings.TrimSpace(string(log)), "\n") {
		if c != "" && !strings.HasPrefix(c, "id ") {
			res.calls = append(res.calls, tmp.ReplaceAllString(c, "TMP"))
		}
	}
	return res
}

// requireHarnessHost skips where scripts/kvm-harness cannot take its QEMU
// path: it is a Linux bash script, and on an arm64 host with /dev/kvm it
// runs go test natively instead.
func requireHarnessHost(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("scripts/kvm-harness is a Linux script")
	}
	if runtime.GOARCH == "arm64" {
		t.Skip("on arm64 the harness may run go test natively, never reaching the QEMU set-up")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	if testing.Short() {
		t.Skip("-short: each case runs the script (a go list)")
	}
}

// mutating reports the calls that change the host: everything the faked
// programs were asked but reading dpkg's architectures and apt's cache.
func mutating(calls []string) []string {
	var out []string
	for _, c := range calls {
		if c != "dpkg --print-foreign-architectures" && !strings.HasPrefix(c, "apt-cache ") &&
			!strings.HasPrefix(c, "qemu-system-aarch64 ") {
			out = append(out, c)
		}
	}
	return out
}

// The harness as root on a host with nothing: it installs everything in
// an order that works (the architecture before the one apt-get update),
// and a second run installs and downloads nothing.
func TestHarnessBootstrapsFromNothing(t *testing.T) {
	h := newFakeHost(t, fakeHostState{})
	res := h.run(t, nil, "--setup-only")
	if res.status != 0 {
		t.Fatalf("kvm-harness --setup-only: exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
	}
	want := []string{
		"dpkg --print-foreign-architectures",
		"dpkg --add-architecture arm64",
		"apt-get update -qq",
		"apt-get install -y -qq --no-install-recommends qemu-system-arm",
		"qemu-system-aarch64 --version",
		"apt-cache depends linux-image-arm64:arm64",
		"apt-get download -qq " + fakeKernel + ":arm64",
		"dpkg-deb -x TMP/dl/" + fakeKernel + "_1_arm64.deb TMP/root",
	}
	if !slices.Equal(res.calls, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(res.calls, "\n  "), strings.Join(want, "\n  "))
	}
	if !strings.Contains(res.stderr, "kvm-harness: kernel CACHE/gicits/vmlinuz-6.1.0-99-arm64\n") {
		t.Errorf("stderr does not name the cached kernel:\n%s", res.stderr)
	}
	if _, err := os.Stat(filepath.Join(h.cache, "gicits", "vmlinuz-6.1.0-99-arm64")); err != nil {
		t.Errorf("kernel not cached: %v", err)
	}

	if err := os.Remove(filepath.Join(h.state, "calls")); err != nil {
		t.Fatal(err)
	}
	again := h.run(t, nil, "--setup-only")
	if again.status != 0 {
		t.Fatalf("second kvm-harness --setup-only: exit status %d; stderr:\n%s", again.status, again.stderr)
	}
	if m := mutating(again.calls); len(m) > 0 {
		t.Errorf("second run changed the host: %q", m)
	}
}

// A host that knows arm64 but whose apt lists predate it: apt-cache
// answers exit status 100, and the harness updates the lists and asks again
// instead of dying.
func TestHarnessUpdatesStaleLists(t *testing.T) {
	h := newFakeHost(t, fakeHostState{qemu: true, arm64: true})
	res := h.run(t, nil, "--setup-only")
	if res.status != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
	}
	want := []string{
		"dpkg --print-foreign-architectures",
		"apt-cache depends linux-image-arm64:arm64",
		"qemu-system-aarch64 --version",
		"apt-get update -qq",
		"apt-cache depends linux-image-arm64:arm64",
		"apt-get download -qq " + fakeKernel + ":arm64",
		"dpkg-deb -x TMP/dl/" + fakeKernel + "_1_arm64.deb TMP/root",
	}
	if !slices.Equal(res.calls, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(res.calls, "\n  "), strings.Join(want, "\n  "))
	}
}
