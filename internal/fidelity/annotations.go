package fidelity

import (
	"os"
	"slices"
	"strings"

	"github.com/gicits/gicits/script"
)

// Annotated returns the catalogue classes the expectation at line of s
// names in its kvm= field, if it has any.
func Annotated(s *script.Script, line int) []string {
	for _, st := range s.Stmts {
		if st.Position().Line == line {
			if k, ok := st.(interface{ KVMClasses() []string }); ok {
				return k.KVMClasses()
			}
		}
	}
	return nil
}

// Showing returns the first entry of classes that shows on kernel series k
// (the first known one when the catalogue does not know k: a kernel it has
// not measured may show any of them).
func Showing(classes []string, k string) (*Entry, bool) {
	for _, id := range classes {
		e, ok := Lookup(id)
		if ok && (e.ShowsOn(k) || !slices.Contains(Kernels, k)) {
			return e, true
		}
	}
	return nil, false
}

// Crashing returns a catalogue entry that crashes the host on kernel
// series k and that an expectation of s names: s must not run there.
func Crashing(s *script.Script, k string) (*Entry, bool) {
	for _, st := range s.Stmts {
		for _, id := range Annotated(s, st.Position().Line) {
			if e, ok := Lookup(id); ok && e.Crashes && e.ShowsOn(k) {
				return e, true
			}
		}
	}
	return nil, false
}

// RunningKernel returns the release of the kernel this process runs on
// (uname -r), or "" where it cannot be read.
func RunningKernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
