package model

import (
	"encoding/binary"
	"fmt"
)

// Memory is guest physical memory as the ITS, the redistributors and guest
// software see it. Accesses are little-endian byte copies; a range that is
// not wholly inside guest memory fails with a [*MemoryError] and changes
// nothing.
//
// # Notes
//
// Implementations do no locking: callers that share one Memory between
// goroutines synchronise themselves, as the simulator does.
type Memory interface {
	// ReadAt copies len(p) bytes at addr into p.
	ReadAt(p []byte, addr GPA) error
	// WriteAt copies p into guest memory at addr.
	WriteAt(p []byte, addr GPA) error
}

// ReadUint64 reads a little-endian doubleword at addr.
func ReadUint64(m Memory, addr GPA) (uint64, error) {
	if r, ok := m.(*RAM); ok { // no copy, no buffer escaping through the interface
		s, err := r.Slice(addr, 8)
		if err != nil {
			return 0, &MemoryError{Addr: addr, Len: 8, Op: "read"}
		}
		return binary.LittleEndian.Uint64(s), nil
	}
	var b [8]byte
	if err := m.ReadAt(b[:], addr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// WriteUint64 writes a little-endian doubleword at addr.
func WriteUint64(m Memory, addr GPA, v uint64) error {
	if r, ok := m.(*RAM); ok {
		s, err := r.Slice(addr, 8)
		if err != nil {
			return &MemoryError{Addr: addr, Len: 8, Op: "write"}
		}
		binary.LittleEndian.PutUint64(s, v)
		return nil
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	return m.WriteAt(b[:], addr)
}

// RAM is one contiguous range of guest physical memory backed by a byte
// slice: a Go slice in the simulator, an mmap'd memslot in the kvm backend.
type RAM struct {
	base GPA
	buf  []byte
}

// NewRAM returns size bytes of zeroed guest memory at base.
func NewRAM(base GPA, size uint64) (*RAM, error) {
	return RAMOver(base, make([]byte, size))
}

// RAMOver returns guest memory at base backed by buf, which the caller
// keeps alive (for example an mmap'd memslot).
func RAMOver(base GPA, buf []byte) (*RAM, error) {
	if _, err := base.Add(uint64(len(buf))); err != nil {
		return nil, err
	}
	return &RAM{base: base, buf: buf}, nil
}

// Base returns the guest physical address of the first byte.
func (r *RAM) Base() GPA { return r.base }

// Size returns the size in bytes.
func (r *RAM) Size() uint64 { return uint64(len(r.buf)) }

// Slice returns the bytes [addr, addr+n) themselves, not a copy, for code
// that accesses guest memory on a hot path.
func (r *RAM) Slice(addr GPA, n int) ([]byte, error) {
	if addr < r.base || n < 0 || uint64(addr-r.base) > uint64(len(r.buf)) || uint64(n) > uint64(len(r.buf))-uint64(addr-r.base) {
		return nil, &MemoryError{Addr: addr, Len: n, Op: "access"}
	}
	off := uint64(addr - r.base)
	return r.buf[off : off+uint64(n) : off+uint64(n)], nil
}

func (r *RAM) ReadAt(p []byte, addr GPA) error {
	s, err := r.Slice(addr, len(p))
	if err != nil {
		return &MemoryError{Addr: addr, Len: len(p), Op: "read"}
	}
	copy(p, s)
	return nil
}

func (r *RAM) WriteAt(p []byte, addr GPA) error {
	s, err := r.Slice(addr, len(p))
	if err != nil {
		return &MemoryError{Addr: addr, Len: len(p), Op: "write"}
	}
	copy(s, p)
	return nil
}

// Zero clears n bytes at addr.
func Zero(m Memory, addr GPA, n int) error {
	if r, ok := m.(*RAM); ok {
		s, err := r.Slice(addr, n)
		if err != nil {
			return &MemoryError{Addr: addr, Len: n, Op: "write"}
		}
		clear(s)
		return nil
	}
	return m.WriteAt(make([]byte, n), addr)
}

func (r *RAM) String() string {
	return fmt.Sprintf("RAM [%v, %#x)", r.base, uint64(r.base)+uint64(len(r.buf)))
}
