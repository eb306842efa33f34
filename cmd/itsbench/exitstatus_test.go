package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestExitStatusDoc: docs/exit-status.md lists exactly the statuses the
// commands use, so the table people read cannot drift from the code.
func TestExitStatusDoc(t *testing.T) {
	b, err := os.ReadFile("../../docs/exit-status.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(string(b), -1) {
		documented = append(documented, m[1])
	}
	var code []string
	for _, s := range []int{exitOK, exitFailure, exitUsage, exitSetup, exitSkipped, exitSyntax, exitInterrupted} {
		code = append(code, fmt.Sprint(s))
	}
	if !slices.Equal(documented, code) {
		t.Errorf("docs/exit-status.md lists statuses %v; cmd/itsbench uses %v", documented, code)
	}
}
