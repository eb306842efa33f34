package main

import (
	"strings"
	"testing"
)

func TestCompareSideBySide(t *testing.T) {
	status, stdout, stderr := runArgs(t, "compare", "-a", fake, "-b", fake, "-workload", "lpistress", "-i", "200")
	if status != 0 {
		t.Fatalf("status %d, stderr %s", status, stderr)
	}
	for _, want := range []string{fake + "-b/" + fake, "throughput (LPIs/s)", "injection call p50", "Mann-Whitney", "lost",
		"\n" + fake + " ran a fake backend in this process (bench tests)\n" + fake + "-b ran a fake backend in this process (bench tests)\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "emulation") {
		t.Errorf("emulation note without kvm:\n%s", stdout)
	}
}
