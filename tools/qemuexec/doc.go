// Command qemuexec runs a Go test binary built for linux/arm64 inside a
// throwaway arm64 Linux guest under qemu-system-aarch64, so that KVM tests
// (backend/kvm) drive a real KVM vGICv3 and ITS on an x86-64 host. It is made
// to be go test's -exec program:
//
//	GICITS_KERNEL=/path/to/vmlinuz-6.12.NN+deb12-arm64 \
//	GOARCH=arm64 CGO_ENABLED=0 go test -exec /path/to/qemuexec ./backend/kvm/...
//
// scripts/kvm-harness installs QEMU, fetches the kernels, builds qemuexec and
// runs exactly that once per kernel; use it rather than calling qemuexec by
// hand.
//
// For every test binary qemuexec writes a newc cpio initramfs (cpio.go,
// initrd.go) holding /init, the test binary, its arguments and environment
// (/qemuexec/config.json) and the package's and repository's testdata
// directories at their paths relative to the repository root (under /src).
// It boots QEMU's virt machine (GICv3 with an ITS, EL2 emulated, TCG) on the
// kernel named by GICITS_KERNEL, streams the test's output from the guest
// console to its own stdout, and exits with the test's exit status.
//
// /init is internal/initprog, a standard-library-only program that qemuexec
// embeds as source and cross-compiles on first use, caching the binary by
// content hash in $XDG_CACHE_HOME/gicits/qemuexec (~/.cache by default). It
// mounts /dev, /proc, /sys and /tmp, runs the test in its package directory,
// reports the kernel's release and the exit status with marker lines
// (console.go) and powers off.
//
// Each run ends with a summary line on stderr that names the kernel the
// guest ran, as the guest itself reported it (uname -r), so that every
// result in a log of several kernels says which kernel it came from:
//
//	qemuexec: kernel 6.12.95+deb12-arm64: total 12.3s, boot 7.4s, test 4.6s
//
// A run fails with status 1, printing the last 40 console lines and the
// reason, if the kernel panics, the guest hangs past the deadline, the
// kernel oopses and the test does not exit within 30 s of it (a task that
// dies in the kernel often leaves the rest stuck on its locks), QEMU
// fails, /init cannot run the test, or the guest stops without the marker.
// The deadline is -test.timeout plus 45 s of boot slack: 10 min when the
// test has no -test.timeout, as go test's default, and 24 h for
// -test.timeout=0, which asks for none.
//
// The guest test sees GICITS_QEMU=1, which means only that it runs in the
// QEMU guest. Whether a missing KVM fails or skips a test is said by
// GICITS_KVM_REQUIRED, which scripts/kvm-harness sets.
// Every GICITS_* variable of the host and the Go runtime variables GODEBUG,
// GOTRACEBACK, GOMAXPROCS, GOGC and GOMEMLIMIT are passed through.
//
// Environment:
//
//	GICITS_KERNEL        arm64 kernel image to boot (required)
//	GICITS_QEMU_BIN      QEMU binary (default qemu-system-aarch64 on PATH)
//	GICITS_QEMU_TIMEOUT  overall deadline of one run, overriding the one above
//	GICITS_QEMU_VERBOSE  1: also copy the console outside the test (kernel boot) to stderr
//	GICITS_QEMU_SUMMARY  a file each run appends its summary line to (scripts/kvm-harness
//	                     reads the guests' kernel releases from it)
//
// # Notes
//
// Files the test writes in the guest (profiles, coverage, -test.outputdir)
// are not copied back; qemuexec only creates their directories so the test
// can start. go test does not cache results of -exec runs.
//
// qemuexec owns tools/qemuexec and is host-side tooling only: it must not
// import the project's packages, and nothing in the project imports it.
package main
