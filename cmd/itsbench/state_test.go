package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	stateScenario = "testdata/explain-state.its"
	// stateFile is what state -save writes after stateScenario on the
	// simulator; the bad-input rows restore it.
	stateFile = "testdata/explain-state.state"
)

// TestStateSaveRestore saves what a scenario left with state -save, and
// starts state, explain and script from the file with -restore: the dump
// and the walk are those of the scenario itself, and a scenario run after
// the restore goes on from the saved state.
func TestStateSaveRestore(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vm.state")
	status, want, stderr := runArgs(t, "state", "-script", stateScenario, "-save", file)
	if status != 0 {
		t.Fatalf("state -save: status %d\n%s", status, stderr)
	}
	if !strings.Contains(stderr, "itsbench state: saved the state of sim (2 CPUs, 7 tables, ") {
		t.Errorf("state -save says:\n%s", stderr)
	}
	saved, err := os.ReadFile(file)
	if golden, gerr := os.ReadFile(stateFile); err != nil || gerr != nil || !bytes.Equal(saved, golden) {
		t.Errorf("state -save of %s differs from %s (%v, %v); if the format or the simulator changed on purpose, regenerate it in cmd/itsbench with\n\tgo run . state -script %[1]s -save %[2]s", stateScenario, stateFile, err, gerr)
	}
	status, got, stderr := runArgs(t, "state", "-restore", file)
	if status != 0 || got != want {
		t.Errorf("state -restore: status %d, stderr %q; dump\n%s\nwant the scenario's\n%s", status, stderr, got, want)
	}
	_, wantWalk, _ := runArgs(t, "explain", "-script", stateScenario, "dev=0x10", "ev=1")
	status, walk, stderr := runArgs(t, "explain", "-restore", file, "dev=0x10", "ev=1")
	head, rest, _ := strings.Cut(walk, "\n")
	_, wantRest, _ := strings.Cut(wantWalk, "\n")
	if status != 0 || head != "translation of DeviceID 0x10 EventID 1 after restoring "+file || rest != wantRest {
		t.Errorf("explain -restore: status %d, stderr %q:\n%s\nwant the scenario's walk:\n%s", status, stderr, walk, wantWalk)
	}
	status, out, stderr := runArgs(t, "script", "-restore", file, "testdata/restore-continue.its")
	if status != 0 || !strings.HasSuffix(out, "6 passed, 0 failed, 0 skipped\n") {
		t.Errorf("script -restore: status %d\n%s%s", status, out, stderr)
	}
	status, out, stderr = runArgs(t, "state", "-restore", file, "-script", "testdata/restore-continue.its", "-format", "json")
	if status != 0 || !strings.Contains(out, `"dev": 32`) {
		t.Errorf("state -restore -script: status %d\n%s%s", status, out, stderr)
	}
}

// TestStateSaveLeavesNoFileOnFailure: a -save whose scenario fails does
// not leave an empty or partial file behind.
func TestStateSaveLeavesNoFileOnFailure(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.its")
	if err := os.WriteFile(bad, []byte("cpus 1\nmapc icid=0 cpu=5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "vm.state")
	if status, _, stderr := runArgs(t, "state", "-script", bad, "-save", file); status != 1 {
		t.Fatalf("status %d, want 1\n%s", status, stderr)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("-save left %s behind: %v", file, err)
	}
}

// TestStateSaveLosesNothingOnBadInput: state -save replaces its file only
// when the state was saved; bad input of any kind, caught before the
// scenario runs or after, leaves a file already there as it was (and no
// temporary file beside it). -save naming the -restore file is refused
// before anything is read or written.
func TestStateSaveLosesNothingOnBadInput(t *testing.T) {
	golden, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		args   []string // FILE is the existing file, DIR its directory
		status int
		want   string // in stderr
	}{
		{"restore-and-save-the-same-file", []string{"-restore", "FILE", "-save", "FILE"}, 2,
			"-save DIR/vm.state is the -restore file: saving would replace the state being restored; save to another file"},
		{"same-file-by-another-name", []string{"-restore", "DIR/../" + "DIRNAME/vm.state", "-save", "FILE"}, 2,
			"is the -restore file"},
		{"unknown-backend", []string{"-script", stateScenario, "-backend", "bogus", "-save", "FILE"}, 2,
			`-backend "bogus": want one of `},
		{"bad-format", []string{"-script", stateScenario, "-format", "xml", "-save", "FILE"}, 2,
			`-format "xml": want text or json`},
		{"missing-script", []string{"-script", "DIR/missing.its", "-save", "FILE"}, 2,
			"-script: stat DIR/missing.its: no such file or directory"},
		{"scenario-fails", []string{"-script", "DIR/bad.its", "-save", "FILE"}, 1,
			"did not run to its end"},
		{"save-is-a-directory", []string{"-script", stateScenario, "-save", "DIR"}, 2,
			"-save: DIR is a directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "vm.state")
			if err := os.WriteFile(file, golden, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "bad.its"), []byte("cpus 1\nmapc icid=0 cpu=5\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("FILE", file, "DIRNAME", filepath.Base(dir), "DIR", dir)
			args := []string{"state"}
			for _, a := range c.args {
				args = append(args, r.Replace(a))
			}
			status, _, stderr := runArgs(t, args...)
			if status != c.status || !strings.Contains(stderr, r.Replace(c.want)) {
				t.Errorf("itsbench %s: status %d, stderr:\n%s\nwant status %d and %q", strings.Join(args, " "), status, stderr, c.status, r.Replace(c.want))
			}
			if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, golden) {
				t.Errorf("itsbench %s lost the state in %s: %d bytes, %v; want the %d it had", strings.Join(args, " "), file, len(got), err, len(golden))
			}
			if ents, err := os.ReadDir(dir); err != nil || len(ents) != 2 {
				t.Errorf("%s holds %v (%v), want only vm.state and bad.its", dir, ents, err)
			}
		})
	}
}

// TestStateSaveReplacesFile: a -save that succeeds replaces the file there
// (keeping its permissions), leaving nothing else behind.
func TestStateSaveReplacesFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "vm.state")
	if err := os.WriteFile(file, []byte("an older state"), 0o600); err != nil {
		t.Fatal(err)
	}
	status, _, stderr := runArgs(t, "state", "-script", stateScenario, "-save", file)
	if status != 0 || !strings.Contains(stderr, " bytes) to "+file+"\n") {
		t.Fatalf("state -save: status %d\n%s", status, stderr)
	}
	saved, err := os.ReadFile(file)
	if golden, gerr := os.ReadFile(stateFile); err != nil || gerr != nil || !bytes.Equal(saved, golden) {
		t.Errorf("state -save over an existing file wrote %d bytes (%v), want those of %s (%v)", len(saved), err, stateFile, gerr)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the replaced file's mode: %v, %v; want -rw------- as before", fi.Mode(), err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1 {
		t.Errorf("%s holds %v (%v), want only vm.state", dir, ents, err)
	}
}
