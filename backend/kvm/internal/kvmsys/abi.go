package kvmsys

import "encoding/binary"

var le = binary.LittleEndian

// ioctl numbers (include/uapi/linux/kvm.h; arm64 uses the generic _IOC
// encoding). Sizes in the encodings are those of the mirrored structures
// below; abi_test.go pins both.
const (
	KVM_GET_API_VERSION        = 0xAE00
	KVM_CREATE_VM              = 0xAE01
	KVM_CHECK_EXTENSION        = 0xAE03
	KVM_GET_VCPU_MMAP_SIZE     = 0xAE04
	KVM_CREATE_VCPU            = 0xAE41
	KVM_SET_USER_MEMORY_REGION = 0x4020AE46 // _IOW(KVMIO, 0x46, struct kvm_userspace_memory_region)
	KVM_SET_GSI_ROUTING        = 0x4008AE6A // _IOW(KVMIO, 0x6a, struct kvm_irq_routing)
	KVM_IRQFD                  = 0x4020AE76 // _IOW(KVMIO, 0x76, struct kvm_irqfd)
	KVM_RUN                    = 0xAE80
	KVM_SIGNAL_MSI             = 0x4020AEA5 // _IOW(KVMIO, 0xa5, struct kvm_msi)
	KVM_GET_ONE_REG            = 0x4010AEAB // _IOW(KVMIO, 0xab, struct kvm_one_reg)
	KVM_SET_ONE_REG            = 0x4010AEAC // _IOW(KVMIO, 0xac, struct kvm_one_reg)
	KVM_ARM_VCPU_INIT          = 0x4020AEAE // _IOW(KVMIO, 0xae, struct kvm_vcpu_init)
	KVM_ARM_PREFERRED_TARGET   = 0x8020AEAF // _IOR(KVMIO, 0xaf, struct kvm_vcpu_init)
	KVM_CREATE_DEVICE          = 0xC00CAEE0 // _IOWR(KVMIO, 0xe0, struct kvm_create_device)
	KVM_SET_DEVICE_ATTR        = 0x4018AEE1 // _IOW(KVMIO, 0xe1, struct kvm_device_attr)
	KVM_GET_DEVICE_ATTR        = 0x4018AEE2 // _IOW(KVMIO, 0xe2, struct kvm_device_attr)
	KVM_HAS_DEVICE_ATTR        = 0x4018AEE3 // _IOW(KVMIO, 0xe3, struct kvm_device_attr)
)

// KVM_API_VERSION is the only API version there has ever been.
const KVM_API_VERSION = 12

// Capabilities (KVM_CHECK_EXTENSION).
const (
	KVM_CAP_IRQ_ROUTING = 25
	KVM_CAP_IRQFD       = 32
	KVM_CAP_SIGNAL_MSI  = 77
	KVM_CAP_DEVICE_CTRL = 89
	KVM_CAP_MSI_DEVID   = 131 // a VM capability: EINVAL on the /dev/kvm fd
)

// Device types (enum kvm_device_type).
const (
	KVM_DEV_TYPE_ARM_VGIC_V3  = 7
	KVM_DEV_TYPE_ARM_VGIC_ITS = 8
)

// Device attribute groups and attributes of the vGICv3 and ITS devices
// (arch/arm64/include/uapi/asm/kvm.h).
const (
	KVM_DEV_ARM_VGIC_GRP_ADDR        = 0
	KVM_DEV_ARM_VGIC_GRP_DIST_REGS   = 1
	KVM_DEV_ARM_VGIC_GRP_CTRL        = 4
	KVM_DEV_ARM_VGIC_GRP_REDIST_REGS = 5
	KVM_DEV_ARM_VGIC_GRP_ITS_REGS    = 8

	KVM_DEV_ARM_VGIC_CTRL_INIT           = 0
	KVM_DEV_ARM_ITS_SAVE_TABLES          = 1
	KVM_DEV_ARM_ITS_RESTORE_TABLES       = 2
	KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES = 3
	KVM_DEV_ARM_ITS_CTRL_RESET           = 4

	KVM_VGIC_V3_ADDR_TYPE_DIST   = 2
	KVM_VGIC_V3_ADDR_TYPE_REDIST = 3
	KVM_VGIC_ITS_ADDR_TYPE       = 4

	// KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT: GRP_REDIST_REGS attributes carry the
	// vCPU's MPIDR affinity above the register offset.
	KVM_DEV_ARM_VGIC_V3_MPIDR_SHIFT = 32
)

// Routing and MSI flags.
const (
	KVM_IRQ_ROUTING_MSI     = 2
	KVM_MSI_VALID_DEVID     = 1 << 0
	KVM_IRQFD_FLAG_DEASSIGN = 1 << 0
)

// vCPU features (kvm_vcpu_init.features[0] bits).
const (
	KVM_ARM_VCPU_POWER_OFF = 0
	KVM_ARM_VCPU_PSCI_0_2  = 2
)

