package layering

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// module is the module's path. Paths in the tables below are relative to it.
const module = "github.com/gicits/gicits"

const (
	unixPkg = "golang.org/x/sys/unix"
	kvmsys  = "backend/kvm/internal/kvmsys" // the one package that may import unixPkg
	tools   = "tools"                       // separate programs (qemuexec, tracecapture): each imports nothing of the module but its own packages
	kvmtest = "backend/kvm/kvmtest"         // for tests only: no library or command imports it
)

// layers orders the module's packages from the bottom up, after README.md's
// layout ("model at the bottom, cmd at the top"): a package imports only
// packages of lower layers, or its own internal subpackages. A directory
// stands for its package and every package below it, unless a longer entry
// names one (so backend/kvm/internal/kvmsys is in backend/kvm's layer, and
// bench/benchtest in bench's). The programs under tools/ are in no layer:
// they have a rule of their own.
var layers = [][]string{
	// internal/badinput: the docs/bad-input.md table for tests; it imports
	// nothing of the module.
	{"model", "internal/badinput"},
	{"its", "gicr"},
	{"backend/sim", "backend/kvm"},
	// kvmtest: helpers for tests that open the kvm backend, above it.
	// savedstate: the saved-state file, taken from and given to a backend.
	{"script", "inspect", "backend/kvm/kvmtest", "savedstate"},
	// internal/difftest: the differential-testing toolkit, over script.
	// internal/fidelity/entries: the catalogue's data, which the CLI reads.
	// replay: a real guest's ITS traffic, from a QEMU trace, replayed on a backend.
	{"internal/difftest", "internal/fidelity/entries", "replay"},
	// internal/fidelity: the catalogue of KVM's divergences, classifying
	// what the differential finds.
	{"internal/fidelity"},
	// bench's foundations: statistics, the delivery ledger, memory sampling.
	{"bench/stats", "bench/ledger", "bench/soak"},
	{"bench", "bench/stress"},
	// what reads bench's results: the reports, and the plots (gonum/plot).
	{"bench/report", "bench/plot"},
	// docs and internal/layering hold only tests.
	{"cmd/itsbench", "docs", "internal/layering"},
}

// A target is a platform whose import graph is checked. Build tags decide
// what a package imports, so each has its own graph.
type target struct{ goos, goarch string }

func (p target) String() string { return p.goos + "/" + p.goarch }

// targets: where gicits is developed and tested under QEMU, where the kvm
// backend runs, and two where it must build and refuse.
var targets = []target{{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "arm64"}, {"windows", "amd64"}}

// rules are the import rules. A rule returns what breaks it in one
// platform's graph, one sentence per offending import, naming the package
// and the import.
var rules = []struct {
	name  string
	check func(*graph) []string
}{
	{"unix-only-in-kvmsys", unixOnlyInKVMSys},
	{"model-standard-library-only", modelStandardLibraryOnly},
	{"imports-flow-down", importsFlowDown},
	{"tools-self-contained", toolsSelfContained},
	{"kvmtest-only-in-tests", kvmtestOnlyInTests},
	{"go-cmp-only-in-difftest", heavyDependency("github.com/google/go-cmp/", "internal/difftest", "internal/fidelity")},
	{"plot-only-where-drawn", heavyDependency("gonum.org/v1/plot", "bench/plot", "cmd/itsbench")},
}

func TestImportRules(t *testing.T) {
	for _, p := range targets {
		g := importGraph(t, p)
		for _, r := range rules {
			t.Run(p.goos+"-"+p.goarch+"/"+r.name, func(t *testing.T) {
				for _, v := range r.check(g) {
					t.Errorf("%s: %s", p, v)
				}
			})
		}
	}
}

func unixOnlyInKVMSys(g *graph) []string {
	var bad []string
	for _, p := range g.pkgs {
		if p.path != module+"/"+kvmsys && slices.Contains(p.imports, unixPkg) {
			bad = append(bad, fmt.Sprintf("%s imports %s: only %s may; call a function of kvmsys instead", p.path, unixPkg, kvmsys))
		}
	}
	return bad
}

func modelStandardLibraryOnly(g *graph) []string {
	var bad []string
	g.walk(module+"/model", func(chain []string) {
		p := g.byPath[chain[len(chain)-1]]
		if len(chain) > 1 && !p.standard {
			bad = append(bad, fmt.Sprintf("model depends on %s, which is not in the standard library (imports %s)", p.path, strings.Join(chain, " → ")))
		}
	})
	return bad
}

