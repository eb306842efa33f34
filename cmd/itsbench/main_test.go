package main

import (
	"bytes"
	"strings"
	"testing"
)

// runArgs runs itsbench in-process and returns its exit status and output.
func runArgs(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	status = run(&env{stdout: &out, stderr: &errb}, args)
	return status, out.String(), errb.String()
}

func TestUsageErrorsExit2AndSayWhatIsAccepted(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate" (known: `},
		{[]string{"demo", "-nope"}, "flag provided but not defined: -nope"},
		{[]string{"demo", "-cpus", "0"}, "-cpus 0: want 1..32"},
		{[]string{"demo", "-cpus", "x"}, `invalid value "x" for flag -cpus`},
		{[]string{"demo", "-devices", "32"}, "-devices 32: want 1..31"},
		{[]string{"demo", "-events", "0"}, "-events 0: want 1..1024"},
		{[]string{"demo", "stray"}, `unexpected argument "stray"`},
		{[]string{"demo", "-backend", "qemu"}, `unknown backend "qemu" (known: `},
	} {
		status, _, stderr := runArgs(t, tc.args...)
		if status != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("itsbench %s: status %d, stderr %q; want 2 and %q", strings.Join(tc.args, " "), status, stderr, tc.want)
		}
	}
}

func TestHelpListsEveryCommand(t *testing.T) {
	status, stdout, _ := runArgs(t, "help")
	if status != 0 {
		t.Fatalf("help: status %d", status)
	}
	for _, name := range commandNames() {
		if !strings.Contains(stdout, "  "+name+" ") {
			t.Errorf("help does not list %q:\n%s", name, stdout)
		}
	}
}

// TestHelp: itsbench's own -h and help list the commands (not the default
// command's flags); help COMMAND prints that command's flags on standard
// output; help of a command that does not exist is a usage error naming it.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		status    int
		stdout    []string // in stdout
		notStdout string   // not in stdout
		stderr    string   // in stderr ("" for empty stderr)
	}{
		{[]string{"-h"}, 0, []string{"(default command: run)", "\ncommands:\n", "  script "}, "-workload", ""},
		{[]string{"--help"}, 0, []string{"(default command: run)", "  decode "}, "-workload", ""},
		{[]string{"-help"}, 0, []string{"(default command: run)"}, "-workload", ""},
		{[]string{"help"}, 0, []string{"(default command: run)"}, "-workload", ""},
		{[]string{"help", "help"}, 0, []string{"(default command: run)"}, "-workload", ""},
		{[]string{"help", "run"}, 0, []string{"usage: itsbench run ", "  -workload string\n"}, "commands:", ""},
		{[]string{"help", "decode"}, 0, []string{"usage: itsbench decode ", "  -table string\n"}, "-workload", ""},
		{[]string{"help", "nosuch"}, 2, nil, "usage", `itsbench help: unknown command "nosuch" (known: compare, `},
		{[]string{"help", "run", "decode"}, 2, nil, "usage", "itsbench help: want one command, got 2 arguments (run decode)"},
	} {
		status, stdout, stderr := runArgs(t, tc.args...)
		name := "itsbench " + strings.Join(tc.args, " ")
		if status != tc.status {
			t.Errorf("%s: status %d, want %d (stderr %q)", name, status, tc.status, stderr)
		}
		for _, want := range tc.stdout {
			if !strings.Contains(stdout, want) {
				t.Errorf("%s: stdout lacks %q:\n%s", name, want, stdout)
			}
		}
		if strings.Contains(stdout, tc.notStdout) {
			t.Errorf("%s: stdout has %q:\n%s", name, tc.notStdout, stdout)
		}
		if (tc.stderr == "") != (stderr == "") || !strings.Contains(stderr, tc.stderr) {
			t.Errorf("%s: stderr %q, want %q", name, stderr, tc.stderr)
		}
	}
}

// TestFlagErrorsPrintOnce: a flag the command does not know is reported
// once, with a one-line hint, not between two copies of the whole usage;
// -h still prints the usage.
func TestFlagErrorsPrintOnce(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // all of stderr
	}{
		{[]string{"run", "-nope"}, "itsbench run: flag provided but not defined: -nope\nrun 'itsbench run -h' for the flags\n"},
		{[]string{"-nope"}, "itsbench run: flag provided but not defined: -nope\nrun 'itsbench run -h' for the flags\n"},
		{[]string{"script", "-backend"}, "itsbench script: flag needs an argument: -backend\nrun 'itsbench script -h' for the flags\n"},
		{[]string{"demo", "-cpus", "x"}, "itsbench demo: invalid value \"x\" for flag -cpus: parse error\nrun 'itsbench demo -h' for the flags\n"},
	} {
		status, stdout, stderr := runArgs(t, tc.args...)
		if status != 2 || stdout != "" || stderr != tc.want {
			t.Errorf("itsbench %s: status %d, stdout %q, stderr:\n%s\nwant status 2, no stdout, stderr:\n%s", strings.Join(tc.args, " "), status, stdout, stderr, tc.want)
		}
	}
	status, _, stderr := runArgs(t, "demo", "-h")
	if status != 0 || !strings.HasPrefix(stderr, "usage: itsbench demo ") || !strings.Contains(stderr, "  -cpus int\n") {
		t.Errorf("itsbench demo -h: status %d, stderr:\n%s\nwant 0 and the usage", status, stderr)
	}
}
