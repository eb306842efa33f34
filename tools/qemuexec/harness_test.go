package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
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
// apt-cache, apt-config, dpkg, dpkg-deb, id and qemu-system-aarch64 are
// stand-ins that record every call and keep the state a real host would (the
// dpkg architectures, apt's sources and what its lists know, whether QEMU is
// installed). So the harness's set-up runs the same on every machine,
// whatever the machine itself has installed, configured or cached.
//
// The fake kernels are one-line files, "fake-kernel RELEASE STATUS", and the
// fake QEMU is a fake guest: it speaks qemuexec's console protocol, reports
// RELEASE as the kernel's, prints the GICITS_KERNEL_SERIES the test would
// see and exits with STATUS as the test's status. So a run goes through the
// real go test -exec and qemuexec, without booting anything.

// fakeHostState is what the fake host has before the harness runs.
type fakeHostState struct {
	qemu        bool     // qemu-system-aarch64 is on PATH
	arm64       bool     // dpkg --print-foreign-architectures lists arm64
	backports   bool     // apt's sources have bookworm-backports (a file of the host's own)
	lists       bool     // apt's lists are up to date with its sources and architectures
	cached      []string // kernel images in CACHE/gicits, by release
	failing     string   // the release whose guest's test fails
	noKernelPkg bool     // even updated, apt knows no linux-image-arm64:arm64
	updateFails bool     // apt-get update fails (as for a source apt cannot check)
	noKeyring   bool     // the Debian archive keyring is not installed
	uid         int      // what id -u prints
}

// fakeHost is a fake host's directories.
type fakeHost struct {
	state   string // the stand-ins' state files and their call log
	sources string // apt's sources.list.d (Dir::Etc::sourceparts)
	bin     string // the whole PATH
	cache   string // XDG_CACHE_HOME
	keyring string // the Debian archive keyring (GICITS_DEBIAN_KEYRING), there or not
}

// The kernels the fake apt knows: linux-image-arm64:arm64 depends on the
// first two in bookworm and on the last two in bookworm-backports, listed in
// an order where only a version sort finds the newest of each.
const (
	fakeKernel       = "linux-image-6.1.0-99-arm64"
	fakeKernelOld    = "linux-image-6.1.0-98-arm64"
	fakeKernel612    = "linux-image-6.12.10+deb12-arm64"
	fakeKernel612Old = "linux-image-6.12.9+deb12-arm64"
	fakeMirror       = "http://mirror.example/debian" // where the fake bookworm comes from
)

// fakeDebianSources is the fake host's own apt source, deb822 as on Debian
// 12: bookworm on fakeMirror, security elsewhere.
const fakeDebianSources = `Types: deb
URIs: ` + fakeMirror + `
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`

// wantBackportsSource is what the harness writes where apt has no
// bookworm-backports: the suite on the mirror of the host's bookworm, for
// arm64 only, signed by keyring ("" where the host has none).
func wantBackportsSource(keyring string) string {
	s := "Types: deb\nURIs: " + fakeMirror + "\nSuites: bookworm-backports\nComponents: main\nArchitectures: arm64\n"
	if keyring != "" {
		s += "Signed-By: " + keyring + "\n"
	}
	return s
}

