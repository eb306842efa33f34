package badinput

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Row is one row of the table.
type Row struct {
	// ID names the row and the test case that checks it: "G1", "U3", "H2".
	ID string
	// Input says what the bad input is, and Enters where it enters:
	// "guest", "user" or "host".
	Input, Enters string
	// Text is the exact-text column, one element a line: the cell's
	// <br>-separated parts without their backquotes.
	Text []string
	// Test and File are the test that checks the row and its file from
	// the module's root: "TestBadInputGuest", "docs/badinput_guest_test.go".
	Test, File string
}

var testCell = regexp.MustCompile("^`(Test[A-Za-z0-9]+)/([A-Z][0-9]+)` \\(([^)]+)\\)$")

// Parse parses the table of doc, the text of docs/bad-input.md, by row ID.
// A table row is a line that starts with "| ", other than the header's
// ("| ID "). name names doc in errors: a row without five cells, a test
// cell that does not name the row's case as "`TestName/ID` (file)", or an
// ID twice.
func Parse(name string, doc []byte) (map[string]Row, error) {
	rows := map[string]Row{}
	for n, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| ID ") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"), " | ")
		if len(cells) != 5 {
			return nil, fmt.Errorf("%s:%d: %d cells, want 5 (a \" | \" inside a cell?)", name, n+1, len(cells))
		}
		r := Row{ID: cells[0], Input: cells[1], Enters: cells[2]}
		for p := range strings.SplitSeq(cells[3], "<br>") {
			r.Text = append(r.Text, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(p), "`"), "`"))
		}
		m := testCell.FindStringSubmatch(cells[4])
		if m == nil || m[2] != r.ID {
			return nil, fmt.Errorf("%s:%d: test cell %q: want `TestName/%s` (path/of/file_test.go)", name, n+1, cells[4], r.ID)
		}
		r.Test, r.File = m[1], m[3]
		if _, dup := rows[r.ID]; dup {
			return nil, fmt.Errorf("%s:%d: row %s twice", name, n+1, r.ID)
		}
		rows[r.ID] = r
	}
	return rows, nil
}

// ReadFile reads the file at path and parses it with [Parse].
func ReadFile(path string) (map[string]Row, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}
