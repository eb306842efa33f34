//go:build linux

package kvmsys

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/gicits/gicits/model"
	"golang.org/x/sys/unix"
)

// Errnos the backend tests for, so that it need not import unix.
var (
	EBUSY  error = unix.EBUSY
	EINVAL error = unix.EINVAL
	EINTR  error = unix.EINTR
	ENXIO  error = unix.ENXIO
	ENODEV error = unix.ENODEV
	EEXIST error = unix.EEXIST
	EAGAIN error = unix.EAGAIN
	ENOENT error = unix.ENOENT
	EACCES error = unix.EACCES
	EPERM  error = unix.EPERM
)

func sentinelOf(errno error) error {
	switch errno {
	case unix.EBUSY:
		return model.ErrBusy
	case unix.EINVAL:
		return model.ErrInvalidArgument
	case unix.ENXIO, unix.ENODEV, unix.ENOTTY, unix.EOPNOTSUPP:
		return model.ErrNotSupported
	}
	return nil
}

func wrap(op, what string, err error) error {
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return &Error{Op: op, What: what, Errno: errno}
	}
	return fmt.Errorf("%s (%s): %w", op, what, err)
}

// FD is an owned file descriptor. Close releases it once; later calls
// return nil.
type FD struct {
	mu  sync.Mutex
	raw int
}

func newFD(raw int) *FD { return &FD{raw: raw} }

// Int returns the raw descriptor, or -1 after Close.
func (fd *FD) Int() int {
	if fd == nil {
		return -1
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	return fd.raw
}

// Close closes the descriptor. Closing a nil or closed FD returns nil.
func (fd *FD) Close() error {
	if fd == nil {
		return nil
	}
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if fd.raw < 0 {
		return nil
	}
	err := unix.Close(fd.raw)
	fd.raw = -1
	return wrap("close", "", err)
}

// DevKVM is the path of the KVM device.
const DevKVM = "/dev/kvm"

// ErrNoKVM and ErrKVMPermission are the two ways opening /dev/kvm fails
// that a user can fix; both wrap [model.ErrNotSupported].
var (
	ErrNoKVM         = fmt.Errorf("%s does not exist (a kernel with CONFIG_KVM on arm64, booted at EL2, is needed): %w", DevKVM, model.ErrNotSupported)
	ErrKVMPermission = fmt.Errorf("no permission to open %s read-write (run as root or join the kvm group): %w", DevKVM, model.ErrNotSupported)
)

// OpenKVM opens /dev/kvm and checks the API version.
func OpenKVM() (*FD, error) { return OpenKVMAt(DevKVM) }

// OpenKVMAt opens path as the KVM device and checks the API version: the
// same errors as [OpenKVM] ([ErrNoKVM], [ErrKVMPermission], and a file that
// is not KVM answering KVM_GET_API_VERSION with ENOTTY, which wraps
// [model.ErrNotSupported]). Tests point it at paths that do not exist or
// may not be opened.
func OpenKVMAt(path string) (*FD, error) {
	raw, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.ENXIO):
		return nil, fmt.Errorf("%w (open %s: %v)", ErrNoKVM, path, err)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return nil, fmt.Errorf("%w (open %s: %v)", ErrKVMPermission, path, err)
	case err != nil:
		return nil, wrap("open", path, err)
	}
	fd := newFD(raw)
	v, err := ioctlRet(raw, KVM_GET_API_VERSION, 0)
	if err != nil {
		fd.Close()
		return nil, wrap("KVM_GET_API_VERSION", path, err)
	}
	if v != KVM_API_VERSION {
		fd.Close()
		return nil, fmt.Errorf("%s: KVM API version %d, want %d: %w", path, v, KVM_API_VERSION, model.ErrNotSupported)
	}
	return fd, nil
}

// CheckExtension asks fd (/dev/kvm or a VM) about capability c.
func CheckExtension(fd *FD, c int) (int, error) {
	v, err := ioctlRet(fd.Int(), KVM_CHECK_EXTENSION, uintptr(c))
	return v, wrap("KVM_CHECK_EXTENSION", fmt.Sprint("cap ", c), err)
}

// CreateVM creates a VM with the default IPA size.
func CreateVM(kvm *FD) (*FD, error) {
	raw, err := ioctlRetRetry(kvm.Int(), KVM_CREATE_VM, 0)
	if err != nil {
		return nil, wrap("KVM_CREATE_VM", "", err)
	}
	return newFD(raw), nil
}

// VCPUMmapSize returns the size of the kvm_run mapping.
func VCPUMmapSize(kvm *FD) (int, error) {
	v, err := ioctlRet(kvm.Int(), KVM_GET_VCPU_MMAP_SIZE, 0)
	return v, wrap("KVM_GET_VCPU_MMAP_SIZE", "", err)
}

// CreateVCPU creates vCPU id.
func CreateVCPU(vm *FD, id int) (*FD, error) {
	raw, err := ioctlRet(vm.Int(), KVM_CREATE_VCPU, uintptr(id))
	if err != nil {
		return nil, wrap("KVM_CREATE_VCPU", fmt.Sprint("vcpu ", id), err)
	}
	return newFD(raw), nil
}

// Mapping is an owned memory mapping. Close unmaps it once.
type Mapping struct {
	mu sync.Mutex
	b  []byte
}

// Bytes returns the mapped bytes (nil after Close).
func (m *Mapping) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.b
}

// Close unmaps the memory. Closing a nil or closed Mapping returns nil.
func (m *Mapping) Close() error {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.b == nil {
		return nil
	}
	err := unix.Munmap(m.b)
	m.b = nil
	return wrap("munmap", "", err)
}

// MapAnonymous maps size bytes of zeroed, shared, anonymous memory: guest
// RAM.
func MapAnonymous(size int) (*Mapping, error) {
	b, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, wrap("mmap", fmt.Sprintf("%d bytes anonymous", size), err)
	}
	return &Mapping{b: b}, nil
}

// MapVCPU maps a vCPU's struct kvm_run.
func MapVCPU(vcpu *FD, size int) (*Mapping, error) {
	b, err := unix.Mmap(vcpu.Int(), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, wrap("mmap", "kvm_run", err)
	}
	return &Mapping{b: b}, nil
}

// NewEventfd returns a non-blocking, close-on-exec eventfd.
func NewEventfd() (*FD, error) {
	raw, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, wrap("eventfd", "", err)
	}
	return newFD(raw), nil
}

// SignalEventfd adds 1 to the eventfd's counter.
func SignalEventfd(fd *FD) error {
	var b [8]byte
	le.PutUint64(b[:], 1)
	for {
		_, err := unix.Write(fd.Int(), b[:])
		if err == unix.EINTR {
			continue
		}
		return wrap("write", "eventfd", err)
	}
}

// Gettid returns the calling thread's id.
func Gettid() int { return unix.Gettid() }

// Kick sends SIGURG to thread tid of this process: harmless to the Go
// runtime (it uses SIGURG for preemption), and it makes a KVM_RUN in that
// thread return EINTR.
func Kick(tid int) error {
	return wrap("tgkill", "SIGURG", unix.Tgkill(os.Getpid(), tid, unix.SIGURG))
}

// SetGSIRouting replaces the VM's GSI routing table.
func SetGSIRouting(vm *FD, entries []IRQRoutingEntry) error {
	b := EncodeRouting(entries)
	return wrap("KVM_SET_GSI_ROUTING", fmt.Sprint(len(entries), " routes"), ioctlBytes(vm.Int(), KVM_SET_GSI_ROUTING, b))
}
