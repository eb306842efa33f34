package main

import "syscall"

// childProcAttr makes the kernel stop qemuexec (and so its guest) if
// itsbench dies first, even by SIGKILL.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
