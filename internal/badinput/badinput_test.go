package badinput

import (
	"slices"
	"strings"
	"testing"
)

const table = "# Bad input\n\n" +
	"| ID | Input | Enters | Exact text | Test |\n" +
	"|---|---|---|---|---|\n" +
	"| G1 | unknown opcode | guest | `one`<br>`two` | `TestBadInputGuest/G1` (docs/badinput_guest_test.go) |\n" +
	"| U2 | a bad flag | user | `exit 2` | `TestBadInputUser/U2` (cmd/itsbench/badinput_test.go) |\n"

func TestParse(t *testing.T) {
	rows, err := Parse("t.md", []byte(table))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2: %v", len(rows), rows)
	}
	g := rows["G1"]
	want := Row{ID: "G1", Input: "unknown opcode", Enters: "guest", Text: []string{"one", "two"}, Test: "TestBadInputGuest", File: "docs/badinput_guest_test.go"}
	if g.ID != want.ID || g.Input != want.Input || g.Enters != want.Enters || !slices.Equal(g.Text, want.Text) || g.Test != want.Test || g.File != want.File {
		t.Errorf("G1 = %+v, want %+v", g, want)
	}
}

func TestParseRefusesMalformedRows(t *testing.T) {
	for _, tc := range []struct{ row, want string }{
		{"| G1 | four | guest | `x` |", "t.md:6: 4 cells, want 5"},
		{"| G1 | a | guest | `x` | `TestX/G2` (f_test.go) |", "t.md:6: test cell \"`TestX/G2` (f_test.go)\": want `TestName/G1`"},
		{"| G1 | a | guest | `x` | TestX/G1 |", "t.md:6: test cell"},
		{"| G1 | a | guest | `x` | `TestX/G1` (f_test.go) |", "t.md:6: row G1 twice"},
	} {
		rows, err := Parse("t.md", []byte(strings.Replace(table, "U2 | a bad flag | user | `exit 2` | `TestBadInputUser/U2` (cmd/itsbench/badinput_test.go) |", tc.row[2:], 1)))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || rows != nil {
			t.Errorf("row %s: rows %v, error %v; want an error starting %q", tc.row, rows, err, tc.want)
		}
	}
}
