package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// runInitramfs is the initramfs subcommand: it writes the guest's initramfs.
func runInitramfs(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("initramfs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "the initramfs to write")
	initBin := fs.String("init", "", "the guest's /init: tracecapture built for linux/arm64")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if *out == "" || *initBin == "" {
		return usageError("need -o and -init")
	}
	for _, m := range fs.Args() {
		if !strings.HasSuffix(m, ".ko") {
			return fmt.Errorf("%s: not an uncompressed module (.ko): decompress it on the host first, the guest loads it with finit_module and no flags", m)
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := writeInitramfs(f, *initBin, fs.Args()); err != nil {
		f.Close()
		os.Remove(*out)
		return err
	}
	return f.Close()
}

// writeInitramfs writes the guest's initramfs to w: the directories /init
// needs, /dev/console (the kernel opens it for init's standard streams before
// devtmpfs is mounted), /init and the modules as /modules/NN-<name>.ko, NN
// their place in modules, so that name order is load order.
func writeInitramfs(w io.Writer, initBin string, modules []string) error {
	cw := &newcWriter{w: bufio.NewWriter(w)}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "modules"} {
		cw.entry(d, modeDir|0o755, 2, nil, 0, 0, 0)
	}
	cw.entry("dev/console", modeCharDev|0o600, 1, nil, 0, 5, 1)
	cw.file("init", 0o755, initBin)
	for i, m := range modules {
		cw.file(fmt.Sprintf("modules/%02d-%s", i, filepath.Base(m)), 0o644, m)
	}
	return cw.close()
}

// File-type bits of the newc mode field: Linux's st_mode values, which the
// format stores verbatim.
const (
	modeDir      = 0o040000
	modeRegular  = 0o100000
	modeCharDev  = 0o020000
	cpioTrailer  = "TRAILER!!!"
	newcMagic    = "070701"
	newcHdrBytes = 110
)

// newcWriter writes a cpio archive in the newc format the kernel unpacks as
// an initramfs (Documentation/driver-api/early-userspace/buffer-format.rst):
// a 110-byte ASCII header, the NUL-terminated name and the data, each padded
// to 4 bytes. Every entry is root's, with an inode number of its own.
//
// # Notes
//
// The first error is sticky: later calls do nothing, and close returns it.
// tools/qemuexec has a fuller writer of its own; tracecapture does not import
// it, as neither program imports the module's packages.
type newcWriter struct {
	w      *bufio.Writer
	offset int64
	ino    uint32
	err    error
}

// file writes the host file src as the regular file name.
func (cw *newcWriter) file(name string, perm uint32, src string) {
	if cw.err != nil {
		return
	}
	f, err := os.Open(src)
	if err != nil {
		cw.err = err
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		cw.err = err
		return
	}
	if !st.Mode().IsRegular() {
		cw.err = fmt.Errorf("%s: not a regular file", src)
		return
	}
	cw.entry(name, modeRegular|perm, 1, f, st.Size(), 0, 0)
}

// entry writes one entry: its header, and size bytes of data.
func (cw *newcWriter) entry(name string, mode, nlink uint32, data io.Reader, size int64, rmajor, rminor uint32) {
	if cw.err != nil {
		return
	}
	if size > 0xFFFFFFFF {
		cw.err = fmt.Errorf("cpio: %s: %d bytes do not fit the newc format", name, size)
		return
	}
	cw.ino++
	cw.header(name, mode, nlink, cw.ino, uint32(size), rmajor, rminor)
	if size > 0 && cw.err == nil {
		n, err := io.Copy(cw.w, io.LimitReader(data, size))
		cw.offset += n
		if err == nil && n != size {
			err = fmt.Errorf("cpio: %s: got %d bytes, want %d", name, n, size)
		}
		if err != nil {
			cw.err = err
			return
		}
	}
	cw.pad()
}

// header writes the header of an entry and its name.
func (cw *newcWriter) header(name string, mode, nlink, ino, size, rmajor, rminor uint32) {
	fields := [13]uint32{ino, mode, 0, 0, nlink, 0 /* mtime */, size, 0, 0, rmajor, rminor, uint32(len(name) + 1), 0}
	var b strings.Builder
	b.WriteString(newcMagic)
	for _, v := range fields {
		fmt.Fprintf(&b, "%08X", v)
	}
	b.WriteString(name)
	b.WriteByte(0)
	n, err := cw.w.WriteString(b.String())
	cw.offset += int64(n)
	if err != nil {
		cw.err = err
		return
	}
	cw.pad()
}

// pad writes NULs up to the next multiple of 4 bytes.
func (cw *newcWriter) pad() {
	if cw.err != nil {
		return
	}
	n, err := cw.w.Write(make([]byte, (4-cw.offset%4)%4))
	cw.offset += int64(n)
	cw.err = err
}

// close writes the trailer and flushes, and returns the first error.
func (cw *newcWriter) close() error {
	cw.header(cpioTrailer, 0, 1, 0, 0, 0, 0)
	if cw.err == nil {
		cw.err = cw.w.Flush()
	}
	return cw.err
}
