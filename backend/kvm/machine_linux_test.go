//go:build linux

package kvm

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadMachine(t *testing.T) {
	const virt = "linux,dummy-virt\x00"
	tcgCPUs := "processor\t: 0\nCPU implementer\t: 0x00\n\nprocessor\t: 1\nCPU implementer\t: 0x00\n"
	for _, c := range []struct {
		name      string
		files     map[string]string
		want      machine
		wantWhere string
	}{
		{"QEMU virt, TCG max CPUs (the harness)",
			map[string]string{"proc/sys/kernel/osrelease": "6.1.0-57-arm64\n", "sys/firmware/devicetree/base/compatible": virt, "proc/cpuinfo": tcgCPUs},
			machine{kernel: "6.1.0-57-arm64", qemuVirt: true, emulated: true},
			"KVM on Linux 6.1.0-57-arm64, nested in QEMU's virt machine with emulated CPUs (TCG)"},
		{"QEMU virt on real cores (accel kvm, -cpu host)",
			map[string]string{"proc/sys/kernel/osrelease": "6.12.9-arm64\n", "sys/firmware/devicetree/base/compatible": virt, "proc/cpuinfo": "CPU implementer\t: 0x41\n"},
			machine{kernel: "6.12.9-arm64", qemuVirt: true},
			"KVM on Linux 6.12.9-arm64, nested in QEMU's virt machine"},
		{"a real board",
			map[string]string{"proc/sys/kernel/osrelease": "6.12.9-arm64\n", "sys/firmware/devicetree/base/compatible": "fsl,imx8mp-evk\x00fsl,imx8mp\x00", "proc/cpuinfo": "CPU implementer\t: 0x00\n"},
			machine{kernel: "6.12.9-arm64"},
			"KVM on Linux 6.12.9-arm64, native"},
		{"one CPU not software-implemented",
			map[string]string{"sys/firmware/devicetree/base/compatible": virt, "proc/cpuinfo": "CPU implementer\t: 0x00\nCPU implementer\t: 0x41\n"},
			machine{qemuVirt: true},
			"KVM on an unknown kernel, nested in QEMU's virt machine"},
		{"nothing readable (ACPI server, no device tree)", nil, machine{}, "KVM on an unknown kernel, native"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for name, text := range c.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got := readMachine(root)
			if got != c.want {
				t.Errorf("readMachine = %+v, want %+v", got, c.want)
			}
			if w := got.where(); w != c.wantWhere {
				t.Errorf("where = %q, want %q", w, c.wantWhere)
			}
		})
	}
}
