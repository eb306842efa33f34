package main

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Guest layout of the initramfs:
//
//	/init                         the /init program (internal/initprog)
//	/dev/console                  char 5:1, so the kernel can give /init a console
//	/dev /proc /sys /tmp          mount points
//	/qemuexec/config.json         what /init runs (guestConfig)
//	/qemuexec/<name>              the binary
//	/<path>                       each -in path, at its own absolute path
//
// and, without -dir, the package directory go test runs the binary in and
// the testdata it may read:
//
//	/src/<pkg>                    the package directory, relative to the repository root
//	/src/<pkg>/testdata/...       the package's testdata, if any
//	/src/testdata/...             the repository's top-level testdata, if any
//
// or, with -dir, its directory /<dir>.
const (
	guestSrc        = "src"
	guestQemuexec   = "qemuexec"
	guestConfigName = "qemuexec/config.json"
)

// guestConfig is /qemuexec/config.json. It mirrors config in
// internal/initprog/main.go: change both together.
type guestConfig struct {
	Nonce    string   `json:"nonce"`
	Binary   string   `json:"binary"`
	Args     []string `json:"args"`
	Dir      string   `json:"dir"`
	Env      []string `json:"env"`
	MakeDirs []string `json:"make_dirs"`
	// Outputs are the -out paths, which /init sends back in this order
	// after the binary exited.
	Outputs []string `json:"outputs,omitempty"`
	// SplitStderr is -stderr: /init frames the binary's standard error
	// as stderr markers.
	SplitStderr bool `json:"split_stderr,omitempty"`
	// KeepInitramfsTmp tells /init not to mount a tmpfs on /tmp, which
	// would hide the -in paths or -dir the initramfs holds there.
	KeepInitramfsTmp bool `json:"keep_initramfs_tmp,omitempty"`
}

// initrdSpec says what goes into one run's initramfs. All paths are host
// paths, which are the guest's paths too for inputs, outputs and dir.
type initrdSpec struct {
	initProgram string   // the cross-compiled /init
	testBinary  string   // the arm64 binary
	args        []string // its arguments
	repoRoot    string   // the directory holding go.mod
	pkgDir      string   // the package directory, inside repoRoot
	env         []string // the binary's environment in the guest
	nonce       string   // the run's marker nonce
	inputs      []string // -in: absolute paths copied at the same path
	outputs     []string // -out: absolute paths sent back
	dir         string   // -dir: the binary's working directory, "" for pkgDir's guest path
	splitStderr bool     // -stderr
}

// writeInitrd writes the initramfs for spec to w as a newc cpio archive.
// Files of other types than regular, directory and symlink found in testdata
// or the -in paths are skipped and reported through warn.
func writeInitrd(w io.Writer, spec initrdSpec, warn func(string)) error {
	var guestPkg string
	if spec.dir == "" {
		rel, err := filepath.Rel(spec.repoRoot, spec.pkgDir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("package directory %s is not inside the repository root %s", spec.pkgDir, spec.repoRoot)
		}
		guestPkg = path.Join(guestSrc, filepath.ToSlash(rel))
	}

	a := &initrdArchive{cw: newNewcWriter(w), dirs: map[string]bool{}}
	for _, d := range []string{"dev", "proc", "sys", "tmp", guestQemuexec, guestPkg} {
		a.mkdirAll(d)
	}
	a.err(a.cw.CharDev("dev/console", 0o600, 5, 1))
	a.hostFile("init", spec.initProgram, 0o755)
	guestBinary := path.Join(guestQemuexec, filepath.Base(spec.testBinary))
	a.hostFile(guestBinary, spec.testBinary, 0o755)

	workDir := "/" + guestPkg
	if spec.dir == "" {
		a.testdata(spec, warn)
	}
	for _, in := range topmost(spec.inputs) {
		name := archiveName(in)
		a.mkdirAll(path.Dir(name))
		a.hostTree(name, in, warn)
	}
	if spec.dir != "" {
		workDir = filepath.ToSlash(spec.dir)
		a.mkdirAll(archiveName(spec.dir))
	}

	makeDirs := outputDirs(spec.args)
	for _, out := range spec.outputs {
		makeDirs = append(makeDirs, path.Dir(filepath.ToSlash(out)))
	}
	cfg, err := json.MarshalIndent(guestConfig{
		Nonce:            spec.nonce,
		Binary:           "/" + guestBinary,
		Args:             spec.args,
		Dir:              workDir,
		Env:              spec.env,
		MakeDirs:         makeDirs,
		Outputs:          slashed(spec.outputs),
		SplitStderr:      spec.splitStderr,
		KeepInitramfsTmp: underTmp(spec.dir) || slices.ContainsFunc(spec.inputs, underTmp),
	}, "", "\t")
	if err != nil {
		return err
	}
	a.err(a.cw.File(guestConfigName, 0o644, 0, int64(len(cfg)), strings.NewReader(string(cfg))))
	if a.firstErr != nil {
		return a.firstErr
	}
	return a.cw.Close()
}

// testdata adds the package's and the repository's testdata directories.
func (a *initrdArchive) testdata(spec initrdSpec, warn func(string)) {
	seen := map[string]bool{}
	for _, dir := range []string{spec.pkgDir, spec.repoRoot} {
		td := filepath.Join(dir, "testdata")
		if seen[td] {
			continue
		}
		seen[td] = true
		if fi, err := os.Stat(td); err != nil || !fi.IsDir() {
			continue
		}
		r, _ := filepath.Rel(spec.repoRoot, td)
		a.hostTree(path.Join(guestSrc, filepath.ToSlash(r)), td, warn)
	}
}

