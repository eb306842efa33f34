package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTestFlag(t *testing.T) {
	tests := []struct {
		args      []string
		name      string
		wantValue string
		wantFound bool
	}{
		{[]string{"-test.paniconexit0", "-test.timeout=10m0s", "-test.v=true"}, "timeout", "10m0s", true},
		{[]string{"--test.timeout=5s"}, "timeout", "5s", true},
		{[]string{"-test.timeout", "7s"}, "timeout", "7s", true},
		{[]string{"-test.timeout=1s", "-test.timeout=2s"}, "timeout", "2s", true},
		{[]string{"-test.timeoutx=1s"}, "timeout", "", false},
		{[]string{"-test.run=Timeout"}, "timeout", "", false},
		{[]string{"--", "-test.timeout=1s"}, "timeout", "", false},
		{[]string{"-test.timeout"}, "timeout", "", false},
		{nil, "timeout", "", false},
	}
	for _, tt := range tests {
		v, ok := testFlag(tt.args, tt.name)
		if v != tt.wantValue || ok != tt.wantFound {
			t.Errorf("testFlag(%q, %q) = %q, %v; want %q, %v", tt.args, tt.name, v, ok, tt.wantValue, tt.wantFound)
		}
	}
}

func TestOverallTimeout(t *testing.T) {
	tests := []struct {
		args    []string
		env     string // GICITS_QEMU_TIMEOUT
		want    time.Duration
		wantErr string
	}{
		{args: []string{"-test.timeout=10m0s"}, want: 10*time.Minute + bootSlack},
		{args: []string{"-test.timeout=30s", "-test.v=true"}, want: 30*time.Second + bootSlack},
		{args: nil, want: defaultTimeout},
		{args: []string{"-test.timeout=0s"}, want: unboundedTimeout},
		{args: []string{"-test.timeout=10m"}, env: "2h", want: 2 * time.Hour},
		{args: []string{"-test.timeout=soon"}, wantErr: "-test.timeout"},
		{env: "-1s", wantErr: "GICITS_QEMU_TIMEOUT"},
		{env: "forever", wantErr: "GICITS_QEMU_TIMEOUT"},
	}
	for _, tt := range tests {
		got, err := overallTimeout(tt.args, func(k string) string {
			if k == "GICITS_QEMU_TIMEOUT" {
				return tt.env
			}
			return ""
		})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("overallTimeout(%q, %q) error = %v, want one naming %s", tt.args, tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("overallTimeout(%q, %q) = %v, %v; want %v", tt.args, tt.env, got, err, tt.want)
		}
	}
}

func TestOutputDirs(t *testing.T) {
	got := outputDirs([]string{
		"-test.paniconexit0", "-test.timeout=10m0s",
		"-test.gocoverdir=/tmp/go-build1/b001/gocoverdir",
		"-test.testlogfile=/tmp/go-build1/b001/testlog.txt",
		"-test.cpuprofile=cpu.out", // relative: lands in the package directory, which exists
	})
	want := []string{"/tmp/go-build1/b001/gocoverdir", "/tmp/go-build1/b001"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("outputDirs = %q, want %q", got, want)
	}
}

func TestGuestEnv(t *testing.T) {
	got := guestEnv([]string{
		"HOME=/root", "PATH=/usr/local/go/bin:/usr/bin", "GOARCH=arm64", "GOFLAGS=-mod=mod",
		"GICITS_KERNEL=/k/vmlinuz", "GICITS_SEED=7", "GICITS_QEMU=0", "GODEBUG=madvdontneed=1",
		"GICITSX=1", "MALFORMED",
	})
	want := []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "TMPDIR=/tmp", "GICITS_QEMU=1",
		"GICITS_KERNEL=/k/vmlinuz", "GICITS_SEED=7", "GODEBUG=madvdontneed=1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("guestEnv =\n%q\nwant\n%q", got, want)
	}
}

