package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gicits/gicits/internal/badinput"
)

// badUserInput is the user-side part of docs/bad-input.md: each case's
// name is its row ID; the exit status and the last line itsbench writes to
// stderr must be the row's exactly. Files named in args as @NAME are
// created in a temporary directory first with the contents in files.
var badUserInput = []struct {
	id     string
	args   []string
	files  map[string]string
	stdin  string
	status int
	want   string
	// guest runs the row outside any checkout (in DIR), with an empty
	// cache (XDG_CACHE_HOME=DIR), no QEMU (GICITS_QEMU_BIN names a file
	// that does not exist) and GICITS_NO_INSTALL=1: what a kvm
	// backend says where the guest it needs is not set up, whatever this
	// host has installed.
	guest bool
}{
	{id: "U1", args: []string{"frobnicate"}},
	{id: "U2", args: []string{"run", "-nope"}},
	{id: "U3", args: []string{"run", "-cpus", "x"}},
	{id: "U4", args: []string{"run", "stray"}},
	{id: "U5", args: []string{"run", "-workload", "nope"}},
	{id: "U6", args: []string{"run", "-cpus", "0"}},
	{id: "U7", args: []string{"run", "-cpus", "64", "-events", "0"}},
	{id: "U8", args: []string{"run", "-count", "10", "-duration", "1s"}},
	{id: "U9", args: []string{"run", "-duration", "2h"}},
	{id: "U10", args: []string{"run", "-churn", "remap", "-path", "irqfd"}},
	{id: "U11", args: []string{"run", "-format", "xml"}},
	{id: "U12", args: []string{"run", "-plot", "out.gif"}},
	{id: "U13", args: []string{"run", "-backend", "qemu"}},
	{id: "U14", args: []string{"run", "-backend", "sim:fast"}},
	{id: "U15", args: []string{"run", "-backend", "kvm", "-count", "1"}, guest: true},
	{id: "U16", args: []string{"run", "-o", "/nonexistent/dir/report.txt", "-count", "1"}},
	{id: "U17", args: []string{"script", "@missing.its"}},
	{id: "U18", args: []string{"script", "@bad.its"}, files: map[string]string{"bad.its": "mapd dev=1 bits=5\nfrobnicate 3\n"}},
	{id: "U19", args: []string{"script", "@empty.its"}, files: map[string]string{"empty.its": ""}},
	{id: "U20", args: []string{"script"}},
	{id: "U21", args: []string{"decode", "-file", "@empty.bin"}, files: map[string]string{"empty.bin": ""}},
	{id: "U22", args: []string{"decode", "-file", "@trunc.bin"}, files: map[string]string{"trunc.bin": "\x0c\x00\x00\x00\x01\x00\x00\x00\x00\x00"}},
	{id: "U23", args: []string{"decode", "zz"}},
	{id: "U24", args: []string{"decode"}, stdin: ""},
	{id: "U25", args: []string{"decode", "-table", "dte", "-file", "@trunc.bin"}, files: map[string]string{"trunc.bin": "\x01\x02\x03"}},
	{id: "U26", args: []string{"decode", "-table", "xyz", "1"}},
	{id: "U27", args: []string{"decode", "-file", "@q.bin", "-at", "0x1000"}, files: map[string]string{"q.bin": strings.Repeat("\x00", 64)}},
	{id: "U28", args: []string{"state"}},
	{id: "U29", args: []string{"explain", "-script", "@empty.its", "dev=1"}, files: map[string]string{"empty.its": ""}},
	{id: "U30", args: []string{"explain", "-script", "@empty.its", "dev=1", "ev=0"}, files: map[string]string{"empty.its": ""}},
	{id: "U31", args: []string{"state", "-restore", "@missing.state"}},
	{id: "U32", args: []string{"explain", "-restore", "@route.its", "dev=1", "ev=0"}, files: map[string]string{"route.its": "cpus 1\n"}},
	{id: "U33", args: []string{"state", "-restore", "@cut.state"}, files: map[string]string{"cut.state": "GICITSST\x01\x00\x00\x00\x00\x01\x00\x00\x03sim"}},
	{id: "U34", args: []string{"state", "-script", "testdata/explain-state.its", "-save", "/nonexistent/dir/vm.state"}},
	{id: "U35", args: []string{"script", "-restore", "testdata/explain-state.state", "@one.its"}, files: map[string]string{"one.its": "cpus 1\nexpect idle cpu=0\n"}},
	{id: "U36", args: []string{"state", "-restore", "@vm.state", "-backend", "kvm", "-kernel", "6.1"}, files: map[string]string{"vm.state": "read in the guest"}, guest: true},
	{id: "U37", args: []string{"state", "-restore", "@vm.state", "-save", "@vm.state"}, files: map[string]string{"vm.state": "a saved state"}},
	{id: "U38", args: []string{"state", "-script", "testdata/explain-state.its", "-backend", "bogus", "-save", "@vm.state"}, files: map[string]string{"vm.state": "a saved state"}},
	{id: "U39", args: []string{"decode", "-table", "dte", "zz"}},
	{id: "U40", args: []string{"decode", "-file", "@q.bin", "-base", "0xffffffffffffffff"}, files: map[string]string{"q.bin": strings.Repeat("\x00", 64)}},
	{id: "U41", args: []string{"decode", "-file", "@q.bin", "-creadr", "0x7", "-cwriter", "0x20"}, files: map[string]string{"q.bin": strings.Repeat("\x00", 64)}},
	{id: "U42", args: []string{"help", "nosuch"}},
	{id: "U43", args: []string{"explain", "-its", "2", "-script", itsesScenario, "dev=0x10", "ev=0"}},
	{id: "U44", args: []string{"explain", "-its", "1", "-script", "testdata/explain-state.its", "dev=0x10", "ev=0"}},
	{id: "U45", args: []string{"explain", "-its", "-1", "-script", itsesScenario, "dev=0x10", "ev=0"}},
	{id: "U46", args: []string{"state", "-script", itsesScenario, "-save", "@vm.state"}, files: map[string]string{"vm.state": "a saved state"}},
}

