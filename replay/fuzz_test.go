package replay

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; its result is nil exactly when its error
// is not; every line lands in exactly one of Records, Unknown and
// Foreign, in order; and every record prints back to a line that parses
// to the same event.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	for _, g := range golden {
		f.Add([]byte(g.line + "\n"))
	}
	f.Add([]byte("1@2.3:gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x-1 Size 0x1 ITT_addr 0x1 V 1"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, in []byte) {
		tr, err := Parse(bytes.NewReader(in))
		if (tr == nil) == (err == nil) {
			t.Fatalf("Parse returned %v and %v: want exactly one nil", tr, err)
		}
		if tr == nil {
			return
		}
		if n := len(tr.Records) + len(tr.Unknown) + len(tr.Foreign); n != tr.Lines {
			t.Fatalf("%d lines, but %d records, unknown and foreign lines", tr.Lines, n)
		}
		for i, r := range tr.Records {
			if i > 0 && r.Line <= tr.Records[i-1].Line {
				t.Fatalf("record %d at line %d, after line %d", i, r.Line, tr.Records[i-1].Line)
			}
			line := r.Event.Name() + " " + Message(r.Event)
			again, err := Parse(strings.NewReader(line))
			if err != nil || len(again.Records) != 1 || !reflect.DeepEqual(again.Records[0].Event, r.Event) {
				t.Fatalf("line %d: %#v prints as %q, which parses back as %v, %v", r.Line, r.Event, line, again, err)
			}
		}
	})
}

// FuzzLint: Lint never panics on a trace Parse accepts, with or without
// memory dumps (dump's bytes, placed where the trace's guest put its
// command queue and its LPI property table), and each finding names one
// of Rules and the line of a record of the trace.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b, []byte(nil))
			f.Add(b, bytes.Repeat([]byte{0xa3, 0x05, 0, 0}, 128))
		}
	}
	f.Fuzz(func(t *testing.T, in, dump []byte) {
		tr, err := Parse(bytes.NewReader(in))
		if err != nil {
			return
		}
		lines := map[int]bool{}
		for _, r := range tr.Records {
			lines[r.Line] = true
		}
		mem := &Memory{}
		if len(dump) > 0 {
			_, mems := PmemsaveCommands(tr)
			for _, m := range mems {
				_, gpa, _ := ParseMemSpec(m)
				_ = mem.Add(m, gpa, dump) // the two may overlap: then one
			}
		}
		for _, m := range Lint(tr, mem) {
			if !slices.Contains(Rules, m.Rule) || !lines[m.Line] {
				t.Fatalf("finding %v: want a rule of Rules and a record's line", m)
			}
		}
		for _, g := range Gaps(tr, mem) {
			if !slices.Contains(Rules, g.Rule) || g.Why == "" {
				t.Fatalf("gap %v: want a rule of Rules and why", g)
			}
		}
	})
}

// FuzzParseMemSpec: -mem's FILE@GPA never panics, and what it accepts
// prints back to a spec that parses the same.
func FuzzParseMemSpec(f *testing.F) {
	for _, s := range []string{"q.bin@0x40000000", "a@b@4096", "@", "x@0xffffffffffffffff", "x@-1", "x@0b101"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		file, gpa, err := ParseMemSpec(s)
		if err != nil {
			return
		}
		if file == "" {
			t.Fatalf("ParseMemSpec(%q): empty file accepted", s)
		}
		again, gpa2, err := ParseMemSpec(fmt.Sprintf("%s@%#x", file, uint64(gpa)))
		if err != nil || again != file || gpa2 != gpa {
			t.Fatalf("ParseMemSpec(%q) = %q, %v; printed back: %q, %v, %v", s, file, gpa, again, gpa2, err)
		}
	})
}