func TestKernelPath(t *testing.T) {
	dir := t.TempDir()
	kernel := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(kernel, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		value   string
		wantErr []string
	}{
		{kernel, nil},
		{"", []string{"GICITS_KERNEL is not set", "scripts/kvm-harness"}},
		{filepath.Join(dir, "missing"), []string{"GICITS_KERNEL=", "no such file", "scripts/kvm-harness"}},
		{dir, []string{"not a regular file"}},
	}
	for _, tt := range tests {
		got, err := kernelPath(func(k string) string {
			if k == "GICITS_KERNEL" {
				return tt.value
			}
			return ""
		})
		if tt.wantErr == nil {
			if err != nil || got != tt.value {
				t.Errorf("kernelPath(%q) = %q, %v", tt.value, got, err)
			}
			continue
		}
		for _, w := range tt.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("kernelPath(%q) error = %v, want it to contain %q", tt.value, err, w)
			}
		}
	}
}

func TestFindRepoRoot(t *testing.T) {
	root := t.TempDir()
	pkg := filepath.Join(root, "backend", "kvm")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := findRepoRoot(pkg); got != pkg {
		t.Errorf("without go.mod: findRepoRoot = %s, want the directory itself %s", got, pkg)
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := findRepoRoot(pkg); got != root {
		t.Errorf("findRepoRoot = %s, want %s", got, root)
	}
	if got := findRepoRoot(root); got != root {
		t.Errorf("findRepoRoot(root) = %s, want %s", got, root)
	}
}

func TestWriteInitrd(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                          "module example.com/x\n",
		"testdata/top.txt":                "top",
		"backend/kvm/kvm_test.go":         "package kvm",
		"backend/kvm/testdata/a/b.golden": "golden",
		"backend/other/testdata/no.txt":   "not copied",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a/b.golden", filepath.Join(root, "backend/kvm/testdata/link")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kvm.test")
	initProg := filepath.Join(t.TempDir(), "init")
	for _, p := range []string{bin, initProg} {
		if err := os.WriteFile(p, []byte("ELF "+filepath.Base(p)), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	var buf bytes.Buffer
	var warnings []string
	err := writeInitrd(&buf, initrdSpec{
		initProgram: initProg,
		testBinary:  bin,
		args:        []string{"-test.v=true", "-test.testlogfile=/tmp/go-build9/b001/testlog.txt"},
		repoRoot:    root,
		pkgDir:      filepath.Join(root, "backend", "kvm"),
		env:         []string{"GICITS_QEMU=1"},
		nonce:       testNonce,
	}, func(s string) { warnings = append(warnings, s) })
	if err != nil {
		t.Fatal(err)
	}
	entries, err := readNewc(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpioEntry{}
	var names []string
	for _, e := range entries {
		if _, dup := byName[e.name]; dup {
			t.Errorf("duplicate entry %s", e.name)
		}
		byName[e.name] = e
		names = append(names, e.name)
		if dir := filepath.Dir(e.name); dir != "." && !slices.Contains(names, dir) {
			t.Errorf("%s comes before its parent directory", e.name)
		}
	}
	wantNames := []string{
		"dev", "proc", "sys", "tmp", "qemuexec", "src", "src/backend", "src/backend/kvm",
		"dev/console", "init", "qemuexec/kvm.test",
		"src/backend/kvm/testdata", "src/backend/kvm/testdata/a", "src/backend/kvm/testdata/a/b.golden",
		"src/backend/kvm/testdata/link",
		"src/testdata", "src/testdata/top.txt",
		"qemuexec/config.json",
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("entries\n%q\nwant\n%q", names, wantNames)
	}
	checks := []struct {
		name string
		mode uint32
		data string
	}{
		{"init", modeRegular | 0o755, "ELF init"},
		{"qemuexec/kvm.test", modeRegular | 0o755, "ELF kvm.test"},
		{"dev/console", modeCharDev | 0o600, ""},
		{"src/backend/kvm/testdata/a/b.golden", modeRegular | 0o644, "golden"},
		{"src/backend/kvm/testdata/link", modeSymlink | 0o777, "a/b.golden"},
		{"src/testdata/top.txt", modeRegular | 0o644, "top"},
	}
	for _, c := range checks {
		e := byName[c.name]
		if e.mode != c.mode || e.data != c.data {
			t.Errorf("%s: mode %o data %q, want %o %q", c.name, e.mode, e.data, c.mode, c.data)
		}
	}
	if e := byName["dev/console"]; e.rmajor != 5 || e.rminor != 1 {
		t.Errorf("dev/console is %d:%d, want 5:1", e.rmajor, e.rminor)
	}
	var cfg guestConfig
	if err := json.Unmarshal([]byte(byName["qemuexec/config.json"].data), &cfg); err != nil {
		t.Fatal(err)
	}
	wantCfg := guestConfig{
		Nonce:    testNonce,
		Binary:   "/qemuexec/kvm.test",
		Args:     []string{"-test.v=true", "-test.testlogfile=/tmp/go-build9/b001/testlog.txt"},
		Dir:      "/src/backend/kvm",
		Env:      []string{"GICITS_QEMU=1"},
		MakeDirs: []string{"/tmp/go-build9/b001"},
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("config %+v, want %+v", cfg, wantCfg)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}

	// The package outside the repository root is refused.
	err = writeInitrd(&bytes.Buffer{}, initrdSpec{initProgram: initProg, testBinary: bin, repoRoot: filepath.Join(root, "backend"), pkgDir: root},
		func(string) {})
	if err == nil || !strings.Contains(err.Error(), "not inside the repository root") {
		t.Errorf("package outside the root: error %v", err)
	}
}

// TestInitProgram builds /init for real (cross-compiling to arm64), checks
// that qemuexec would accept it as a guest binary, and that a second call is
// served from the cache.
func TestInitProgram(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program; skipped with -short")
	}
	cache := t.TempDir()
	p, err := initProgram(cache)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkTestBinary(p); err != nil {
		t.Errorf("/init is not a static arm64 binary: %v", err)
	}
	fi1, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := initProgram(cache)
	if err != nil || p2 != p {
		t.Fatalf("second initProgram = %s, %v; want the cached %s", p2, err, p)
	}
	fi2, _ := os.Stat(p2)
	if !fi2.ModTime().Equal(fi1.ModTime()) {
		t.Errorf("the cached /init was rebuilt")
	}
	left, _ := filepath.Glob(filepath.Join(cache, "initbuild-*"))
	if len(left) != 0 {
		t.Errorf("build directories left in the cache: %q", left)
	}

	t.Run("checkTestBinary", func(t *testing.T) {
		// A copy of /init whose first program header claims an interpreter.
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		phoff := binary.LittleEndian.Uint64(b[0x20:])
		binary.LittleEndian.PutUint32(b[phoff:], uint32(elf.PT_INTERP))
		dynamic := filepath.Join(t.TempDir(), "dynamic.test")
		if err := os.WriteFile(dynamic, b, 0o755); err != nil {
			t.Fatal(err)
		}
		notELF := filepath.Join(t.TempDir(), "script.test")
		if err := os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			path    string
			wantErr string
		}{
			{p, ""},
			{dynamic, "dynamically linked"},
			{notELF, "test binary"},
			{filepath.Join(t.TempDir(), "missing"), "no such file"},
		}
		if runtime.GOARCH != "arm64" {
			tests = append(tests, struct {
				path    string
				wantErr string
			}{os.Args[0], "GOARCH=arm64"})
		}
		for _, tt := range tests {
			err := checkTestBinary(tt.path)
			if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("checkTestBinary(%s) = %v, want error containing %q", filepath.Base(tt.path), err, tt.wantErr)
			}
		}
	})
}