// docRows returns the exact-text column of docs/bad-input.md by row ID,
// each <br>-separated part a line.
func docRows(t *testing.T) map[string][]string {
	t.Helper()
	rows, err := badinput.ReadFile("../../docs/bad-input.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for id, r := range rows {
		out[id] = r.Text
	}
	return out
}

// TestBadInputUser runs every user-side row of docs/bad-input.md: the
// row's text is "exit N" then lines itsbench must print (on stdout or
// stderr), exactly; DIR stands for the temporary directory of the row's
// files.
func TestBadInputUser(t *testing.T) {
	rows := docRows(t)
	probe := os.Getenv("GICITS_PROBE") != ""
	for _, c := range badUserInput {
		t.Run(c.id, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.guest {
				t.Chdir(dir)
				t.Setenv("XDG_CACHE_HOME", dir)
				t.Setenv("GICITS_NO_INSTALL", "1")
				t.Setenv("GICITS_QEMU_BIN", filepath.Join(dir, "no-qemu"))
			}
			args := make([]string, len(c.args))
			for i, a := range c.args {
				if strings.HasPrefix(a, "@") {
					a = filepath.Join(dir, a[1:])
				}
				args[i] = a
			}
			var out, errb bytes.Buffer
			status := run(&env{stdout: &out, stderr: &errb, stdin: strings.NewReader(c.stdin)}, args)
			// The test binary registers a fake backend itsbench does not have.
			text := strings.NewReplacer(dir, "DIR", "benchtest-fake, ", "").Replace(out.String() + errb.String())
			if probe {
				fmt.Printf("%s\t%d\t%q\t%q\n", c.id, status, strings.NewReplacer(dir, "DIR", "benchtest-fake, ", "").Replace(out.String()), strings.NewReplacer(dir, "DIR", "benchtest-fake, ", "").Replace(errb.String()))
				return
			}
			row, ok := rows[c.id]
			if !ok {
				t.Fatalf("docs/bad-input.md has no row %s", c.id)
			}
			if want := row[0]; want != fmt.Sprintf("exit %d", status) {
				t.Errorf("itsbench %s: exit %d, docs/bad-input.md says %s", strings.Join(c.args, " "), status, want)
			}
			lines := map[string]bool{}
			for l := range strings.SplitSeq(text, "\n") {
				lines[strings.TrimRight(l, " ")] = true
			}
			for _, want := range row[1:] {
				if !lines[want] {
					t.Errorf("itsbench %s does not print the line\n%s\nit prints\n%s", strings.Join(c.args, " "), want, text)
				}
			}
		})
	}
}
