//go:build linux && arm64

package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

// The guest's raw system calls: the three the syscall package has no
// function for. Each takes a pointer, hence this file.

// finitModule loads the kernel module open at fd with no parameters and no
// flags (finit_module(2)): the module must be uncompressed.
func finitModule(fd int) error {
	params := [1]byte{} // "": no module parameters
	_, _, errno := syscall.Syscall(syscall.SYS_FINIT_MODULE, uintptr(fd), uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return fmt.Errorf("finit_module: %w", errno)
	}
	return nil
}

// ifreqFlags mirrors struct ifreq (include/uapi/linux/if.h) read through
// its ifr_flags member: the interface name, then the union, whose largest
// member (struct ifmap) makes it 24 bytes on 64-bit Linux.
type ifreqFlags struct {
	name  [syscall.IFNAMSIZ]byte
	flags uint16
	_     [22]byte
}

// setInterfaceUp sets IFF_UP on the network interface name
// (SIOCGIFFLAGS, then SIOCSIFFLAGS, on a datagram socket).
func setInterfaceUp(name string) error {
	if len(name) >= syscall.IFNAMSIZ {
		return fmt.Errorf("interface name %q is longer than IFNAMSIZ-1", name)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket(AF_INET): %w", err)
	}
	defer syscall.Close(fd)
	var req ifreqFlags
	copy(req.name[:], name)
	if err := ifreqIoctl(fd, syscall.SIOCGIFFLAGS, &req); err != nil {
		return fmt.Errorf("SIOCGIFFLAGS %s: %w", name, err)
	}
	req.flags |= syscall.IFF_UP
	if err := ifreqIoctl(fd, syscall.SIOCSIFFLAGS, &req); err != nil {
		return fmt.Errorf("SIOCSIFFLAGS %s: %w", name, err)
	}
	return nil
}

func ifreqIoctl(fd int, request uintptr, req *ifreqFlags) error {
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), request, uintptr(unsafe.Pointer(req)))
	if errno != 0 {
		return errno
	}
	return nil
}

// cpuSetWords is the size of the CPU mask given to sched_setaffinity, in
// 64-bit words: 1024 CPUs, glibc's cpu_set_t.
const cpuSetWords = 16

// pinThread binds the calling thread to cpu (sched_setaffinity(2) with pid
// 0). The caller must have locked its goroutine to the thread
// (runtime.LockOSThread).
func pinThread(cpu int) error {
	if cpu < 0 || cpu >= cpuSetWords*64 {
		return fmt.Errorf("sched_setaffinity: CPU %d out of the mask's range", cpu)
	}
	var mask [cpuSetWords]uint64
	mask[cpu/64] = 1 << (cpu % 64)
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, 0, unsafe.Sizeof(mask), uintptr(unsafe.Pointer(&mask[0])))
	if errno != 0 {
		return fmt.Errorf("sched_setaffinity CPU %d: %w", cpu, errno)
	}
	return nil
}