// TestWriteInitrdInputs: with -dir, the initramfs holds the -in paths at
// their own paths and no testdata, and the config carries -dir, -out and
// -stderr.
func TestWriteInitrdInputs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":               "module example.com/x\n",
		"testdata/no.txt":      "not copied with -dir",
		"in/scripts/a.its":     "its script",
		"in/scripts/sub/b.its": "another",
		"in/plot.cfg":          "cfg",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{"in/scripts/link": "a.its", "in/cfglink": "plot.cfg"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(t.TempDir(), "itsbench")
	initProg := filepath.Join(t.TempDir(), "init")
	for _, p := range []string{bin, initProg} {
		if err := os.WriteFile(p, []byte("ELF "+filepath.Base(p)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := func(p string) string { return filepath.Join(root, "in", p) }
	spec := initrdSpec{
		initProgram: initProg,
		testBinary:  bin,
		args:        []string{"run", "-o", "out/plot.png"},
		repoRoot:    root,
		pkgDir:      root,
		env:         []string{"GICITS_QEMU=1"},
		nonce:       testNonce,
		// The repeated and the nested path are in the tree of the first.
		inputs:      []string{in("scripts"), in("plot.cfg"), in("scripts/sub"), in("cfglink"), in("scripts")},
		outputs:     []string{filepath.Join(root, "out", "plot.png"), "/abs/trace.json"},
		dir:         filepath.Join(root, "run"),
		splitStderr: true,
	}
	var buf bytes.Buffer
	if err := writeInitrd(&buf, spec, func(s string) { t.Errorf("warning: %s", s) }); err != nil {
		t.Fatal(err)
	}
	entries, err := readNewc(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]cpioEntry{}
	var names []string
	for _, e := range entries {
		byName[e.name] = e
		names = append(names, e.name)
	}
	r := archiveName(root)
	wantNames := []string{"dev", "proc", "sys", "tmp", "qemuexec", "dev/console", "init", "qemuexec/itsbench"}
	for d := path.Dir(r + "/in"); d != "."; d = path.Dir(d) {
		if !slices.Contains(wantNames, d) {
			wantNames = slices.Insert(wantNames, 8, d) // parents first
		}
	}
	wantNames = append(wantNames,
		r+"/in", r+"/in/scripts", r+"/in/scripts/a.its", r+"/in/scripts/link", r+"/in/scripts/sub", r+"/in/scripts/sub/b.its",
		r+"/in/plot.cfg", r+"/in/cfglink", r+"/run", "qemuexec/config.json")
	if !reflect.DeepEqual(names, wantNames) {
		t.Errorf("entries\n%q\nwant\n%q", names, wantNames)
	}
	checks := []struct {
		name string
		mode uint32
		data string
	}{
		{"qemuexec/itsbench", modeRegular | 0o755, "ELF itsbench"},
		{r + "/in/scripts/sub/b.its", modeRegular | 0o640, "another"},
		{r + "/in/scripts/link", modeSymlink | 0o777, "a.its"},
		{r + "/in/plot.cfg", modeRegular | 0o640, "cfg"},
		{r + "/in/cfglink", modeSymlink | 0o777, "plot.cfg"},
		{r + "/run", modeDir | 0o755, ""},
	}
	for _, c := range checks {
		if e := byName[c.name]; e.mode != c.mode || e.data != c.data {
			t.Errorf("%s: mode %o data %q, want %o %q", c.name, e.mode, e.data, c.mode, c.data)
		}
	}
	var cfg guestConfig
	if err := json.Unmarshal([]byte(byName["qemuexec/config.json"].data), &cfg); err != nil {
		t.Fatal(err)
	}
	wantCfg := guestConfig{
		Nonce:            testNonce,
		Binary:           "/qemuexec/itsbench",
		Args:             []string{"run", "-o", "out/plot.png"},
		Dir:              filepath.Join(root, "run"),
		Env:              []string{"GICITS_QEMU=1"},
		MakeDirs:         []string{filepath.Join(root, "out"), "/abs"},
		Outputs:          []string{filepath.Join(root, "out", "plot.png"), "/abs/trace.json"},
		SplitStderr:      true,
		KeepInitramfsTmp: underTmp(root),
	}
	if !reflect.DeepEqual(cfg, wantCfg) {
		t.Errorf("config\n%+v\nwant\n%+v", cfg, wantCfg)
	}

	// Without -dir, the package's testdata comes too, and the -in paths.
	spec.dir = ""
	buf.Reset()
	if err := writeInitrd(&buf, spec, func(s string) { t.Errorf("warning: %s", s) }); err != nil {
		t.Fatal(err)
	}
	if entries, err = readNewc(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	names = names[:0]
	for _, e := range entries {
		names = append(names, e.name)
		if e.name == guestConfigName {
			if err := json.Unmarshal([]byte(e.data), &cfg); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, want := range []string{"src/testdata/no.txt", r + "/in/plot.cfg"} {
		if !slices.Contains(names, want) {
			t.Errorf("without -dir: no entry %s among %q", want, names)
		}
	}
	if slices.Contains(names, r+"/run") || cfg.Dir != "/src" {
		t.Errorf("without -dir: the binary runs in %s, want the package directory /src", cfg.Dir)
	}
}

func TestUnderTmp(t *testing.T) {
	tests := []struct {
		p    string
		want bool
	}{
		{"/tmp", true}, {"/tmp/x/y", true}, {"/tmpfoo", false}, {"/work/tmp", false}, {"", false},
	}
	for _, tt := range tests {
		if got := underTmp(tt.p); got != tt.want {
			t.Errorf("underTmp(%q) = %v, want %v", tt.p, got, tt.want)
		}
	}
}
