package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Preparing the guest: the kernel, QEMU, qemuexec and the linux/arm64
// itsbench. From a checkout (go run, a clone) everything is built or
// fetched on demand, scripts/kvm-harness --setup-only installing and
// caching exactly as it does for the tests; without one, the programs are
// looked for beside this one and the kernel in the cache, and what is
// missing is said with the commands that provide it.

// modulePath is the module a checkout must declare.
const modulePath = "github.com/gicits/gicits"

// kernelGlobs are the cache names of each series' image, as
// scripts/kvm-harness caches them.
var kernelGlobs = map[string]string{"6.1": "vmlinuz-6.1.0-*-arm64", "6.12": "vmlinuz-6.12.*+deb12-arm64"}

// prepareGuest finds or makes what a guest run needs, saying what it does
// on e.stderr. A status other than exitOK is the one to exit with; the
// reason has been printed.
func prepareGuest(e *env, kernel, guestBinary string) (*guest, int) {
	say := func(format string, args ...any) { fmt.Fprintf(e.stderr, "itsbench: "+format+"\n", args...) }
	root := findCheckout()
	cache, err := os.UserCacheDir()
	if err != nil {
		say("finding the cache directory: %v", err)
		return nil, exitFailure
	}
	cache = filepath.Join(cache, "gicits")
	g := &guest{series: kernel}
	if _, series := kernelGlobs[kernel]; !series {
		if fi, err := os.Stat(kernel); err != nil || !fi.Mode().IsRegular() {
			say("-kernel %q: want 6.1, 6.12 or the path of an arm64 kernel image", kernel)
			return nil, exitUsage
		}
		g.kernel, g.series = kernel, filepath.Base(kernel)
	}
	var missing []string
	if _, err := exec.LookPath(qemuBinary()); err != nil {
		missing = append(missing, "QEMU ("+qemuBinary()+")")
	}
	if g.kernel == "" {
		if g.kernel = cachedKernel(cache, kernel); g.kernel == "" {
			missing = append(missing, fmt.Sprintf("the %s kernel (%s in %s)", kernel, kernelGlobs[kernel], cache))
		}
	}
	if len(missing) > 0 {
		if status := setUp(e, root, kernel, missing); status != exitOK {
			return nil, status
		}
		if g.kernel == "" {
			g.kernel = cachedKernel(cache, kernel)
		}
	}
	if g.kernel == "" {
		say("the %s kernel is still not in %s after the set-up", kernel, cache)
		return nil, exitFailure
	}
	var status int
	if g.qemuexec, status = hostProgram(e, root, cache, "qemuexec", "./tools/qemuexec"); status != exitOK {
		return nil, status
	}
	g.binary = guestBinary
	if g.binary == "" {
		if g.binary, status = arm64Itsbench(e, root, cache); status != exitOK {
			return nil, status
		}
	}
	return g, exitOK
}

func qemuBinary() string {
	if q := os.Getenv("GICITS_QEMU_BIN"); q != "" {
		return q
	}
	return "qemu-system-aarch64"
}

// cachedKernel returns the newest cached image of series, or "".
func cachedKernel(cache, series string) string {
	m, _ := filepath.Glob(filepath.Join(cache, kernelGlobs[series]))
	if len(m) == 0 {
		return ""
	}
	slices.SortFunc(m, func(a, b string) int { return compareVersions(filepath.Base(a), filepath.Base(b)) })
	return m[len(m)-1]
}

// compareVersions orders names by their numbers, so 6.12.95 comes before
// 6.12.100.
func compareVersions(a, b string) int {
	split := func(s string) []string {
		return strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	}
	x, y := split(a), split(b)
	for i := range min(len(x), len(y)) {
		if len(x[i]) != len(y[i]) {
			return len(x[i]) - len(y[i])
		}
		if c := strings.Compare(x[i], y[i]); c != 0 {
			return c
		}
	}
	return len(x) - len(y)
}

