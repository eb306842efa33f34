//go:build linux

package kvmsys

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ioctlRet issues an ioctl whose argument is a value and whose result is
// the return value.
func ioctlRet(fd int, req uint, arg uintptr) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), arg)
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

// ioctlRetRetry is ioctlRet retried on EINTR.
func ioctlRetRetry(fd int, req uint, arg uintptr) (int, error) {
	for {
		r, err := ioctlRet(fd, req, arg)
		if err != unix.EINTR {
			return r, err
		}
	}
}

func ioctlPtr(fd int, req uint, p unsafe.Pointer) (int, error) {
	r, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(p))
	if errno != 0 {
		return int(r), errno
	}
	return int(r), nil
}

func ioctlBytes(fd int, req uint, b []byte) error {
	_, err := ioctlPtr(fd, req, unsafe.Pointer(&b[0]))
	runtime.KeepAlive(b)
	return err
}

// SetUserMemoryRegion installs memslot r over the mapping m.
func SetUserMemoryRegion(vm *FD, slot uint32, gpa uint64, m *Mapping) error {
	b := m.Bytes()
	r := UserspaceMemoryRegion{Slot: slot, GuestPhysAddr: gpa, MemorySize: uint64(len(b)), UserspaceAddr: uint64(uintptr(unsafe.Pointer(&b[0])))}
	_, err := ioctlPtr(vm.Int(), KVM_SET_USER_MEMORY_REGION, unsafe.Pointer(&r))
	runtime.KeepAlive(b)
	return wrap("KVM_SET_USER_MEMORY_REGION", fmt.Sprintf("slot %d at %#x", slot, gpa), err)
}

// PreferredTarget returns the vCPU target KVM prefers on this host.
func PreferredTarget(vm *FD) (VCPUInit, error) {
	var init VCPUInit
	_, err := ioctlPtr(vm.Int(), KVM_ARM_PREFERRED_TARGET, unsafe.Pointer(&init))
	return init, wrap("KVM_ARM_PREFERRED_TARGET", "", err)
}

// VCPUInitialize issues KVM_ARM_VCPU_INIT.
func VCPUInitialize(vcpu *FD, init VCPUInit) error {
	_, err := ioctlPtr(vcpu.Int(), KVM_ARM_VCPU_INIT, unsafe.Pointer(&init))
	return wrap("KVM_ARM_VCPU_INIT", "", err)
}

// SetOneReg sets a 64-bit register of a vCPU.
func SetOneReg(vcpu *FD, id, v uint64) error {
	err := oneRegAt(vcpu.Int(), id, uintptr(unsafe.Pointer(&v)))
	return wrap("KVM_SET_ONE_REG", fmt.Sprintf("reg %#x", id), err)
}

// oneRegAt issues KVM_SET_ONE_REG for the value at addr. The kernel
// reaches the value through OneReg.Addr, a plain integer that neither the
// garbage collector nor a stack copy adjusts: //go:uintptrescapes makes
// the compiler put the value on the heap and keep it there for the call,
// so a stack growth on the way to the ioctl cannot move it.
//
//go:uintptrescapes
func oneRegAt(fd int, id uint64, addr uintptr) error {
	r := OneReg{ID: id, Addr: uint64(addr)}
	_, err := ioctlPtr(fd, KVM_SET_ONE_REG, unsafe.Pointer(&r))
	return err
}

// Run issues KVM_RUN once. EINTR comes back as an error wrapping EINTR.
func Run(vcpu *FD) error {
	_, err := ioctlRet(vcpu.Int(), KVM_RUN, 0)
	return wrap("KVM_RUN", "", err)
}

// CreateDeviceOf creates an in-kernel device of type typ.
func CreateDeviceOf(vm *FD, typ uint32) (*FD, error) {
	d := CreateDevice{Type: typ}
	if _, err := ioctlPtr(vm.Int(), KVM_CREATE_DEVICE, unsafe.Pointer(&d)); err != nil {
		return nil, wrap("KVM_CREATE_DEVICE", fmt.Sprint("type ", typ), err)
	}
	return newFD(int(d.FD)), nil
}

