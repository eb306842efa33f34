package main

import (
	"strings"
	"testing"
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
