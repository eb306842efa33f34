//go:build linux

package kvm

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// machine is what the kvm backend can tell of the machine it runs on, for
// reports: the kernel, and whether that machine is QEMU's virt board with
// emulated CPUs (as under scripts/kvm-harness on x86-64), where KVM runs
// nested under TCG and its absolute times mean nothing.
type machine struct {
	kernel   string // uname -r, or "" when unknown
	qemuVirt bool   // the device tree's root is compatible with "linux,dummy-virt"
	emulated bool   // qemuVirt, and every CPU's implementer is 0x00: QEMU's TCG CPU ("max")
}

// readMachine reads the machine from Linux's files below root ("/" in use;
// tests give a directory of their own).
func readMachine(root string) machine {
	var m machine
	if b, err := os.ReadFile(filepath.Join(root, "proc/sys/kernel/osrelease")); err == nil {
		m.kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(root, "sys/firmware/devicetree/base/compatible")); err == nil {
		m.qemuVirt = bytes.Contains(append([]byte{0}, b...), []byte("\x00linux,dummy-virt\x00"))
	}
	m.emulated = m.qemuVirt && softwareImplementer(filepath.Join(root, "proc/cpuinfo"))
	return m
}

// softwareImplementer reports whether /proc/cpuinfo names CPUs and each has
// MIDR_EL1.Implementer 0x00, which Arm reserves for software use and QEMU
// gives its emulated "max" CPU; real cores (and QEMU's "host" CPU under
// KVM) carry their designer's code.
func softwareImplementer(cpuinfo string) bool {
	f, err := os.Open(cpuinfo)
	if err != nil {
		return false
	}
	defer f.Close()
	seen := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, value, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(key) != "CPU implementer" {
			continue
		}
		if strings.TrimSpace(value) != "0x00" {
			return false
		}
		seen = true
	}
	return seen && sc.Err() == nil
}

// where describes the machine for model.Capabilities.Where.
func (m machine) where() string {
	kernel := m.kernel
	if kernel == "" {
		kernel = "an unknown kernel"
	} else {
		kernel = "Linux " + kernel
	}
	switch {
	case m.emulated:
		return "KVM on " + kernel + ", nested in QEMU's virt machine with emulated CPUs (TCG)"
	case m.qemuVirt:
		return "KVM on " + kernel + ", nested in QEMU's virt machine"
	default:
		return "KVM on " + kernel + ", native"
	}
}
