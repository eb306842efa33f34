package kvmsys

import "fmt"

// Error is a failed system call: which one, on what, and the errno. It
// unwraps to the errno and, where one applies, to the [model] sentinel
// with the same meaning (EBUSY → ErrBusy, EINVAL → ErrInvalidArgument,
// ENXIO/ENODEV/ENOTTY/EOPNOTSUPP → ErrNotSupported).
type Error struct {
	Op    string // the ioctl or system call, kernel spelling
	What  string // what it was applied to, for people; may be empty
	Errno error  // a unix.Errno (a syscall.Errno)
}

func (e *Error) Error() string {
	if e.What != "" {
		return fmt.Sprintf("%s (%s): %v", e.Op, e.What, e.Errno)
	}
	return fmt.Sprintf("%s: %v", e.Op, e.Errno)
}

func (e *Error) Unwrap() []error {
	if s := sentinelOf(e.Errno); s != nil {
		return []error{e.Errno, s}
	}
	return []error{e.Errno}
}
