package main

import (
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
	// Every exit status constant in guest.go, read from the source, so a
	// new one not in the doc fails here too.
	src, err := os.ReadFile("guest.go")
	if err != nil {
		t.Fatal(err)
	}
	var code []string
	for _, m := range regexp.MustCompile(`(?m)^\s*exit[A-Z]\w*\s*=\s*(\d+)`).FindAllStringSubmatch(string(src), -1) {
		code = append(code, m[1])
	}
	if want := []int{exitOK, exitFailure, exitUsage, exitSetup, exitSkipped, exitSyntax, exitInterrupted}; len(code) != len(want) {
		t.Errorf("guest.go declares %d exit statuses (%v); this test knows %d", len(code), code, len(want))
	}
	if !slices.Equal(documented, code) {
		t.Errorf("docs/exit-status.md lists statuses %v; cmd/itsbench uses %v", documented, code)
	}
}
