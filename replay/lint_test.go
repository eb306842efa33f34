package replay

import (
	"path/filepath"
	"testing"
)

// TestLintOfRealLinuxTraces: Linux's driver, in every real trace, breaks
// no rule; informational findings are allowed.
func TestLintOfRealLinuxTraces(t *testing.T) {
	files, err := filepath.Glob(realTraces)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no real traces match %s", realTraces)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			tr, err := ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range Lint(tr) {
				if m.Informational {
					t.Log(m)
					continue
				}
				if n++; n <= 20 {
					t.Error(m)
				}
			}
			if n > 20 {
				t.Errorf("... and %d more", n-20)
			}
		})
	}
}

// TestLintRules: each rule's misuse trace in testdata (lint-RULE.log, a
// clean start with the misuse at its end) breaks that rule and no other,
// at the line of the misuse; the clean start breaks none.
func TestLintRules(t *testing.T) {
	for _, tc := range []struct {
		rule *Rule
		line int
	}{
		{nil, 0},
		{RuleMissingSync, 45},
		{RuleMapOverLiveEvent, 45},
		{RuleLPIMappedTwice, 45},
		{RuleLPIOutOfRange, 45},
		{RuleEventBeyondSize, 45},
		{RuleUnmappedDevice, 45},
		{RuleUnmappedEvent, 45},
		{RuleUnmappedCollection, 45},
		{RuleUnmapLiveCollection, 45},
		{RuleUnmapLiveDevice, 45},
		{RuleRemapLiveDevice, 45},
		{RuleITTOverlap, 45},
		{RuleMSIUnmapped, 44},
		{RuleMSILPIsDisabled, 45},
		{RuleEventsOnOfflinedCPU, 54},
	} {
		name := "clean"
		if tc.rule != nil {
			name = tc.rule.Name
		}
		t.Run(name, func(t *testing.T) {
			tr, err := ParseFile(filepath.Join("testdata", "lint-"+name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			var found []Misuse
			for _, m := range Lint(tr) {
				if !m.Informational {
					found = append(found, m)
				}
			}
			if tc.rule == nil {
				for _, m := range found {
					t.Error(m)
				}
				return
			}
			for _, m := range found {
				t.Log(m)
			}
			if len(found) != 1 || found[0].Rule != tc.rule || found[0].Line != tc.line {
				t.Errorf("want one %s finding at line %d; got %d:", tc.rule.Name, tc.line, len(found))
				for _, m := range found {
					t.Error(m)
				}
			}
		})
	}
}

// TestLintRulesHaveMisuseTraces: every rule in Rules has its misuse trace.
func TestLintRulesHaveMisuseTraces(t *testing.T) {
	for _, r := range Rules {
		if _, err := ParseFile(filepath.Join("testdata", "lint-"+r.Name+".log")); err != nil {
			t.Errorf("rule %s: %v", r.Name, err)
		}
	}
}
