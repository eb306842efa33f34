package kvmtest

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// RequiredEnv names the variable that makes KVM required: a test that
// cannot open it fails instead of skipping.
const RequiredEnv = "GICITS_KVM_REQUIRED"

// Required reports whether KVM must be there (RequiredEnv is 1).
func Required() bool { return os.Getenv(RequiredEnv) == "1" }

// Open opens a kvm backend with cfg and closes it when the test ends.
// Where KVM cannot be opened here (the error wraps model.ErrNotSupported)
// the test skips with the reason, or fails when Required; any other error
// fails the test.
func Open(t testing.TB, cfg model.Config) model.Backend {
	t.Helper()
	b, err := model.Open(kvm.Name, cfg)
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// Require checks that a kvm backend with cfg opens here, and closes it
// again, for tests that open their own (through a script or the CLI). It
// skips or fails as Open does.
func Require(t testing.TB, cfg model.Config) {
	t.Helper()
	b, err := model.Open(kvm.Name, cfg)
	if err != nil {
		skipOrFail(t, err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// skipOrFail ends the test for an error of opening the kvm backend.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	switch {
	case !errors.Is(err, model.ErrNotSupported):
		t.Fatalf("open kvm backend: %v", err)
	case Required():
		t.Fatalf("open kvm backend: %v (%s=1: KVM is required here)", err, RequiredEnv)
	default:
		t.Skipf("no KVM here (%s/%s): %v; run it for real with: scripts/kvm-harness -run '^%s$' %s",
			runtime.GOOS, runtime.GOARCH, err, t.Name(), packageDir())
	}
}

// packageDir returns the test's package directory relative to the module
// root, as scripts/kvm-harness takes it ("./backend/kvm"), or "." when it
// cannot tell (go test runs a test in its package directory).
func packageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		if filepath.Dir(dir) == dir {
			return "."
		}
	}
}
