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
// The same way, any static linux/arm64 program runs against real KVM:
// cmd/itsbench runs its own arm64 build through qemuexec. Options before the
// binary (go test passes BINARY ARGS..., and a binary path never starts with
// '-') say which files go in and come out:
//
//	qemuexec [-in PATH]... [-out PATH]... [-dir DIR] [-stderr] BINARY [ARGS...]
//
//	-in PATH   copy the host file or directory PATH (directories recursively:
//	           regular files, directories, symlinks) into the guest at the same
//	           absolute path; a relative PATH is relative to qemuexec's working
//	           directory, and a missing one fails before anything boots
//	-out PATH  after BINARY exits, send the guest's regular file PATH (made
//	           absolute as for -in) back to the same host path; the guest has
//	           PATH's directory; on the host it must exist already (a run
//	           creates no host directory). The file is written beside PATH and renamed
//	           over it once all of it arrived with the size and SHA-256 the
//	           guest sent; a broken or cut file fails the run (status 1, naming
//	           PATH) and leaves PATH as it was, and a file the guest did not
//	           create changes nothing
//	-dir DIR   run BINARY in the guest directory DIR (absolute, created), and
//	           copy only the -in paths: not go test's package directory and
//	           testdata
//	-stderr    BINARY's standard error comes out on qemuexec's standard error,
//	           line by line in order; without it, it joins standard output
//
// -in, -out and -dir may not name the guest's own /dev, /proc and /sys (nor,
// for -in and -out, /, /init and /qemuexec). The guest's /tmp is a fresh tmpfs
// unless an -in path or -dir lies under /tmp: then it is the initramfs's
// own, which holds them.
//
// For every binary qemuexec writes a newc cpio initramfs (cpio.go,
// initrd.go) holding /init, the binary, its arguments and environment
// (/qemuexec/config.json), the -in paths and, without -dir, the package's and
// repository's testdata directories at their paths relative to the
// repository root (under /src). It boots QEMU's virt machine (GICv3 with an
// ITS, EL2 emulated, TCG) on the kernel named by GICITS_KERNEL, streams the
// binary's output from the guest console to its own stdout, and exits with
// the binary's exit status.
//
// /init is internal/initprog, a standard-library-only program that qemuexec
// embeds as source and cross-compiles on first use, caching the binary by
// content hash in $XDG_CACHE_HOME/gicits/qemuexec (~/.cache by default). It
// mounts /dev, /proc, /sys and /tmp, runs the binary in its package
// directory (or -dir), reports the kernel's release, the binary's standard
// error (-stderr), the -out files and the exit status with marker lines
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
// fails, /init cannot run the test, the guest stops without the marker, or
// an -out file the guest sent did not arrive intact or cannot be written.
// The deadline is -test.timeout plus 45 s of boot slack: 10 min when the
// test has no -test.timeout (any binary but a test's), as go test's
// default, and 24 h for -test.timeout=0, which asks for none.
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
//	GICITS_QEMU_TIMEOUT  overall deadline of one run, overriding the one above (how a
//	                     binary other than a test, which has no -test.timeout, sets one)
//	GICITS_QEMU_VERBOSE  1: also copy the console outside the test (kernel boot) to stderr
//	GICITS_QEMU_SUMMARY  a file each run appends its summary line to (scripts/kvm-harness
//	                     reads the guests' kernel releases from it)
//
// qemuexec reads no environment variable for -in, -out, -dir or -stderr:
// they are options. The binary run with them sees the same guest
// environment as a test (GICITS_QEMU=1 and the variables passed through).
//
// # Notes
//
// Files the test writes in the guest (profiles, coverage, -test.outputdir)
// are not copied back unless named by -out, which go test does not pass;
// qemuexec only creates their directories so the test can start. go test
// does not cache results of -exec runs.
//
// qemuexec owns tools/qemuexec and is host-side tooling only: it must not
// import the project's packages, and nothing in the project imports it.
package main
