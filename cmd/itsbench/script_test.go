package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gicits/gicits/script"
)

// TestScriptVerboseFlag: script's verbose flag is -verbose; -v, which is
// run's and compare's vCPUs, is not script's.
func TestScriptVerboseFlag(t *testing.T) {
	status, stdout, stderr := runArgs(t, "script", "-verbose", routeScenario)
	if status != 0 || !strings.Contains(stdout, routeScenario+":") || !strings.Contains(stdout, "msi dev=0x10 ev=1") {
		t.Errorf("script -verbose: status %d, stderr %q; want each statement printed:\n%s", status, stderr, stdout)
	}
	status, _, stderr = runArgs(t, "script", "-v", routeScenario)
	if status != 2 || !strings.Contains(stderr, "flag provided but not defined: -v\n") {
		t.Errorf("script -v: status %d, stderr %q; want 2 and the flag refused", status, stderr)
	}
}

// TestScriptVerdictsAndExitStatus: script prints one verdict line per
// file as it ends and the total at the end, and exits with the status of
// the most serious verdict: 1 for a failure, 5 for syntax errors, 4 when
// every file was skipped (nothing was tested), else 0. A file is skipped
// when every expectation it has is (benchtest-fake cannot read registers).
func TestScriptVerdictsAndExitStatus(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"pass.its":    "cpus 1\nexpect idle cpu=0\n",
		"empty.its":   "",
		"fail.its":    "cpus 1\nexpect idle cpu=0\nexpect reg GITS_CTLR value=0 mask=1\n",
		"bad.its":     "cpus 1\nfrobnicate 3\nexpect idle cpu=7 lpi=x\n",
		"skip.its":    "cpus 1\nexpect reg GITS_CTLR value=0 mask=1\nexpect reg GITS_CWRITER value=0\n",
		"partial.its": "cpus 1\nexpect idle cpu=0\nexpect reg GITS_CTLR value=0 mask=1\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		backend string
		files   []string
		status  int
		lines   []string // in stdout, in this order; D is the directory
		stderr  string   // all of it
	}{
		{"sim", []string{"pass.its", "empty.its"}, 0, []string{
			"PASS D/pass.its (1 passed, 0 skipped)", "PASS D/empty.its (0 passed, 0 skipped)", "1 passed, 0 failed, 0 skipped"}, ""},
		{"sim", []string{"fail.its", "pass.its"}, 1, []string{
			"D/fail.its:3: expect reg GITS_CTLR value=0x0 mask=0x1: got 0x1 (register 0x80000001)",
			"FAIL D/fail.its (1 passed, 1 failed, 0 skipped)", "PASS D/pass.its (1 passed, 0 skipped)", "2 passed, 1 failed, 0 skipped"},
			"itsbench script: some expectations failed\n"},
		{"sim", []string{"bad.its", "pass.its"}, 5, []string{
			"D/bad.its:2:1: want a statement", "D/bad.its:3:", "ERROR D/bad.its: 2 syntax errors, not run",
			"PASS D/pass.its (1 passed, 0 skipped)", "1 passed, 0 failed, 0 skipped, 1 file with syntax errors"},
			"itsbench script: 1 file with syntax errors, not run (the .its language: docs/language.md)\n"},
		{"sim", []string{"bad.its", "fail.its"}, 1, []string{"ERROR D/bad.its: 2 syntax errors, not run", "FAIL D/fail.its (1 passed, 1 failed, 0 skipped)"},
			"itsbench script: some expectations failed, and 1 file with syntax errors, not run (the .its language: docs/language.md)\n"},
		{fake, []string{"skip.its"}, 4, []string{
			"D/skip.its:2: expect reg GITS_CTLR value=0x0 mask=0x1: skip: benchtest-fake cannot read GITS_CTLR: not supported",
			"SKIP D/skip.its: all 2 expectations skipped, for 2 reasons (above)", "0 passed, 0 failed, 2 skipped"},
			"itsbench script: every file was skipped: nothing was tested (exit status 4)\n"},
		{fake, []string{"skip.its", "partial.its"}, 0, []string{
			"SKIP D/skip.its: all 2 expectations skipped", "PASS D/partial.its (1 passed, 1 skipped)", "1 passed, 0 failed, 3 skipped"}, ""},
		{fake, []string{"skip.its", "bad.its"}, 5, []string{"SKIP D/skip.its: ", "ERROR D/bad.its: 2 syntax errors, not run"},
			"itsbench script: 1 file with syntax errors, not run (the .its language: docs/language.md)\n"},
	} {
		args := []string{"script", "-backend", tc.backend}
		for _, f := range tc.files {
			args = append(args, filepath.Join(dir, f))
		}
		status, stdout, stderr := runArgs(t, args...)
		stdout = strings.ReplaceAll(stdout, dir, "D")
		name := "itsbench script -backend " + tc.backend + " " + strings.Join(tc.files, " ")
		if status != tc.status || stderr != tc.stderr {
			t.Errorf("%s: status %d, stderr %q; want %d, %q", name, status, stderr, tc.status, tc.stderr)
		}
		rest := stdout
		for _, want := range tc.lines {
			i := strings.Index(rest, want)
			if i < 0 {
				t.Errorf("%s: stdout lacks %q (after the lines before it):\n%s", name, want, stdout)
				break
			}
			rest = rest[i+len(want):]
		}
	}
}

// TestScriptJudge: a file that ran is FAIL when anything failed (not as a
// known difference), SKIP when the backend refused it whole or skipped
// every expectation and nothing else was tested, PASS otherwise.
func TestScriptJudge(t *testing.T) {
	one := []script.Skip{{Reason: "no registers"}}
	for _, tc := range []struct {
		name   string
		f      fileResult
		res    script.Result
		want   verdict
		reason string
	}{
		{"all passed", fileResult{passed: 3}, script.Result{}, pass, ""},
		{"no expectations", fileResult{}, script.Result{}, pass, ""},
		{"a failure", fileResult{passed: 2, failed: 1, skipped: 1}, script.Result{Skips: one}, fail, ""},
		{"refused whole", fileResult{skipped: 2}, script.Result{SkipReason: "GITS_TYPER: not supported", Skips: one}, skip, "GITS_TYPER: not supported"},
		{"refused whole, no expectations", fileResult{}, script.Result{SkipReason: "no"}, skip, "no"},
		{"every expectation skipped", fileResult{skipped: 1}, script.Result{Skips: one}, skip, "all 1 expectations skipped: no registers"},
		{"some skipped", fileResult{passed: 1, skipped: 1}, script.Result{Skips: one}, pass, ""},
		{"skipped and known differences", fileResult{known: 1, skipped: 1}, script.Result{Skips: one}, pass, ""},
	} {
		v, reason := judge(tc.f, &tc.res)
		if v != tc.want || reason != tc.reason {
			t.Errorf("%s: judge = %s %q, want %s %q", tc.name, v, reason, tc.want, tc.reason)
		}
	}
}
