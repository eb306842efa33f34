package main

import (
	"strings"
	"testing"

	"github.com/gicits/gicits/bench"
)

func TestListShowsWorkloadsAndParameters(t *testing.T) {
	status, stdout, _ := runArgs(t, "list")
	if status != 0 {
		t.Fatalf("status %d", status)
	}
	for _, name := range bench.BuiltinNames() {
		if !strings.Contains(stdout, "\n"+name) && !strings.HasPrefix(stdout, name) {
			t.Errorf("list lacks workload %s", name)
		}
	}
	for _, p := range bench.Params() {
		if !strings.Contains(stdout, "  -"+p.Name) {
			t.Errorf("list lacks parameter -%s", p.Name)
		}
	}
	for _, want := range []string{"steady (default)", "-cpus, -v", "-iterations, -i", "backends: "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, stdout)
		}
	}
}
