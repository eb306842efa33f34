package docs_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/internal/fidelity"
)

// TestFidelityDoc fails when docs/fidelity.md leaves out an entry of the
// catalogue (a section per entry, naming its kernels and case) or a
// difference backend/kvm lists: the page cannot drift from the code.
func TestFidelityDoc(t *testing.T) {
	b, err := os.ReadFile("fidelity.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	if !strings.Contains(doc, "| **unclassified** |") {
		t.Error("docs/fidelity.md has no table of measured counts with its unclassified row")
	}
	for _, e := range fidelity.Catalogue {
		i := strings.Index(doc, "\n### "+e.ID+"\n")
		if i < 0 {
			t.Errorf("docs/fidelity.md has no section \"### %s\"", e.ID)
			continue
		}
		section := doc[i+1:]
		if j := strings.Index(section[4:], "\n#"); j >= 0 {
			section = section[:j+4]
		}
		if !strings.Contains(section, e.Case) {
			t.Errorf("docs/fidelity.md, section %s, does not name its case %s", e.ID, e.Case)
		}
		if !strings.Contains(section, "**Kernels**: "+strings.Join(e.Kernels, ", ")) {
			t.Errorf("docs/fidelity.md, section %s, does not say \"**Kernels**: %s\"", e.ID, strings.Join(e.Kernels, ", "))
		}
	}
	for _, d := range kvm.Differences {
		if !strings.Contains(doc, "`"+d.ID+"`") && !strings.Contains(doc, "### "+d.ID+"\n") {
			t.Errorf("docs/fidelity.md does not mention backend/kvm's difference %s", d.ID)
		}
	}
}
