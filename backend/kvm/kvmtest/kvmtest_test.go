package kvmtest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of ending
// the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestSkipOrFail(t *testing.T) {
	notSupported := fmt.Errorf("backend/kvm: /dev/kvm does not exist: %w", model.ErrNotSupported)
	for _, c := range []struct {
		name     string
		required string
		err      error
		skip     string // a part of the skip message, or "" for none
		fail     string // a part of the failure, or "" for none
	}{
		{"not supported, not required: skip with the way to run it", "", notSupported,
			"run it for real with: scripts/kvm-harness -run '^TestSkipOrFail", ""},
		{"not supported, required: fail", "1", notSupported, "", "GICITS_KVM_REQUIRED=1: KVM is required here"},
		{"required only when 1", "0", notSupported, "/dev/kvm does not exist", ""},
		{"another error always fails", "", fmt.Errorf("KVM_CREATE_VM: %w", model.ErrInvalidArgument), "", "KVM_CREATE_VM"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(RequiredEnv, c.required)
			r := &recorder{TB: t}
			skipOrFail(r, c.err)
			if (c.skip == "") != (r.skipped == "") || !strings.Contains(r.skipped, c.skip) {
				t.Errorf("skipped %q, want one containing %q", r.skipped, c.skip)
			}
			if (c.fail == "") != (r.failed == "") || !strings.Contains(r.failed, c.fail) {
				t.Errorf("failed %q, want one containing %q", r.failed, c.fail)
			}
		})
	}
}

func TestPackageDir(t *testing.T) {
	want := "./backend/kvm/kvmtest"
	if os.Getenv("GICITS_QEMU") == "1" {
		want = "." // the QEMU guest holds the package directory but no go.mod
	}
	if got := packageDir(); got != want {
		t.Errorf("packageDir() = %q, want %s", got, want)
	}
}