func importsFlowDown(g *graph) []string {
	var bad []string
	for _, p := range g.pkgs {
		rp, ok := relative(p.path)
		if !ok || under(rp, tools) {
			continue
		}
		lp, ok := layerOf(rp)
		if !ok {
			bad = append(bad, fmt.Sprintf("%s is in no layer: place it in layers (internal/layering/layering_test.go)", p.path))
			continue
		}
		for _, imp := range p.imports {
			ri, ok := relative(imp)
			if !ok || strings.HasPrefix(imp, p.path+"/internal/") {
				continue
			}
			switch li, ok := layerOf(ri); {
			case !ok:
				bad = append(bad, fmt.Sprintf("%s imports %s, which is in no layer", p.path, imp))
			case li >= lp:
				bad = append(bad, fmt.Sprintf("%s (layer %d: %s) imports %s (layer %d: %s): imports flow down only", p.path, lp, strings.Join(layers[lp], ", "), imp, li, strings.Join(layers[li], ", ")))
			}
		}
	}
	return bad
}

// toolsSelfContained: each program under tools/ imports nothing of the
// module but its own packages (its directory and below).
func toolsSelfContained(g *graph) []string {
	var bad []string
	for _, p := range g.pkgs {
		rp, ok := relative(p.path)
		if !ok || !under(rp, tools) {
			continue
		}
		parts := strings.SplitN(rp, "/", 3)
		if len(parts) < 2 {
			continue
		}
		own := parts[0] + "/" + parts[1]
		for _, imp := range p.imports {
			if ri, ok := relative(imp); ok && !under(ri, own) {
				bad = append(bad, fmt.Sprintf("%s imports %s: %s is a separate program and imports nothing of the module but its own packages", p.path, imp, own))
			}
		}
	}
	return bad
}

func kvmtestOnlyInTests(g *graph) []string {
	var bad []string
	for _, p := range g.pkgs {
		if slices.Contains(p.imports, module+"/"+kvmtest) {
			bad = append(bad, fmt.Sprintf("%s imports %s, which is for tests only (it skips or fails a testing.TB)", p.path, kvmtest))
		}
	}
	return bad
}

// heavyDependency returns a rule: only the module packages named in
// allowed (relative paths) may depend, directly or not, on packages whose
// path starts with prefix. go-cmp belongs to the differential toolkit and
// gonum/plot to the packages that draw; everything else, the KVM test
// binaries booted in QEMU among them, stays free of them.
func heavyDependency(prefix string, allowed ...string) func(*graph) []string {
	return func(g *graph) []string {
		var bad []string
		for _, p := range g.pkgs {
			rp, ok := relative(p.path)
			if !ok || slices.Contains(allowed, rp) {
				continue
			}
			g.walk(p.path, func(chain []string) {
				if dep := chain[len(chain)-1]; strings.HasPrefix(dep, prefix) && !strings.HasPrefix(chain[len(chain)-2], prefix) {
					bad = append(bad, fmt.Sprintf("%s depends on %s (%s): only %s may", p.path, dep, strings.Join(chain, " → "), strings.Join(allowed, " and ")))
				}
			})
		}
		return bad
	}
}

// relative returns path relative to the module, and whether it is in it.
func relative(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	return strings.CutPrefix(path, module+"/")
}

// under reports whether the relative path rel is dir or below it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// layerOf returns the layer of the package at rel: the layer of the longest
// entry it is under.
func layerOf(rel string) (int, bool) {
	layer, longest := -1, ""
	for i, l := range layers {
		for _, dir := range l {
			if under(rel, dir) && len(dir) > len(longest) {
				layer, longest = i, dir
			}
		}
	}
	return layer, layer >= 0
}

// pkg is one package of an import graph.
type pkg struct {
	path     string
	standard bool     // in the standard library
	imports  []string // its non-test imports
}

// graph is the import graph of the module's non-test code on one platform:
// the module's packages and everything they build from.
type graph struct {
	pkgs   []*pkg // in go list's order: dependencies first
	byPath map[string]*pkg
}

// walk calls visit once for every package reachable from root, root
// included, with the import chain that reached it first (breadth-first, so
// the shortest), root first.
func (g *graph) walk(root string, visit func(chain []string)) {
	seen := map[string]bool{root: true}
	queue := [][]string{{root}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		visit(chain)
		p := g.byPath[chain[len(chain)-1]]
		if p == nil {
			continue
		}
		for _, imp := range p.imports {
			if !seen[imp] {
				seen[imp] = true
				queue = append(queue, append(chain[:len(chain):len(chain)], imp))
			}
		}
	}
}