// Exit reasons (kvm_run.exit_reason).
const (
	KVM_EXIT_UNKNOWN        = 0
	KVM_EXIT_MMIO           = 6
	KVM_EXIT_FAIL_ENTRY     = 9
	KVM_EXIT_INTR           = 10
	KVM_EXIT_INTERNAL_ERROR = 17
	KVM_EXIT_SYSTEM_EVENT   = 24
)

// Byte offsets into struct kvm_run (the mmap'd vCPU run structure).
const (
	RunImmediateExit = 1  // __u8 immediate_exit
	RunExitReason    = 8  // __u32 exit_reason
	RunMMIOPhysAddr  = 32 // mmio.phys_addr (__u64)
	RunMMIOData      = 40 // mmio.data[8]
	RunMMIOLen       = 48 // mmio.len (__u32)
	RunMMIOIsWrite   = 52 // mmio.is_write (__u8)
)

// Register IDs for KVM_SET_ONE_REG: KVM_REG_ARM64 | KVM_REG_SIZE_U64 |
// KVM_REG_ARM_CORE | (offset of the field in struct kvm_regs) / 4.
const (
	KVM_REG_ARM64    = 0x6000000000000000
	KVM_REG_SIZE_U64 = 0x0030000000000000
	KVM_REG_ARM_CORE = 0x0010 << 16
)

// CoreRegX returns the KVM_SET_ONE_REG id of general-purpose register xn
// (n = 0..30): regs.regs[n] of struct kvm_regs.
func CoreRegX(n int) uint64 {
	return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | uint64(n*8/4)
}

// CoreRegPC is the KVM_SET_ONE_REG id of the program counter, regs.pc
// (byte offset 256 of struct kvm_regs).
const CoreRegPC = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | 256/4

// UserspaceMemoryRegion mirrors struct kvm_userspace_memory_region.
type UserspaceMemoryRegion struct {
	Slot          uint32
	Flags         uint32
	GuestPhysAddr uint64
	MemorySize    uint64
	UserspaceAddr uint64
}

// CreateDevice mirrors struct kvm_create_device.
type CreateDevice struct {
	Type  uint32
	FD    uint32 // out
	Flags uint32
}

// DeviceAttr mirrors struct kvm_device_attr. Addr is the user address of
// the value.
type DeviceAttr struct {
	Flags uint32
	Group uint32
	Attr  uint64
	Addr  uint64
}

// MSI mirrors struct kvm_msi.
type MSI struct {
	AddressLo uint32
	AddressHi uint32
	Data      uint32
	Flags     uint32
	DevID     uint32
	Pad       [12]uint8
}

// IRQRoutingMSI mirrors struct kvm_irq_routing_msi.
type IRQRoutingMSI struct {
	AddressLo uint32
	AddressHi uint32
	Data      uint32
	DevID     uint32
}

// IRQRoutingEntry mirrors struct kvm_irq_routing_entry with its union
// (32 bytes) holding the MSI member.
type IRQRoutingEntry struct {
	GSI   uint32
	Type  uint32
	Flags uint32
	Pad   uint32
	MSI   IRQRoutingMSI
	Pad2  [16]uint8 // rest of the union
}

// IRQRoutingHeaderSize is sizeof(struct kvm_irq_routing) without its
// flexible array of entries: __u32 nr, __u32 flags.
const IRQRoutingHeaderSize = 8

// IRQFD mirrors struct kvm_irqfd.
type IRQFD struct {
	FD         uint32
	GSI        uint32
	Flags      uint32
	ResampleFD uint32
	Pad        [16]uint8
}

// VCPUInit mirrors struct kvm_vcpu_init.
type VCPUInit struct {
	Target   uint32
	Features [7]uint32
}

// OneReg mirrors struct kvm_one_reg. Addr is the user address of the value.
type OneReg struct {
	ID   uint64
	Addr uint64
}

// EncodeRouting returns the argument of KVM_SET_GSI_ROUTING: a struct
// kvm_irq_routing header (nr, flags = 0) followed by the entries, as the
// kernel reads them (little-endian, no padding).
func EncodeRouting(entries []IRQRoutingEntry) []byte {
	const entrySize = 48
	b := make([]byte, IRQRoutingHeaderSize+entrySize*len(entries))
	le.PutUint32(b[0:], uint32(len(entries)))
	for i, e := range entries {
		p := b[IRQRoutingHeaderSize+entrySize*i:]
		le.PutUint32(p[0:], e.GSI)
		le.PutUint32(p[4:], e.Type)
		le.PutUint32(p[8:], e.Flags)
		le.PutUint32(p[12:], e.Pad)
		le.PutUint32(p[16:], e.MSI.AddressLo)
		le.PutUint32(p[20:], e.MSI.AddressHi)
		le.PutUint32(p[24:], e.MSI.Data)
		le.PutUint32(p[28:], e.MSI.DevID)
	}
	return b
}
