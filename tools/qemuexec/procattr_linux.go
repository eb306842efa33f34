package main

import "syscall"

// qemuProcAttr makes the kernel kill QEMU if qemuexec dies first (for
// example when go test kills it after its own deadline), so no guest is left
// running.
func qemuProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