// listFormat is go list's template for one package of a graph: path,
// whether it is in the standard library, and its non-test imports.
const listFormat = "{{.ImportPath}}\t{{.Standard}}\t{{join .Imports \" \"}}"

// graphs caches each platform's graph for the test run.
var graphs = map[target]*graph{}

// importGraph returns p's import graph, read with go list -deps.
func importGraph(t *testing.T, p target) *graph {
	t.Helper()
	if g := graphs[p]; g != nil {
		return g
	}
	out := goCommand(t, p, "list", "-deps", "-f", listFormat, module+"/...")
	g := &graph{byPath: map[string]*pkg{}}
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSuffix(line, "\n"), "\t")
		if len(f) != 3 {
			t.Fatalf("%s: go list printed %q, not path, standard and imports", p, line)
		}
		pk := &pkg{path: f[0], standard: f[1] == "true", imports: strings.Fields(f[2])}
		g.pkgs = append(g.pkgs, pk)
		g.byPath[pk.path] = pk
	}
	if m := g.byPath[module+"/model"]; m == nil || len(m.imports) == 0 {
		t.Fatalf("%s: go list -deps %s/... listed no model package with imports: the graph cannot be read", p, module)
	}
	graphs[p] = g
	return g
}

// goCommand runs the go command with GOOS and GOARCH set to p's (cgo off,
// as it is off for every cross-build) and returns its standard output.
func goCommand(t *testing.T, p target, args ...string) []byte {
	t.Helper()
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the import graph is read with the go command, and there is none on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), gotool, args...)
	cmd.Env = append(os.Environ(), "GOOS="+p.goos, "GOARCH="+p.goarch, "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("GOOS=%s GOARCH=%s go %s: %v\n%s", p.goos, p.goarch, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

// TestCrossBuild builds the module, and links the itsbench command, for
// platforms other than the host's: the kvm backend must build everywhere
// (and refuse at run time off linux/arm64), and nothing else may depend on
// Linux.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-builds the module for three platforms, minutes on a cold build cache: not under -short")
	}
	for _, c := range []struct {
		target target
		exe    string // the command's file name
		format string // what executableFormat says of it
	}{
		{target{"darwin", "arm64"}, "itsbench", "Mach-O CpuArm64"},
		{target{"windows", "amd64"}, "itsbench.exe", "PE machine 0x8664"},
		{target{"linux", "arm64"}, "itsbench", "ELF EM_AARCH64"},
	} {
		t.Run(c.target.goos+"-"+c.target.goarch, func(t *testing.T) {
			goCommand(t, c.target, "build", module+"/...")
			exe := filepath.Join(t.TempDir(), c.exe)
			goCommand(t, c.target, "build", "-o", exe, module+"/cmd/itsbench")
			got, err := executableFormat(exe)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.format {
				t.Errorf("cmd/itsbench built for %s is %s, want %s", c.target, got, c.format)
			}
		})
	}
}

// executableFormat names the object format and machine of the executable
// at path.
func executableFormat(path string) (string, error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return "ELF " + f.Machine.String(), nil
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		return "Mach-O " + f.Cpu.String(), nil
	}
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		return fmt.Sprintf("PE machine %#x", f.Machine), nil
	}
	return "", fmt.Errorf("%s is no ELF, Mach-O or PE executable", path)
}

// TestKVMTestBinariesDrawNothing: the test binaries scripts/kvm-harness
// boots in QEMU (backend/kvm and script, linux/arm64) link no plotting, so
// the guest's initramfs and the tests' start-up stay small. The import
// rules above see non-test code only; this reads the test graphs.
func TestKVMTestBinariesDrawNothing(t *testing.T) {
	p := target{"linux", "arm64"}
	out := goCommand(t, p, "list", "-deps", "-test", "./../../backend/kvm/...", "./../../script/...")
	if !strings.Contains(string(out), module+"/backend/kvm.test\n") {
		t.Fatalf("%s: go list -deps -test listed no backend/kvm test binary:\n%s", p, out)
	}
	for dep := range strings.Lines(string(out)) {
		if strings.HasPrefix(dep, "gonum.org/v1/plot") {
			t.Errorf("%s: the KVM test binaries depend on %s", p, strings.TrimSpace(dep))
		}
	}
}