// attrErr wraps a device-attribute ioctl's error.
func attrErr(name string, group uint32, a uint64, err error) error {
	return wrap(name, fmt.Sprintf("group %d attr %#x", group, a), err)
}

// attrAt issues a device-attribute ioctl whose value is at addr (0 for
// none). Callers convert the value's address in the call itself. The kernel reaches the value through
// DeviceAttr.Addr, a plain integer that neither the garbage collector nor a
// stack copy adjusts: //go:uintptrescapes makes the compiler put the value
// addr points at on the heap and keep it there for the call. (A value left
// on the stack moved when the stack grew on the way to the ioctl, and the
// kernel wrote a read's result to the old stack: reads returned 0.)
//
//go:uintptrescapes
func attrAt(fd int, req uint, group uint32, a uint64, addr uintptr) error {
	da := DeviceAttr{Group: group, Attr: a, Addr: uint64(addr)}
	_, err := ioctlPtr(fd, req, unsafe.Pointer(&da))
	return err
}

// SetAttr64 and GetAttr64 access a device attribute whose value is a u64.
func SetAttr64(dev *FD, group uint32, a uint64, v uint64) error {
	err := attrAt(dev.Int(), KVM_SET_DEVICE_ATTR, group, a, uintptr(unsafe.Pointer(&v)))
	return attrErr("KVM_SET_DEVICE_ATTR", group, a, err)
}

func GetAttr64(dev *FD, group uint32, a uint64) (uint64, error) {
	var v uint64
	err := attrAt(dev.Int(), KVM_GET_DEVICE_ATTR, group, a, uintptr(unsafe.Pointer(&v)))
	return v, attrErr("KVM_GET_DEVICE_ATTR", group, a, err)
}

// SetAttr32 and GetAttr32 access a device attribute whose value is a u32.
func SetAttr32(dev *FD, group uint32, a uint64, v uint32) error {
	err := attrAt(dev.Int(), KVM_SET_DEVICE_ATTR, group, a, uintptr(unsafe.Pointer(&v)))
	return attrErr("KVM_SET_DEVICE_ATTR", group, a, err)
}

func GetAttr32(dev *FD, group uint32, a uint64) (uint32, error) {
	var v uint32
	err := attrAt(dev.Int(), KVM_GET_DEVICE_ATTR, group, a, uintptr(unsafe.Pointer(&v)))
	return v, attrErr("KVM_GET_DEVICE_ATTR", group, a, err)
}

// SetAttrCtrl sets an attribute that carries no value (GRP_CTRL actions).
func SetAttrCtrl(dev *FD, group uint32, a uint64) error {
	return attrErr("KVM_SET_DEVICE_ATTR", group, a, attrAt(dev.Int(), KVM_SET_DEVICE_ATTR, group, a, 0))
}

// HasAttr reports whether the device implements the attribute.
func HasAttr(dev *FD, group uint32, a uint64) bool {
	return attrAt(dev.Int(), KVM_HAS_DEVICE_ATTR, group, a, 0) == nil
}

// SignalMSI injects m: 1 delivered, 0 blocked.
func SignalMSI(vm *FD, m *MSI) (int, error) {
	r, err := ioctlPtr(vm.Int(), KVM_SIGNAL_MSI, unsafe.Pointer(m))
	return r, wrap("KVM_SIGNAL_MSI", "", err)
}

// SetIRQFD issues KVM_IRQFD (bind, or unbind with KVM_IRQFD_FLAG_DEASSIGN).
func SetIRQFD(vm *FD, f IRQFD) error {
	_, err := ioctlPtr(vm.Int(), KVM_IRQFD, unsafe.Pointer(&f))
	return wrap("KVM_IRQFD", fmt.Sprintf("gsi %d", f.GSI), err)
}