// fakeTools is one stand-in shell script for all the faked programs,
// dispatching on the name it was called by. %[1]s is the state directory,
// %[2]s the PATH directory, %[3]s apt's sources.list.d.
//
// apt-get indextargets and update read the *.sources files (deb822, each
// stanza's Components after its URIs and Suites); update records in
// $state/lists every "suite arch" its lists then know, and apt-cache show
// answers from that.
const fakeTools = `#!/bin/sh
state=%[1]s
sources=%[3]s
name=${0##*/}
echo "$name $*" >>"$state/calls"
targets() { # URI SUITE COMPONENT for every suite of the sources
	cat "$sources"/*.sources 2>/dev/null | awk '
		$1 == "URIs:" { uri = $2 }
		$1 == "Suites:" { n = split(substr($0, 9), s, " ") }
		$1 == "Components:" { for (i = 1; i <= n; i++) print uri, s[i], $2 }'
}
version() { # PACKAGE VERSION: one record of apt-cache show
	printf 'Package: linux-image-arm64
Version: %%s
Depends: %%s (= %%s)

' "$2" "$1" "$2"
}
case $name in
dpkg)
	case $1 in
	--print-foreign-architectures) cat "$state/arches" 2>/dev/null ;;
	--add-architecture) echo "$2" >>"$state/arches" ;;
	*) echo "dpkg stand-in: unexpected $*" >&2; exit 2 ;;
	esac ;;
apt-config)
	[ "$1 $3" = "shell Dir::Etc::sourceparts/d" ] || { echo "apt-config stand-in: unexpected $*" >&2; exit 2; }
	echo "$2='$sources/'" ;;
apt-get)
	case $1 in
	indextargets) targets ;;
	update)
		if [ -f "$state/update-fails" ]; then
			echo "E: The repository '` + fakeMirror + ` bookworm-backports Release' is not signed." >&2
			exit 100
		fi
		: >"$state/lists"
		for s in $(targets | awk '{ print $2 }'); do
			for a in amd64 $(cat "$state/arches" 2>/dev/null); do echo "$s $a" >>"$state/lists"; done
		done ;;
	install) ln -s "$0" %[2]s/qemu-system-aarch64 ;;
	download) for a; do last=$a; done; touch "${last%%%%:arm64}_1_arm64.deb" ;;
	*) echo "apt-get stand-in: unexpected $*" >&2; exit 2 ;;
	esac ;;
apt-cache)
	[ "$*" = "show linux-image-arm64:arm64" ] || { echo "apt-cache stand-in: unexpected $*" >&2; exit 2; }
	if [ -f "$state/no-kernel-pkg" ] || ! grep -q ' arm64$' "$state/lists" 2>/dev/null; then
		echo "N: Unable to locate package linux-image-arm64:arm64" >&2
		echo "E: No packages found" >&2
		exit 100
	fi
	if grep -qx 'bookworm-backports arm64' "$state/lists"; then
		version ` + fakeKernel612Old + ` 6.12.9-1~bpo12+1
		version ` + fakeKernel612 + ` 6.12.10-1~bpo12+1
	fi
	if grep -qx 'bookworm arm64' "$state/lists"; then
		version ` + fakeKernel + ` 6.1.999-1
		version ` + fakeKernelOld + ` 6.1.998-1
	fi ;;
dpkg-deb)
	deb=${2##*/}; release=${deb%%%%_*}; release=${release#linux-image-}
	mkdir -p "$3/boot" && echo "fake-kernel $release 0" >"$3/boot/vmlinuz-$release" ;;
id) cat "$state/uid" ;;
qemu-system-aarch64)
	if [ "$1" = --version ]; then echo 'QEMU emulator version 0 (stand-in)'; exit 0; fi
	while [ $# -gt 0 ]; do
		case $1 in
		-kernel) kernel=$2 ;;
		-initrd) initrd=$2 ;;
		esac
		shift
	done
	read -r _ release status <"$kernel"
	nonce=$(grep -a -o '"nonce": "[0-9a-f]*"' "$initrd" | head -n1 | sed 's/.*: "//; s/"$//')
	series=$(grep -a -o '"GICITS_KERNEL_SERIES=[^"]*"' "$initrd" | head -n1 | tr -d '"')
	verdict=PASS
	[ "$status" = 0 ] || verdict=FAIL
	printf 'qemuexec:%%s:kernel=%%s
' "$nonce" "$release"
	printf 'qemuexec:%%s:start
' "$nonce"
	printf '=== RUN   TestFakeGuest
    fake guest: %%s
--- %%s: TestFakeGuest (0.00s)
%%s
' "$series" "$verdict" "$verdict"
	printf 'qemuexec:%%s:exit-status=%%s
' "$nonce" "$status" ;;
esac
`

// fakedTools are the programs the fake host replaces.
var fakedTools = []string{"apt-get", "apt-cache", "apt-config", "dpkg", "dpkg-deb", "id", "qemu-system-aarch64"}

