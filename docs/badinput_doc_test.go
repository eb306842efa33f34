// Package docs_test checks that the documents under docs/ say what the
// code does: docs/bad-input.md's table against the tests that check it.
package docs_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docRow is one row of docs/bad-input.md's table.
type docRow struct {
	id, input, enters string
	text              []string // the exact-text column, one element a line
	test, file        string   // "TestBadInputGuest", "docs/badinput_guest_test.go"
}

var testCell = regexp.MustCompile("^`(Test[A-Za-z0-9]+)/([A-Z][0-9]+)` \\(([^)]+)\\)$")

// docRows parses the table of docs/bad-input.md by row ID.
func docRows(t *testing.T) map[string]docRow {
	t.Helper()
	b, err := os.ReadFile("bad-input.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docRow{}
	for n, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| ID ") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"), " | ")
		if len(cells) != 5 {
			t.Fatalf("bad-input.md:%d: %d cells, want 5 (a \" | \" inside a cell?)", n+1, len(cells))
		}
		r := docRow{id: cells[0], input: cells[1], enters: cells[2]}
		for _, p := range strings.Split(cells[3], "<br>") {
			r.text = append(r.text, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "`"), "`"))
		}
		m := testCell.FindStringSubmatch(cells[4])
		if m == nil || m[2] != r.id {
			t.Fatalf("bad-input.md:%d: test cell %q: want `TestName/%s` (path/of/file_test.go)", n+1, cells[4], r.id)
		}
		r.test, r.file = m[1], m[3]
		if _, dup := rows[r.id]; dup {
			t.Fatalf("bad-input.md:%d: row %s twice", n+1, r.id)
		}
		rows[r.id] = r
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
		if !slices.Contains([]string{"guest", "user", "host"}, r.enters) {
			t.Errorf("row %s: enters %q, want guest, user or host", id, r.enters)
		}
		if r.input == "" || len(r.text) == 0 || r.text[0] == "" {
			t.Errorf("row %s: empty input or text", id)
		}
		if _, ok := cases[r.file]; !ok {
			src, err := os.ReadFile("../" + r.file)
			if err != nil {
				t.Errorf("row %s: %v", id, err)
				cases[r.file] = nil
				continue
			}
			if !strings.Contains(string(src), "func "+r.test+"(t *testing.T)") {
				t.Errorf("row %s: %s has no func %s", id, r.file, r.test)
			}
			for _, m := range caseID.FindAllStringSubmatch(string(src), -1) {
				cases[r.file] = append(cases[r.file], m[1])
			}
		}
		if !slices.Contains(cases[r.file], id) {
			t.Errorf("row %s: %s has no case %q", id, r.file, id)
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
