// Package kvmsys is the only package of gicits that talks to the Linux
// kernel: it mirrors the KVM ABI structures the kvm backend needs, names the
// ioctl numbers and constants with the kernel's spelling, and wraps each
// ioctl shape in one small function whose errors wrap the errno (test them
// with [errors.Is]) and, where one applies, a [model] sentinel.
//
// It is also the only package that imports golang.org/x/sys/unix. The
// mirrors and numbers (abi.go) build everywhere so that their pin tests run
// on every platform; the system calls (sys_linux.go) build on Linux, and on
// other systems every function returns an error wrapping
// [model.ErrNotSupported] that names it.
//
// kvmsys owns file descriptors and mappings as values ([FD], [Mapping])
// that are closed exactly once. It knows nothing about GICs: the backend
// above it decides what to call and in which order.
package kvmsys
