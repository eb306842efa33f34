package kvm

import (
	"os"
	"strings"
	"testing"
)

// Every difference has a unique ID, says what and why, and doc.go names it.
func TestDifferencesListed(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	switch {
	case os.IsNotExist(err):
		// Inside scripts/kvm-harness's guest the sources are not there.
		t.Log("doc.go not available here: only the table is checked")
		doc = []byte("[Differences]")
	case err != nil:
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, d := range Differences {
		if d.ID == "" || d.KVM == "" || d.Reason == "" || seen[d.ID] {
			t.Errorf("difference %+v: empty field or duplicate ID", d)
		}
		seen[d.ID] = true
	}
	if !strings.Contains(string(doc), "[Differences]") {
		t.Error("doc.go does not point at Differences")
	}
}
