package main

import "syscall"

// qemuProcAttr makes the kernel kill QEMU if qemuexec dies first (for
// example when go test kills it after its own deadline), so no guest is left
// running, and puts QEMU in a process group of its own, so a terminal's
// Ctrl-C reaches qemuexec, which stops QEMU and says so, and not QEMU
// behind its back.
func qemuProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