// setUp installs QEMU and fetches the kernel series (what is missing)
// through
// scripts/kvm-harness --setup-only, which says what it does (and, with
// GICITS_NO_INSTALL=1 or without root, prints the commands instead and
// exits with exitSetup). Without a checkout it says what to run.
func setUp(e *env, root, series string, missing []string) int {
	what := strings.Join(missing, " and ")
	if root == "" {
		fmt.Fprintf(e.stderr, "itsbench: the kvm backend runs in an arm64 guest on this host, which needs %s\n"+
			"itsbench: set it up from a gicits checkout (git clone https://%s), as root: GICITS_KERNELS=%s scripts/kvm-harness --setup-only\n", what, modulePath, series)
		return exitSetup
	}
	fmt.Fprintf(e.stderr, "itsbench: the arm64 guest needs %s: setting it up with scripts/kvm-harness --setup-only\n", what)
	cmd := exec.Command(filepath.Join(root, "scripts", "kvm-harness"), "--setup-only")
	cmd.Dir = root
	cmd.Env = append(withoutVar(os.Environ(), "GICITS_KERNEL"), "GICITS_KERNELS="+series)
	cmd.Stdout, cmd.Stderr = e.stderr, e.stderr
	return waitGuest(e, cmd)
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}

// hostProgram returns the host build of a program of the module: built
// from the checkout into the cache, or found beside this program or on
// PATH.
func hostProgram(e *env, root, cache, name, pkg string) (string, int) {
	if root != "" {
		out := filepath.Join(checkoutBin(cache, root), name)
		return out, goBuild(e, root, out, pkg, nil)
	}
	if p := besideSelf(name); p != "" {
		return p, exitOK
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, exitOK
	}
	fmt.Fprintf(e.stderr, "itsbench: no %s beside this program or on PATH: go install %s/%s@latest\n", name, modulePath, strings.TrimPrefix(pkg, "./"))
	return "", exitSetup
}

// arm64Itsbench returns the linux/arm64 itsbench: built from the checkout
// into the cache, or found beside this program where go install puts a
// cross-compiled one (linux_arm64/itsbench) or as itsbench-linux-arm64.
func arm64Itsbench(e *env, root, cache string) (string, int) {
	if root != "" {
		out := filepath.Join(checkoutBin(cache, root), "itsbench-linux-arm64")
		return out, goBuild(e, root, out, "./cmd/itsbench", []string{"GOOS=linux", "GOARCH=arm64"})
	}
	for _, name := range []string{filepath.Join("linux_arm64", "itsbench"), "itsbench-linux-arm64"} {
		if p := besideSelf(name); p != "" {
			return p, exitOK
		}
	}
	fmt.Fprintf(e.stderr, "itsbench: no linux/arm64 itsbench beside this program: GOOS=linux GOARCH=arm64 go install %s/cmd/itsbench@latest puts one in linux_arm64/ beside it, or name one with -guest-binary\n", modulePath)
	return "", exitSetup
}

// checkoutBin is where the programs built from the checkout at root go:
// one directory per checkout, so two checkouts never build over each
// other's guest binary.
func checkoutBin(cache, root string) string {
	sum := sha256.Sum256([]byte(root))
	return filepath.Join(cache, "bin", "checkout-"+hex.EncodeToString(sum[:6]))
}

// goBuild builds pkg of the checkout at root into out, statically: into a
// file beside out, renamed over it, so a run using out meanwhile never
// sees half a binary.
func goBuild(e *env, root, out, pkg string, env []string) int {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		fmt.Fprintf(e.stderr, "itsbench: %v\n", err)
		return exitFailure
	}
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	defer os.Remove(tmp)
	cmd := exec.Command("go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS="), env...)
	var msg bytes.Buffer
	cmd.Stdout, cmd.Stderr = &msg, &msg
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(e.stderr, "itsbench: go build %s (%s): %v\n%s", pkg, strings.Join(env, " "), err, msg.String())
		return exitFailure
	}
	if err := os.Rename(tmp, out); err != nil {
		fmt.Fprintf(e.stderr, "itsbench: %v\n", err)
		return exitFailure
	}
	return exitOK
}

// besideSelf returns name in this program's directory if it is there.
func besideSelf(name string) string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(self), name)
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p
	}
	return ""
}

// findCheckout returns the root of a gicits checkout holding the working
// directory (go run, a clone), or "".
func findCheckout() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			first, _, _ := strings.Cut(string(mod), "\n")
			if strings.TrimSpace(first) == "module "+modulePath {
				if _, err := os.Stat(filepath.Join(dir, "scripts", "kvm-harness")); err == nil {
					return dir
				}
			}
			return ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
