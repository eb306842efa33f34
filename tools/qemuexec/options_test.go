package main

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	cwd := t.TempDir()
	for _, p := range []string{"plot.cfg", "scripts/a.its"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(cwd, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cwd, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs := func(p string) string { return filepath.Join(cwd, p) }
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string // substring; "" for none
	}{
		{
			name: "go test's BINARY ARGS... unchanged",
			args: []string{"/tmp/go-build1/b001/kvm.test", "-test.v=true", "-test.timeout=10m0s"},
			want: options{binary: "/tmp/go-build1/b001/kvm.test", args: []string{"-test.v=true", "-test.timeout=10m0s"}},
		},
		{
			name: "every option",
			args: []string{"-in", "scripts", "-in=" + abs("plot.cfg"), "--out", "out/plot.png", "-out=/abs/trace.json",
				"-dir", "/work/run", "-stderr", "itsbench", "run", "-o", "x"},
			want: options{
				inputs:      []string{abs("scripts"), abs("plot.cfg")},
				outputs:     []string{abs("out/plot.png"), "/abs/trace.json"},
				dir:         "/work/run",
				splitStderr: true,
				binary:      "itsbench",
				args:        []string{"run", "-o", "x"},
			},
		},
		{
			name: "relative paths are cleaned",
			args: []string{"-in", "./scripts/../plot.cfg", "-out", "a/../b.png", "-dir", "/w//x/", "bin"},
			want: options{inputs: []string{abs("plot.cfg")}, outputs: []string{abs("b.png")}, dir: "/w/x", binary: "bin", args: []string{}},
		},
		{
			name: "-- ends the options",
			args: []string{"-stderr", "--", "-odd-binary-name", "-in"},
			want: options{splitStderr: true, binary: "-odd-binary-name", args: []string{"-in"}},
		},
		{name: "help", args: []string{"-h"}, wantErr: "help requested"},
		{name: "help after an option", args: []string{"-stderr", "--help", "bin"}, wantErr: "help requested"},
		{name: "unknown option", args: []string{"-verbose", "bin"}, wantErr: "unknown option -verbose"},
		{name: "-in missing on the host", args: []string{"-in", "no/such.cfg", "bin"}, wantErr: "-in no/such.cfg: lstat " + abs("no/such.cfg") + ": no such file"},
		{name: "-in without its path", args: []string{"-in"}, wantErr: "option -in needs a path"},
		{name: "-out with an empty path", args: []string{"-out=", "bin"}, wantErr: "option -out needs a path"},
		{name: "relative -dir", args: []string{"-dir", "run", "bin"}, wantErr: "-dir run: the guest directory must be an absolute path"},
		{name: "-dir twice", args: []string{"-dir", "/a", "-dir", "/b", "bin"}, wantErr: "-dir given twice"},
		{name: "-stderr with a value", args: []string{"-stderr=1", "bin"}, wantErr: "-stderr takes no value"},
		{name: "-out in the guest's /proc", args: []string{"-out", "/proc/x", "bin"}, wantErr: "-out /proc/x: the guest kernel mounts its own file system on /proc"},
		{name: "-in of qemuexec's own", args: []string{"-in", "/", "bin"}, wantErr: "-in /: the guest's /, /init and /qemuexec are qemuexec's"},
		{name: "-dir in /dev", args: []string{"-dir", "/dev/shm", "bin"}, wantErr: "/dev"},
		{name: "no binary", args: []string{"-stderr"}, wantErr: "no binary to run"},
		{name: "nothing", args: nil, wantErr: "no binary to run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseOptions(tt.args, cwd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want one containing %q", err, tt.wantErr)
				}
				if tt.wantErr == "help requested" && !errors.Is(err, errHelp) {
					t.Errorf("error %v is not errHelp", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestRunRefusesBadOptions: a wrong command line stops qemuexec before it
// looks for a kernel or boots anything.
func TestRunRefusesBadOptions(t *testing.T) {
	tests := []struct {
		args       []string
		wantStderr []string
	}{
		{[]string{"-bogus", "bin"}, []string{"qemuexec: unknown option -bogus\n", "usage: "}},
		{[]string{"-in", "/no/such/input", "bin"}, []string{"qemuexec: -in /no/such/input: lstat /no/such/input: no such file or directory\n", "usage: "}},
		{[]string{"-h"}, []string{"usage: ", "  -stderr "}},
	}
	for _, tt := range tests {
		var stdout, stderr strings.Builder
		code := run(tt.args, &stdout, &stderr, func(string) string { return "" })
		if code != 2 {
			t.Errorf("run %q: status %d, want 2", tt.args, code)
		}
		for _, w := range tt.wantStderr {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("run %q: stderr lacks %q:\n%s", tt.args, w, stderr.String())
			}
		}
		if strings.Contains(stderr.String(), "GICITS_KERNEL is not set") {
			t.Errorf("run %q looked for a kernel", tt.args)
		}
	}
}
