package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// File-type bits of the cpio mode field (the st_mode values of Linux, which
// the newc format stores verbatim). Kept here rather than taken from syscall
// so that qemuexec builds on every host OS.
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeSymlink  = 0o120000
	modeCharDev  = 0o020000
)

// cpioTrailer is the name of the entry that ends a cpio archive.
const cpioTrailer = "TRAILER!!!"

// newcWriter writes a cpio archive in the "newc" (SVR4, no CRC) format that
// the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst).
//
// Every entry is owned by root, has its own inode number and a link count of 1
// (2 for directories), so the kernel never treats two entries as hard links.
// Names are relative ("dev/console"), slash-separated and clean; parents must be
// written before their children, which newcWriter does not check.
//
// # Notes
//
// The first error is sticky: every later call returns it, and Close does not
// write the trailer.
type newcWriter struct {
	w       *bufio.Writer
	offset  int64 // bytes written so far, for 4-byte alignment
	nextIno uint32
	err     error
	closed  bool
}

func newNewcWriter(w io.Writer) *newcWriter {
	return &newcWriter{w: bufio.NewWriterSize(w, 1<<16), nextIno: 1}
}

// Dir writes a directory entry. perm holds the permission bits only.
func (cw *newcWriter) Dir(name string, perm uint32, mtime int64) error {
	return cw.entry(name, modeDir|perm&0o7777, 2, mtime, nil, 0, 0, 0)
}

// File writes a regular file of exactly size bytes read from r.
func (cw *newcWriter) File(name string, perm uint32, mtime int64, size int64, r io.Reader) error {
	return cw.entry(name, modeRegular|perm&0o7777, 1, mtime, r, size, 0, 0)
}

// Symlink writes a symbolic link to target.
func (cw *newcWriter) Symlink(name, target string, mtime int64) error {
	return cw.entry(name, modeSymlink|0o777, 1, mtime, strings.NewReader(target), int64(len(target)), 0, 0)
}

// CharDev writes a character device node; the kernel creates it with mknod
// while unpacking.
func (cw *newcWriter) CharDev(name string, perm uint32, major, minor uint32) error {
	return cw.entry(name, modeCharDev|perm&0o7777, 1, 0, nil, 0, major, minor)
}

// Close writes the trailer and flushes. It does not close the underlying writer.
func (cw *newcWriter) Close() error {
	if cw.err != nil {
		return cw.err
	}
	if cw.closed {
		return errors.New("cpio: writer already closed")
	}
	cw.closed = true
	if err := cw.header(cpioTrailer, 0, 1, 0, 0, 0, 0, 0); err != nil {
		return err
	}
	if err := cw.w.Flush(); err != nil {
		cw.err = err
		return err
	}
	return nil
}

func (cw *newcWriter) entry(name string, mode, nlink uint32, mtime int64, data io.Reader, size int64, rmajor, rminor uint32) error {
	if cw.err != nil {
		return cw.err
	}
	if cw.closed {
		return errors.New("cpio: write after Close")
	}
	if err := checkArchiveName(name); err != nil {
		cw.err = err
		return err
	}
	if size < 0 || size > 0xFFFFFFFF {
		cw.err = fmt.Errorf("cpio: %s: size %d does not fit the newc format (max 4 GiB - 1)", name, size)
		return cw.err
	}
	if err := cw.header(name, mode, nlink, mtime, size, rmajor, rminor, cw.nextIno); err != nil {
		return err
	}
	cw.nextIno++
	if size > 0 {
		n, err := io.Copy(cw.w, io.LimitReader(data, size))
		cw.offset += n
		if err == nil && n != size {
			err = fmt.Errorf("cpio: %s: got %d bytes, want %d (file changed while archiving?)", name, n, size)
		}
		if err != nil {
			cw.err = err
			return err
		}
	}
	return cw.pad()
}

// header writes the 110-byte header and the NUL-terminated name, padded to 4 bytes.
func (cw *newcWriter) header(name string, mode, nlink uint32, mtime, size int64, rmajor, rminor, ino uint32) error {
	if mtime < 0 || mtime > 0xFFFFFFFF {
		mtime = 0
	}
	fields := []uint32{
		ino, mode, 0 /* uid */, 0 /* gid */, nlink, uint32(mtime), uint32(size),
		0 /* devmajor */, 0 /* devminor */, rmajor, rminor,
		uint32(len(name) + 1), 0, /* check: unused by newc */
	}
	var b strings.Builder
	b.Grow(110 + len(name) + 4)
	b.WriteString("070701")
	for _, f := range fields {
		fmt.Fprintf(&b, "%08X", f)
	}
	b.WriteString(name)
	b.WriteByte(0)
	n, err := cw.w.WriteString(b.String())
	cw.offset += int64(n)
	if err != nil {
		cw.err = err
		return err
	}
	return cw.pad()
}

func (cw *newcWriter) pad() error {
	var zero [3]byte
	n, err := cw.w.Write(zero[:(4-cw.offset%4)%4])
	cw.offset += int64(n)
	if err != nil {
		cw.err = err
	}
	return err
}

// checkArchiveName refuses names the kernel would misplace: empty, absolute,
// unclean or escaping with "..", and the trailer's name.
func checkArchiveName(name string) error {
	switch {
	case name == "" || name == ".":
		return errors.New("cpio: empty entry name")
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("cpio: entry name %q must be relative", name)
	case path.Clean(name) != name:
		return fmt.Errorf("cpio: entry name %q is not clean (want %q)", name, path.Clean(name))
	case name == ".." || strings.HasPrefix(name, "../"):
		return fmt.Errorf("cpio: entry name %q escapes the archive root", name)
	case name == cpioTrailer:
		return fmt.Errorf("cpio: entry name %q is reserved for the trailer", name)
	}
	return nil
}
