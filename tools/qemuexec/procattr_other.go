//go:build !linux

package main

import "syscall"

// qemuProcAttr has nothing to add outside Linux: there is no parent-death
// signal, and a killed qemuexec leaves QEMU to its own devices.
func qemuProcAttr() *syscall.SysProcAttr { return nil }
