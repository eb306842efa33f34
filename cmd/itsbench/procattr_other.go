//go:build !linux

package main

import "syscall"

// childProcAttr: only Linux can stop a child when its parent dies.
func childProcAttr() *syscall.SysProcAttr { return nil }
