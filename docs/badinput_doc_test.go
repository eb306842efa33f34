// Package docs_test checks that the documents under docs/ say what the
// code does: docs/bad-input.md's table against the tests that check it.
package docs_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/internal/badinput"
)

// docRows parses the table of docs/bad-input.md by row ID.
func docRows(t *testing.T) map[string]badinput.Row {
	t.Helper()
	rows, err := badinput.ReadFile("bad-input.md")
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

var caseID = regexp.MustCompile(`\{id: "([A-Z][0-9]+)"`)

// TestBadInputDoc fails when a row of docs/bad-input.md names a test that
// does not exist or a case its test does not have, or when a test case has
// no row: the table cannot drift from the tests.
func TestBadInputDoc(t *testing.T) {
	rows := docRows(t)
	if len(rows) == 0 {
		t.Fatal("no rows")
	}
	cases := map[string][]string{} // file → case IDs
	for id, r := range rows {
		if !slices.Contains([]string{"guest", "user", "host"}, r.Enters) {
			t.Errorf("row %s: enters %q, want guest, user or host", id, r.Enters)
		}
		if r.Input == "" || len(r.Text) == 0 || r.Text[0] == "" {
			t.Errorf("row %s: empty input or text", id)
		}
		if _, ok := cases[r.File]; !ok {
			src, err := os.ReadFile("../" + r.File)
			if err != nil {
				t.Errorf("row %s: %v", id, err)
				cases[r.File] = nil
				continue
			}
			if !strings.Contains(string(src), "func "+r.Test+"(t *testing.T)") {
				t.Errorf("row %s: %s has no func %s", id, r.File, r.Test)
			}
			for _, m := range caseID.FindAllStringSubmatch(string(src), -1) {
				cases[r.File] = append(cases[r.File], m[1])
			}
		}
		if !slices.Contains(cases[r.File], id) {
			t.Errorf("row %s: %s has no case %q", id, r.File, id)
		}
	}
	for file, ids := range cases {
		for _, id := range ids {
			if _, ok := rows[id]; !ok {
				t.Errorf("%s: case %s has no row in docs/bad-input.md", file, id)
			}
		}
	}
	t.Logf("%d rows", len(rows))
}
