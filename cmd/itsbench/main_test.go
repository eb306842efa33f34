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
