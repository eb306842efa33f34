package kvmsys

import (
	"encoding/hex"
	"testing"
)

// ioc is the kernel's _IOC(dir, type, nr, size) for the generic encoding
// arm64 (and x86) use.
func ioc(dir, typ, nr, size uint) uint { return dir<<30 | size<<16 | typ<<8 | nr }

const (
	iocNone  = 0
	iocWrite = 1
	iocRead  = 2
)

// Every ioctl number is pinned to its literal value and to the _IOC
// encoding of the mirrored structure's size.
func TestIoctlNumbers(t *testing.T) {
	const kvmio = 0xAE
	for _, c := range []struct {
		name    string
		got     uint
		literal uint
		encoded uint
	}{
		{"KVM_GET_API_VERSION", KVM_GET_API_VERSION, 0xAE00, ioc(iocNone, kvmio, 0x00, 0)},
		{"KVM_CREATE_VM", KVM_CREATE_VM, 0xAE01, ioc(iocNone, kvmio, 0x01, 0)},
		{"KVM_CHECK_EXTENSION", KVM_CHECK_EXTENSION, 0xAE03, ioc(iocNone, kvmio, 0x03, 0)},
		{"KVM_GET_VCPU_MMAP_SIZE", KVM_GET_VCPU_MMAP_SIZE, 0xAE04, ioc(iocNone, kvmio, 0x04, 0)},
		{"KVM_CREATE_VCPU", KVM_CREATE_VCPU, 0xAE41, ioc(iocNone, kvmio, 0x41, 0)},
		{"KVM_SET_USER_MEMORY_REGION", KVM_SET_USER_MEMORY_REGION, 0x4020AE46, ioc(iocWrite, kvmio, 0x46, 32)},
		{"KVM_SET_GSI_ROUTING", KVM_SET_GSI_ROUTING, 0x4008AE6A, ioc(iocWrite, kvmio, 0x6A, IRQRoutingHeaderSize)},
		{"KVM_IRQFD", KVM_IRQFD, 0x4020AE76, ioc(iocWrite, kvmio, 0x76, 32)},
		{"KVM_RUN", KVM_RUN, 0xAE80, ioc(iocNone, kvmio, 0x80, 0)},
		{"KVM_SIGNAL_MSI", KVM_SIGNAL_MSI, 0x4020AEA5, ioc(iocWrite, kvmio, 0xA5, 32)},
		{"KVM_GET_ONE_REG", KVM_GET_ONE_REG, 0x4010AEAB, ioc(iocWrite, kvmio, 0xAB, 16)},
		{"KVM_SET_ONE_REG", KVM_SET_ONE_REG, 0x4010AEAC, ioc(iocWrite, kvmio, 0xAC, 16)},
		{"KVM_ARM_VCPU_INIT", KVM_ARM_VCPU_INIT, 0x4020AEAE, ioc(iocWrite, kvmio, 0xAE, 32)},
		{"KVM_ARM_PREFERRED_TARGET", KVM_ARM_PREFERRED_TARGET, 0x8020AEAF, ioc(iocRead, kvmio, 0xAF, 32)},
		{"KVM_CREATE_DEVICE", KVM_CREATE_DEVICE, 0xC00CAEE0, ioc(iocRead|iocWrite, kvmio, 0xE0, 12)},
		{"KVM_SET_DEVICE_ATTR", KVM_SET_DEVICE_ATTR, 0x4018AEE1, ioc(iocWrite, kvmio, 0xE1, 24)},
		{"KVM_GET_DEVICE_ATTR", KVM_GET_DEVICE_ATTR, 0x4018AEE2, ioc(iocWrite, kvmio, 0xE2, 24)},
		{"KVM_HAS_DEVICE_ATTR", KVM_HAS_DEVICE_ATTR, 0x4018AEE3, ioc(iocWrite, kvmio, 0xE3, 24)},
	} {
		if c.got != c.literal || c.got != c.encoded {
			t.Errorf("%s = %#x, want %#x (encoding %#x)", c.name, c.got, c.literal, c.encoded)
		}
	}
}

func TestConstants(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"KVM_CAP_MSI_DEVID", KVM_CAP_MSI_DEVID, 131},
		{"KVM_CAP_SIGNAL_MSI", KVM_CAP_SIGNAL_MSI, 77},
		{"KVM_CAP_IRQFD", KVM_CAP_IRQFD, 32},
		{"KVM_CAP_IRQ_ROUTING", KVM_CAP_IRQ_ROUTING, 25},
		{"KVM_DEV_TYPE_ARM_VGIC_V3", KVM_DEV_TYPE_ARM_VGIC_V3, 7},
		{"KVM_DEV_TYPE_ARM_VGIC_ITS", KVM_DEV_TYPE_ARM_VGIC_ITS, 8},
		{"KVM_DEV_ARM_VGIC_GRP_REDIST_REGS", KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, 5},
		{"KVM_DEV_ARM_VGIC_GRP_ITS_REGS", KVM_DEV_ARM_VGIC_GRP_ITS_REGS, 8},
		{"KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES", KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, 3},
		{"KVM_DEV_ARM_ITS_CTRL_RESET", KVM_DEV_ARM_ITS_CTRL_RESET, 4},
		{"KVM_VGIC_ITS_ADDR_TYPE", KVM_VGIC_ITS_ADDR_TYPE, 4},
		{"KVM_IRQ_ROUTING_MSI", KVM_IRQ_ROUTING_MSI, 2},
		{"KVM_MSI_VALID_DEVID", KVM_MSI_VALID_DEVID, 1},
		{"KVM_EXIT_MMIO", KVM_EXIT_MMIO, 6},
		{"CoreRegX(0)", CoreRegX(0), 0x6030000000100000},
		{"CoreRegX(1)", CoreRegX(1), 0x6030000000100002},
		{"CoreRegPC", CoreRegPC, 0x6030000000100040},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

func TestEncodeRouting(t *testing.T) {
	b := EncodeRouting([]IRQRoutingEntry{{
		GSI: 5, Type: KVM_IRQ_ROUTING_MSI, Flags: KVM_MSI_VALID_DEVID,
		MSI: IRQRoutingMSI{AddressLo: 0x08090040, Data: 7, DevID: 0x10},
	}})
	want := "01000000" + "00000000" + // nr = 1, flags
		"05000000" + "02000000" + "01000000" + "00000000" + // gsi, type, flags, pad
		"40000908" + "00000000" + "07000000" + "10000000" + // address_lo, address_hi, data, devid
		"00000000000000000000000000000000"
	if got := hex.EncodeToString(b); got != want {
		t.Errorf("EncodeRouting:\n got %s\nwant %s", got, want)
	}
}