// newFakeHost makes a fake host in the given state.
func newFakeHost(t *testing.T, st fakeHostState) *fakeHost {
	t.Helper()
	h := &fakeHost{state: t.TempDir(), cache: t.TempDir()}
	h.sources = filepath.Join(h.state, "sources.list.d")
	h.keyring = filepath.Join(h.state, "keyrings", "debian-archive-keyring.gpg")
	h.bin = pathWithout(t, func(n string) bool {
		return strings.HasPrefix(n, "qemu-system-") || slices.Contains(fakedTools, n)
	})
	tool := filepath.Join(h.state, "tool")
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(tool, fmt.Sprintf(fakeTools, h.state, h.bin, h.sources))
	for _, name := range fakedTools {
		if name == "qemu-system-aarch64" && !st.qemu {
			continue
		}
		if err := os.Symlink(tool, filepath.Join(h.bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(h.state, "uid"), fmt.Sprintf("%d\n", st.uid))
	write(filepath.Join(h.sources, "debian.sources"), fakeDebianSources)
	suites := []string{"bookworm", "bookworm-updates", "bookworm-security"}
	if st.backports {
		write(filepath.Join(h.sources, "debian-backports.sources"), wantBackportsSource(h.keyring))
		suites = append(suites, "bookworm-backports")
	}
	if st.arm64 {
		write(filepath.Join(h.state, "arches"), "arm64\n")
	}
	if st.lists {
		lists := ""
		for _, s := range suites {
			lists += s + " amd64\n"
			if st.arm64 {
				lists += s + " arm64\n"
			}
		}
		write(filepath.Join(h.state, "lists"), lists)
	}
	if st.noKernelPkg {
		write(filepath.Join(h.state, "no-kernel-pkg"), "")
	}
	if st.updateFails {
		write(filepath.Join(h.state, "update-fails"), "")
	}
	if !st.noKeyring {
		write(h.keyring, "fake keyring\n")
	}
	for _, release := range st.cached {
		status := 0
		if release == st.failing {
			status = 1
		}
		write(filepath.Join(h.cache, "gicits", "vmlinuz-"+release), fmt.Sprintf("fake-kernel %s %d\n", release, status))
	}
	return h
}

// sourcesFiles returns apt's sources.list.d on the fake host: file name to
// content.
func (h *fakeHost) sourcesFiles(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	ents, err := os.ReadDir(h.sources)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(h.sources, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
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

// harnessResult is what one run of scripts/kvm-harness did. In its texts
// CACHE stands for the cache directory, SOURCES for apt's sources.list.d,
// KEYRING for the Debian archive keyring and TMP for temporary directories.
type harnessResult struct {
	status int
	stdout string
	stderr string
	calls  []string // the faked programs' calls in order, but id's
}

// run runs scripts/kvm-harness on the fake host with the given environment
// additions and arguments, in the directory dir ("" for the test's).
func (h *fakeHost) run(t *testing.T, dir string, env []string, args ...string) harnessResult {
	t.Helper()
	requireHarnessHost(t)
	script, err := filepath.Abs("../../scripts/kvm-harness")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(h.state, "calls")); err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	cmd := exec.Command(script, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + h.bin, "HOME=" + os.Getenv("HOME"), "XDG_CACHE_HOME=" + h.cache,
		"GICITS_DEBIAN_KEYRING=" + h.keyring,
		"GOCACHE=" + goCache(t)} // not one under the fake XDG_CACHE_HOME: go test builds for real
	for _, k := range []string{"GOPATH", "GOMODCACHE", "GOFLAGS", "GOROOT", "GOTOOLCHAIN", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	res := harnessResult{}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("kvm-harness: %v", err)
		}
		res.status = ee.ExitCode()
	}
	tmp := regexp.MustCompile(`/\S*/tmp\.[A-Za-z0-9]+`)
	clean := func(s string) string {
		s = strings.ReplaceAll(strings.ReplaceAll(s, h.cache, "CACHE"), h.keyring, "KEYRING")
		return tmp.ReplaceAllString(strings.ReplaceAll(s, h.sources, "SOURCES"), "TMP")
	}
	res.stdout, res.stderr = clean(stdout.String()), clean(stderr.String())
	log, err := os.ReadFile(filepath.Join(h.state, "calls"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	for c := range strings.SplitSeq(strings.TrimSpace(string(log)), "\n") {
		if c != "" && !strings.HasPrefix(c, "id ") {
			res.calls = append(res.calls, clean(c))
		}
	}
	return res
}

// goCache returns the go command's build cache.
func goCache(t *testing.T) string {
	t.Helper()
	if v := os.Getenv("GOCACHE"); v != "" {
		return v
	}
	out, err := exec.Command("go", "env", "GOCACHE").Output()
	if err != nil {
		t.Fatalf("go env GOCACHE: %v", err)
	}
	return strings.TrimSpace(string(out))
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
// programs were asked but reading dpkg's architectures, apt's configuration
// and cache, and QEMU's version.
func mutating(calls []string) []string {
	var out []string
	for _, c := range calls {
		if c != "dpkg --print-foreign-architectures" && !strings.HasPrefix(c, "apt-cache ") &&
			!strings.HasPrefix(c, "apt-config ") && !strings.HasPrefix(c, "apt-get indextargets ") &&
			!strings.HasPrefix(c, "qemu-system-aarch64 ") {
			out = append(out, c)
		}
	}
	return out
}

// Calls the harness makes to read the host.
const (
	callArches      = "dpkg --print-foreign-architectures"
	callSuites      = "apt-get indextargets --no-release-info --format $(SITE) $(RELEASE) $(COMPONENT) Identifier: Packages"
	callSourcesDir  = "apt-config shell parts Dir::Etc::sourceparts/d"
	callKernelPkgs  = "apt-cache show linux-image-arm64:arm64"
	callQEMUVersion = "qemu-system-aarch64 --version"
)

// wantCalls reports calls that differ from want.
func wantCalls(t *testing.T, calls, want []string) {
	t.Helper()
	if !slices.Equal(calls, want) {
		t.Errorf("calls:\n  %s\nwant:\n  %s", strings.Join(calls, "\n  "), strings.Join(want, "\n  "))
	}
}

// The harness as root on a host with nothing, for both kernel series (the
// default): it installs everything in an order that works (the
// architecture and the backports suite before the one apt-get update),
// downloads the newest kernel of each series, and a second run installs,
// writes and downloads nothing.
func TestHarnessBootstrapsFromNothing(t *testing.T) {
	h := newFakeHost(t, fakeHostState{})
	res := h.run(t, "", nil, "--setup-only")
	if res.status != 0 {
		t.Fatalf("kvm-harness --setup-only: exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
	}
	wantCalls(t, res.calls, []string{
		callArches,
		callSuites,
		"dpkg --add-architecture arm64",
		callSourcesDir,
		"apt-get update -qq",
		"apt-get install -y -qq --no-install-recommends qemu-system-arm",
		callQEMUVersion,
		callKernelPkgs,
		callKernelPkgs,
		"apt-get download -qq " + fakeKernel + ":arm64",
		"dpkg-deb -x TMP/6.1/dl/" + fakeKernel + "_1_arm64.deb TMP/6.1/root",
		"apt-get download -qq " + fakeKernel612 + ":arm64",
		"dpkg-deb -x TMP/6.12/dl/" + fakeKernel612 + "_1_arm64.deb TMP/6.12/root",
	})
	// The file is written between the architecture and the update (the
	// update saw it: 6.12 was found), and says so in that order.
	if !inOrderPrefix(strings.Split(res.stderr, "\n"), []string{
		"kvm-harness: dpkg --add-architecture arm64",
		"kvm-harness: writing SOURCES/gicits-bookworm-backports.sources (URIs: " + fakeMirror + ")",
		"kvm-harness: apt-get update",
		"kvm-harness: kernel 6.1: CACHE/gicits/vmlinuz-6.1.0-99-arm64",
		"kvm-harness: kernel 6.12: CACHE/gicits/vmlinuz-6.12.10+deb12-arm64",
	}) {
		t.Errorf("stderr lacks the steps in order:\n%s", res.stderr)
	}
	sources := h.sourcesFiles(t)
	if got, want := sources["gicits-bookworm-backports.sources"], wantBackportsSource(h.keyring); got != want {
		t.Errorf("SOURCES/gicits-bookworm-backports.sources:\n%s\nwant:\n%s", got, want)
	}
	for _, release := range []string{"6.1.0-99-arm64", "6.12.10+deb12-arm64"} {
		if _, err := os.Stat(filepath.Join(h.cache, "gicits", "vmlinuz-"+release)); err != nil {
			t.Errorf("kernel not cached: %v", err)
		}
	}

	again := h.run(t, "", nil, "--setup-only")
	if again.status != 0 {
		t.Fatalf("second kvm-harness --setup-only: exit status %d; stderr:\n%s", again.status, again.stderr)
	}
	if m := mutating(again.calls); len(m) > 0 {
		t.Errorf("second run changed the host: %q", m)
	}
	if after := h.sourcesFiles(t); !maps.Equal(after, sources) {
		t.Errorf("second run changed apt's sources: %q, before %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(sources)))
	}
}

// A host that knows arm64 and bookworm-backports but whose apt lists
// predate both: apt-cache answers exit status 100, and the harness updates
// the lists once and asks again instead of dying.
func TestHarnessUpdatesStaleLists(t *testing.T) {
	h := newFakeHost(t, fakeHostState{qemu: true, arm64: true, backports: true})
	res := h.run(t, "", nil, "--setup-only")
	if res.status != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
	}
	wantCalls(t, res.calls, []string{
		callArches,
		callSuites,
		callKernelPkgs,
		callKernelPkgs,
		callQEMUVersion,
		"apt-get update -qq",
		callKernelPkgs,
		callKernelPkgs,
		"apt-get download -qq " + fakeKernel + ":arm64",
		"dpkg-deb -x TMP/6.1/dl/" + fakeKernel + "_1_arm64.deb TMP/6.1/root",
		"apt-get download -qq " + fakeKernel612 + ":arm64",
		"dpkg-deb -x TMP/6.12/dl/" + fakeKernel612 + "_1_arm64.deb TMP/6.12/root",
	})
	if _, ok := h.sourcesFiles(t)["gicits-bookworm-backports.sources"]; ok {
		t.Errorf("the harness added bookworm-backports although apt's sources had it")
	}
}

// noKeyringNote is what the harness says where the Debian archive keyring
// is not installed (KEYRING: GICITS_DEBIAN_KEYRING).
const noKeyringNote = "kvm-harness: no KEYRING (package debian-archive-keyring): the bookworm-backports source goes without Signed-By, and apt checks it against the keys it trusts (/etc/apt/trusted.gpg.d)"

// The command the harness prints where it may not install writes exactly
// the bookworm-backports source it writes itself where it may: for arm64
// only, with Signed-By where the Debian archive keyring is installed and
// without it (said so) where it is not, since naming a keyring that is
// not there makes apt refuse the suite.
func TestHarnessPrintsTheSourceItWrites(t *testing.T) {
	for _, c := range []struct {
		name      string
		noKeyring bool
	}{{"keyring", false}, {"no-keyring", true}} {
		t.Run(c.name, func(t *testing.T) {
			h := newFakeHost(t, fakeHostState{qemu: true, arm64: true, lists: true, cached: []string{"6.1.0-99-arm64"}, noKeyring: c.noKeyring})
			keyring := h.keyring
			if c.noKeyring {
				keyring = ""
			}
			printed := h.run(t, "", []string{"GICITS_NO_INSTALL=1"}, "--setup-only")
			var command string
			for l := range strings.SplitSeq(printed.stderr, "\n") {
				if strings.HasPrefix(l, "    printf ") {
					command = strings.TrimPrefix(l, "    ")
				}
			}
			if printed.status != 3 || command == "" {
				t.Fatalf("GICITS_NO_INSTALL=1: exit status %d, want 3 (set-up needed) and a printf command; stderr:\n%s", printed.status, printed.stderr)
			}
			if got := strings.Contains(printed.stderr, noKeyringNote+"\n"); got != c.noKeyring {
				t.Errorf("GICITS_NO_INSTALL=1: says %q: %v, want %v; stderr:\n%s", noKeyringNote, got, c.noKeyring, printed.stderr)
			}
			dir := t.TempDir()
			command = strings.NewReplacer("SOURCES", dir, "KEYRING", h.keyring).Replace(command)
			if out, err := exec.Command("bash", "-c", command).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", command, err, out)
			}
			fromPrinted, err := os.ReadFile(filepath.Join(dir, "gicits-bookworm-backports.sources"))
			if err != nil {
				t.Fatal(err)
			}
			if want := wantBackportsSource(keyring); string(fromPrinted) != want {
				t.Errorf("the printed command writes:\n%s\nwant:\n%s", fromPrinted, want)
			}

			res := h.run(t, "", nil, "--setup-only")
			if res.status != 0 {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
			}
			if got := h.sourcesFiles(t)["gicits-bookworm-backports.sources"]; got != string(fromPrinted) {
				t.Errorf("the harness wrote:\n%s\nthe command it prints writes:\n%s", got, fromPrinted)
			}
			if got := strings.Contains(res.stderr, noKeyringNote+"\n"); got != c.noKeyring {
				t.Errorf("installing: says %q: %v, want %v; stderr:\n%s", noKeyringNote, got, c.noKeyring, res.stderr)
			}
		})
	}
}

// When apt-get update fails, the bookworm-backports source the harness
// added goes again, and the error says so: apt is left as it was, not
// failing every later update on a source it cannot use. A source the host
// had itself stays.
func TestHarnessUpdateFailureRemovesItsSource(t *testing.T) {
	for _, c := range []struct {
		name string
		host fakeHostState
		want string
	}{
		{"added", fakeHostState{qemu: true, arm64: true, cached: []string{"6.1.0-99-arm64"}, updateFails: true},
			"kvm-harness: error: apt-get update failed (exit status 100); removed SOURCES/gicits-bookworm-backports.sources, which this run added: apt's sources are as they were"},
		{"the-hosts-own", fakeHostState{arm64: true, backports: true, cached: bothCached, updateFails: true},
			"kvm-harness: error: apt-get update failed (exit status 100)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newFakeHost(t, c.host)
			before := h.sourcesFiles(t)
			res := h.run(t, "", nil, "--setup-only")
			if res.status != 1 || !slices.Contains(strings.Split(res.stderr, "\n"), c.want) {
				t.Errorf("exit status %d, want 1 and the line\n%s\nstderr:\n%s", res.status, c.want, res.stderr)
			}
			if !slices.Contains(res.calls, "apt-get update -qq") {
				t.Errorf("apt-get update did not run: calls %q", res.calls)
			}
			if after := h.sourcesFiles(t); !maps.Equal(after, before) {
				t.Errorf("apt's sources after the failed update: %q, want them as before: %q", slices.Sorted(maps.Keys(after)), slices.Sorted(maps.Keys(before)))
			}
		})
	}
}

// Each series finds only its own cached kernel: a cached 6.12 is not a
// 6.1 (vmlinuz-6.1* would match it), and the other way round.
func TestHarnessCacheKeepsSeriesApart(t *testing.T) {
	for _, c := range []struct{ cached, want, download string }{
		{cached: "6.12.10+deb12-arm64", want: "6.1", download: fakeKernel},
		{cached: "6.1.0-99-arm64", want: "6.12", download: fakeKernel612},
	} {
		t.Run(c.want, func(t *testing.T) {
			h := newFakeHost(t, fakeHostState{qemu: true, arm64: true, backports: true, lists: true, cached: []string{c.cached}})
			res := h.run(t, "", []string{"GICITS_KERNELS=" + c.want}, "--setup-only")
			if res.status != 0 {
				t.Fatalf("exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
			}
			if !slices.Contains(res.calls, "apt-get download -qq "+c.download+":arm64") {
				t.Errorf("%s not downloaded with only vmlinuz-%s cached; calls %q", c.download, c.cached, res.calls)
			}
		})
	}
}

// Every kernel runs the tests through go test -exec qemuexec, the fake
// guest standing in for QEMU: a path in GICITS_KERNELS (relative to where
// the harness is started) runs next to the series, the failing 6.1 run
// fails the harness but the others still run, each run's output carries its
// label and the series the tests saw, and the summary names every kernel
// by the release its guest reported.
func TestHarnessRunsEveryKernel(t *testing.T) {
	h := newFakeHost(t, fakeHostState{qemu: true, cached: []string{"6.1.0-99-arm64", "6.12.10+deb12-arm64"}, failing: "6.1.0-99-arm64"})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinuz-custom"), []byte("fake-kernel 9.9.9-custom 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res := h.run(t, dir, []string{"GICITS_KERNELS=6.1 6.12 vmlinuz-custom"}, "-v", "./internal/badinput/")
	if res.status != 1 {
		t.Errorf("exit status %d, want 1 (the 6.1 run failed)", res.status)
	}
	if m := mutating(res.calls); len(m) > 0 {
		t.Errorf("the harness changed the host although it had everything: %q", m)
	}
	var kernels []string
	for _, c := range res.calls {
		if f := strings.Fields(c); f[0] == "qemu-system-aarch64" && f[1] != "--version" {
			kernels = append(kernels, f[slices.Index(f, "-kernel")+1])
		}
	}
	wantKernels := []string{"CACHE/gicits/vmlinuz-6.1.0-99-arm64", "CACHE/gicits/vmlinuz-6.12.10+deb12-arm64", filepath.Join(dir, "vmlinuz-custom")}
	if !slices.Equal(kernels, wantKernels) {
		t.Errorf("guests booted %q, want %q", kernels, wantKernels)
	}
	stdout := strings.Split(res.stdout, "\n")
	for _, want := range [][]string{
		{"[6.1]     fake guest: GICITS_KERNEL_SERIES=6.1", "[6.1] --- FAIL: TestFakeGuest (0.00s)",
			"[6.1] qemuexec: kernel 6.1.0-99-arm64: total ", "[6.1] FAIL\tgithub.com/gicits/gicits/internal/badinput"},
		{"[6.12]     fake guest: GICITS_KERNEL_SERIES=6.12", "[6.12] --- PASS: TestFakeGuest (0.00s)",
			"[6.12] qemuexec: kernel 6.12.10+deb12-arm64: total ", "[6.12] ok  \tgithub.com/gicits/gicits/internal/badinput"},
		{"[vmlinuz-custom]     fake guest: GICITS_KERNEL_SERIES=path", "[vmlinuz-custom] --- PASS: TestFakeGuest (0.00s)",
			"[vmlinuz-custom] qemuexec: kernel 9.9.9-custom: total ", "[vmlinuz-custom] ok  \tgithub.com/gicits/gicits/internal/badinput"},
	} {
		if !inOrderPrefix(stdout, want) {
			t.Errorf("stdout lacks, in order:\n%s\nstdout:\n%s", strings.Join(want, "\n"), res.stdout)
		}
	}
	shown := "go test -exec qemuexec -v ./internal/badinput/"
	var phases, summary []string
	for l := range strings.SplitSeq(res.stderr, "\n") {
		if strings.HasPrefix(l, "kvm-harness: [done]  kernel ") {
			phases = append(phases, l[:strings.LastIndex(l, ": ")])
		}
		if strings.HasPrefix(l, "kvm-harness: kernel ") && strings.Contains(l, " in ") {
			summary = append(summary, l[:strings.LastIndex(l, " in ")])
		}
	}
	wantPhases := []string{
		"kvm-harness: [done]  kernel 6.1: " + shown,
		"kvm-harness: [done]  kernel 6.12: " + shown,
		"kvm-harness: [done]  kernel vmlinuz-custom: " + shown,
	}
	if !slices.Equal(phases, wantPhases) {
		t.Errorf("timed phases %q, want %q", phases, wantPhases)
	}
	wantSummary := []string{
		"kvm-harness: kernel 6.1 (6.1.0-99-arm64): FAIL (exit status 1)",
		"kvm-harness: kernel 6.12 (6.12.10+deb12-arm64): PASS",
		"kvm-harness: kernel vmlinuz-custom (9.9.9-custom): PASS",
	}
	if !slices.Equal(summary, wantSummary) {
		t.Errorf("summary %q, want %q; stderr:\n%s", summary, wantSummary, res.stderr)
	}
}

// inOrderPrefix reports whether lines hold, in this order, lines that
// start with each element of want.
func inOrderPrefix(lines, want []string) bool {
	for _, l := range lines {
		if len(want) > 0 && strings.HasPrefix(l, want[0]) {
			want = want[1:]
		}
	}
	return len(want) == 0
}

// With -json the harness labels nothing: go test's output stays a stream of
// JSON objects, one a line, for tools that read it.
func TestHarnessJSONUnlabelled(t *testing.T) {
	h := newFakeHost(t, fakeHostState{qemu: true, cached: bothCached})
	res := h.run(t, "", []string{"GICITS_KERNELS=6.12"}, "-json", "./internal/badinput/")
	if res.status != 0 {
		t.Fatalf("exit status %d, want 0; stderr:\n%s", res.status, res.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("stdout line is not JSON: %q", l)
		}
	}
	if !strings.Contains(res.stdout, `"Action":"pass"`) || !strings.Contains(res.stderr, "kvm-harness: kernel 6.12 (6.12.10+deb12-arm64): PASS in ") {
		t.Errorf("no passing run on 6.12; stdout:\n%s\nstderr:\n%s", res.stdout, res.stderr)
	}
}
