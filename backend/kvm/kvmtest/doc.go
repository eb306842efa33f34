// Package kvmtest is the one place where a test decides what to do when
// it cannot open the kvm backend: skip, saying why, or fail.
//
// The signal is one environment variable, GICITS_KVM_REQUIRED. Where it is
// 1 (scripts/kvm-harness sets it, both inside its QEMU guest and on a native
// arm64 host), KVM must be there and a test that cannot open it fails.
// Anywhere else such a test skips with the reason and the command that
// runs it for real. GICITS_QEMU=1, set by tools/qemuexec, means only that
// the test runs inside the QEMU guest; it does not make KVM required.
//
// kvmtest owns that decision and nothing else. It is for tests only; the
// library and the CLI never import it.
package kvmtest
