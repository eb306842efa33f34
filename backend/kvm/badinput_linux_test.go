//go:build linux

package kvm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/internal/badinput"
	"github.com/gicits/gicits/model"
)

// fakeCreateDevice is KVM_CREATE_DEVICE failing with errno for typ, as a
// kernel without that device answers, and creating every other device.
func fakeCreateDevice(typ uint32, errno error) func(*kvmsys.FD, uint32) (*kvmsys.FD, error) {
	return func(vm *kvmsys.FD, t uint32) (*kvmsys.FD, error) {
		if t == typ {
			return nil, &kvmsys.Error{Op: "KVM_CREATE_DEVICE", What: fmt.Sprint("type ", t), Errno: errno}
		}
		return kvmsys.CreateDeviceOf(vm, t)
	}
}

// badHostInput is the host-side part of docs/bad-input.md for
// backend/kvm: each case's name is its row ID and its error must be the
// row's text exactly. The same code path runs on every Linux host: on
// linux/arm64 through Open itself, elsewhere through the step of Open
// that fails (openDevKVM, createGICDevice), which Open returns unchanged.
var badHostInput = []struct {
	id       string
	arm64    bool   // the row exists on linux/arm64 only
	other    bool   // the row exists off linux/arm64 only
	path     string // device path to open instead of /dev/kvm ("" keeps it)
	noDevice uint32 // device type KVM_CREATE_DEVICE refuses with ENODEV
	sentinel error
	want     string
}{
	{id: "H1", other: true, sentinel: model.ErrNotSupported,
		want: "backend/kvm needs linux/arm64 with /dev/kvm (this is linux/" + runtime.GOARCH + "); on x86-64 run scripts/kvm-harness (QEMU) or use -backend sim: not supported"},
	{id: "H2", path: "TMP/no-kvm", sentinel: kvmsys.ErrNoKVM,
		want: "backend/kvm: /dev/kvm does not exist (a kernel with CONFIG_KVM on arm64, booted at EL2, is needed): not supported (open TMP/no-kvm: no such file or directory)"},
	{id: "H3", path: "/sys/devices/system/cpu/possible", sentinel: kvmsys.ErrKVMPermission,
		want: "backend/kvm: no permission to open /dev/kvm read-write (run as root or join the kvm group): not supported (open /sys/devices/system/cpu/possible: permission denied)"},
	{id: "H4", path: "/dev/null", sentinel: model.ErrNotSupported,
		want: "backend/kvm: KVM_GET_API_VERSION (/dev/null): inappropriate ioctl for device"},
	{id: "H5", noDevice: kvmsys.KVM_DEV_TYPE_ARM_VGIC_V3, sentinel: model.ErrNotSupported,
		want: "backend/kvm: this kernel's KVM cannot create a vGICv3 (KVM_DEV_TYPE_ARM_VGIC_V3): the host GIC must be a GICv3 and the kernel must have vGICv3 support: KVM_CREATE_DEVICE (type 7): no such device"},
	{id: "H6", noDevice: kvmsys.KVM_DEV_TYPE_ARM_VGIC_ITS, sentinel: model.ErrNotSupported,
		want: "backend/kvm: this kernel's KVM cannot create a vGIC ITS (KVM_DEV_TYPE_ARM_VGIC_ITS): a kernel with CONFIG_KVM on arm64 and the ITS emulation is needed: KVM_CREATE_DEVICE (type 8): no such device"},
}

func TestBadInputHost(t *testing.T) {
	real := runtime.GOARCH == "arm64"
	doc := docTexts(t)
	for _, c := range badHostInput {
		if c.other && real {
			// The row is about every other platform; under scripts/kvm-harness
			// no test may skip, so it is not run here rather than skipped.
			continue
		}
		t.Run(c.id, func(t *testing.T) {
			if c.arm64 && !real {
				t.Skipf("row %s does not apply to linux/%s", c.id, runtime.GOARCH)
			}
			tmp := t.TempDir()
			want := c.want
			if c.path != "" {
				path := strings.ReplaceAll(c.path, "TMP", tmp)
				if _, err := os.Stat(filepath.Dir(path)); err != nil {
					t.Skipf("%s: %v", path, err)
				}
				old := devKVMPath
				devKVMPath = path
				t.Cleanup(func() { devKVMPath = old })
			}
			if c.noDevice != 0 {
				old := createDevice
				createDevice = fakeCreateDevice(c.noDevice, kvmsys.ENODEV)
				t.Cleanup(func() { createDevice = old })
			}
			var err error
			switch {
			case real || c.other:
				var b model.Backend
				b, err = Open(model.Config{})
				if err == nil {
					b.Close()
				}
			case c.noDevice != 0:
				// The step of Open that fails, on a host that cannot run it.
				err = deviceError(c.noDevice, &kvmsys.Error{Op: "KVM_CREATE_DEVICE", What: fmt.Sprint("type ", c.noDevice), Errno: kvmsys.ENODEV})
			default:
				var fd *kvmsys.FD
				fd, err = openDevKVM()
				fd.Close()
			}
			if err == nil {
				t.Fatalf("%s: no error", c.id)
			}
			got := strings.ReplaceAll(err.Error(), tmp, "TMP")
			if got != want {
				t.Errorf("%s:\n got %s\nwant %s", c.id, got, want)
			}
			if !errors.Is(err, c.sentinel) {
				t.Errorf("%s: %v does not wrap %v", c.id, err, c.sentinel)
			}
			if d, ok := doc[c.id]; ok && d != strings.ReplaceAll(want, "linux/"+runtime.GOARCH, "linux/amd64") {
				t.Errorf("%s: docs/bad-input.md says\n%s\nthe test wants\n%s", c.id, d, want)
			}
		})
	}
}

// docTexts returns the exact-text column of docs/bad-input.md by row ID,
// or nothing where the docs are not at hand (inside the QEMU harness).
func docTexts(t *testing.T) map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile("../../docs/bad-input.md")
	if err != nil {
		t.Logf("docs/bad-input.md not at hand (%v): checking the texts in the test only", err)
		return out
	}
	rows, err := badinput.Parse("docs/bad-input.md", b)
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range rows {
		out[id] = strings.Join(r.Text, "\n")
	}
	return out
}
