package kvm

import (
	_ "embed"
	"strings"
	"testing"
)

// docGo is this package's doc.go, embedded at build time so that the check
// below runs wherever the test binary does, scripts/kvm-harness's guest
// included, where the sources are not there to read.
//
//go:embed doc.go
var docGo string

// Every difference has a unique ID, says what and why, and doc.go names it.
func TestDifferencesListed(t *testing.T) {
	if len(Differences) == 0 {
		t.Error("Differences is empty")
	}
	seen := map[string]bool{}
	for _, d := range Differences {
		if d.ID == "" || d.KVM == "" || d.Reason == "" || seen[d.ID] {
			t.Errorf("difference %+v: empty field or duplicate ID", d)
		}
		seen[d.ID] = true
	}
	if !strings.Contains(docGo, "package kvm") {
		t.Fatalf("the embedded doc.go does not declare package kvm: %.80q", docGo)
	}
	if !strings.Contains(docGo, "[Differences]") {
		t.Error("doc.go does not point at Differences")
	}
}