// archiveName is the archive entry of the absolute path p.
func archiveName(p string) string {
	return strings.TrimPrefix(filepath.ToSlash(p), "/")
}

func slashed(paths []string) []string {
	var out []string
	for _, p := range paths {
		out = append(out, filepath.ToSlash(p))
	}
	return out
}

// topmost is paths (clean and absolute) without repeats and without those
// inside another of them, whose tree holds them already.
func topmost(paths []string) []string {
	var out []string
	for i, p := range paths {
		inside := func(q string) bool { return strings.HasPrefix(p, strings.TrimSuffix(q, "/")+"/") }
		if !slices.Contains(paths[:i], p) && !slices.ContainsFunc(paths, inside) {
			out = append(out, p)
		}
	}
	return out
}

// underTmp reports whether the absolute path p is /tmp or inside it.
func underTmp(p string) bool {
	p = filepath.ToSlash(p)
	return p == "/tmp" || strings.HasPrefix(p, "/tmp/")
}

// initrdArchive adds host files to a newcWriter, creating parent directories
// first, and keeps the first error.
type initrdArchive struct {
	cw       *newcWriter
	dirs     map[string]bool
	firstErr error
}

func (a *initrdArchive) err(err error) {
	if a.firstErr == nil && err != nil {
		a.firstErr = err
	}
}

func (a *initrdArchive) mkdirAll(name string) {
	if name == "" || name == "." || a.dirs[name] {
		return
	}
	a.mkdirAll(path.Dir(name))
	a.dirs[name] = true
	a.err(a.cw.Dir(name, 0o755, 0))
}

func (a *initrdArchive) hostFile(name, hostPath string, perm uint32) {
	if a.firstErr != nil {
		return
	}
	f, err := os.Open(hostPath)
	if err != nil {
		a.err(err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		a.err(err)
		return
	}
	a.mkdirAll(path.Dir(name))
	a.err(a.cw.File(name, perm, fi.ModTime().Unix(), fi.Size(), f))
}

// hostTree copies the host directory tree at hostDir to name in the
// archive; hostDir may also be a file or a symlink, copied as such. name's
// parent must be in the archive.
func (a *initrdArchive) hostTree(name, hostDir string, warn func(string)) {
	err := filepath.WalkDir(hostDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		r, err := filepath.Rel(hostDir, p)
		if err != nil {
			return err
		}
		an := path.Join(name, filepath.ToSlash(r))
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if a.dirs[an] {
				break // made already, as a parent of an earlier entry
			}
			a.mkdirAll(path.Dir(an))
			a.dirs[an] = true
			a.err(a.cw.Dir(an, uint32(fi.Mode().Perm()), fi.ModTime().Unix()))
		case d.Type().IsRegular():
			a.hostFile(an, p, uint32(fi.Mode().Perm()))
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			a.err(a.cw.Symlink(an, target, fi.ModTime().Unix()))
		default:
			warn(fmt.Sprintf("skipping %s: a %v is not copied into the guest", p, d.Type()))
		}
		return a.firstErr
	})
	a.err(err)
}

// findRepoRoot returns the nearest directory at or above dir that holds a
// go.mod file, or dir itself if there is none.
func findRepoRoot(dir string) string {
	for d := dir; ; {
		if fi, err := os.Stat(filepath.Join(d, "go.mod")); err == nil && !fi.IsDir() {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// passedRuntimeVars are the host variables, besides GICITS_*, that reach the
// guest test: they steer the Go runtime, not the build.
var passedRuntimeVars = []string{"GODEBUG", "GOTRACEBACK", "GOMAXPROCS", "GOGC", "GOMEMLIMIT"}

// guestEnv returns the guest test's environment: a minimal base, GICITS_QEMU=1
// (the test runs in the QEMU guest), every GICITS_*
// variable of the host and the Go runtime variables in passedRuntimeVars.
func guestEnv(hostEnv []string) []string {
	env := []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "GICITS_QEMU=1"}
	for _, kv := range hostEnv {
		key, _, ok := strings.Cut(kv, "=")
		if !ok || key == "GICITS_QEMU" {
			continue
		}
		if strings.HasPrefix(key, "GICITS_") || slices.Contains(passedRuntimeVars, key) {
			env = append(env, kv)
		}
	}
	return env
}

// testFlag returns the value of the test binary flag name (without the
// "test." prefix) in args, accepting -test.name=v, --test.name=v and
// -test.name v. The last occurrence wins, as with the flag package.
func testFlag(args []string, name string) (string, bool) {
	var value string
	found := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break // the flag package stops here
		}
		if strings.HasPrefix(a, "--") {
			a = a[1:]
		}
		if v, ok := strings.CutPrefix(a, "-test."+name+"="); ok {
			value, found = v, true
		} else if a == "-test."+name && i+1 < len(args) {
			value, found = args[i+1], true
			i++
		}
	}
	return value, found
}

// outputDirs lists the guest directories the test binary's output flags need:
// go test passes host paths (for example -test.gocoverdir under its work
// directory) that do not exist in the guest. Files written there stay in the
// guest; they are not copied back (-out copies back).
func outputDirs(args []string) []string {
	var dirs []string
	for _, name := range []string{"outputdir", "gocoverdir", "fuzzcachedir"} {
		if v, ok := testFlag(args, name); ok && filepath.IsAbs(v) {
			dirs = append(dirs, v)
		}
	}
	for _, name := range []string{"testlogfile", "coverprofile", "cpuprofile", "memprofile", "blockprofile", "mutexprofile", "trace"} {
		if v, ok := testFlag(args, name); ok && filepath.IsAbs(v) {
			dirs = append(dirs, filepath.Dir(v))
		}
	}
	return dirs
}
