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
