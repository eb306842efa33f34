package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// cpioEntry is one entry as read back by readNewc.
type cpioEntry struct {
	name         string
	mode         uint32
	nlink        uint32
	mtime        uint32
	rmajor       uint32
	rminor       uint32
	data         string
	ino          uint32
	uid, gid     uint32
	check        uint32
	devmaj, devm uint32
}

// readNewc is an independent newc reader: it parses the fixed-width header,
// checks the magic and the 4-byte alignment of names and data, and stops at
// the trailer, which it requires.
func readNewc(b []byte) ([]cpioEntry, error) {
	var out []cpioEntry
	off := 0
	for {
		if off%4 != 0 {
			return nil, fmt.Errorf("entry at %d is not 4-byte aligned", off)
		}
		if len(b)-off < 110 {
			return nil, fmt.Errorf("truncated header at %d", off)
		}
		h := string(b[off : off+110])
		if h[:6] != "070701" {
			return nil, fmt.Errorf("bad magic %q at %d", h[:6], off)
		}
		var f [13]uint32
		for i := range f {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				return nil, fmt.Errorf("field %d at %d: %w", i, off, err)
			}
			f[i] = uint32(v)
		}
		namesize, size := int(f[11]), int(f[6])
		off += 110
		if namesize < 1 || off+namesize > len(b) || b[off+namesize-1] != 0 {
			return nil, fmt.Errorf("bad name of size %d at %d", namesize, off)
		}
		name := string(b[off : off+namesize-1])
		off += namesize
		for ; off%4 != 0; off++ {
			if b[off] != 0 {
				return nil, fmt.Errorf("non-zero name padding at %d", off)
			}
		}
		if name == cpioTrailer {
			if off != len(b) {
				return nil, fmt.Errorf("%d bytes after the trailer", len(b)-off)
			}
			return out, nil
		}
		if off+size > len(b) {
			return nil, fmt.Errorf("truncated data of %s", name)
		}
		data := string(b[off : off+size])
		off += size
		for ; off%4 != 0; off++ {
			if off >= len(b) || b[off] != 0 {
				return nil, fmt.Errorf("bad data padding at %d", off)
			}
		}
		out = append(out, cpioEntry{name: name, ino: f[0], mode: f[1], uid: f[2], gid: f[3], nlink: f[4],
			mtime: f[5], devmaj: f[7], devm: f[8], rmajor: f[9], rminor: f[10], check: f[12], data: data})
	}
}

func TestNewcRoundTrip(t *testing.T) {
	// Names of 1..5 bytes and data of 0..5 bytes cover every padding case.
	type op struct {
		kind   string // dir, file, symlink, chardev
		name   string
		perm   uint32
		data   string
		mtime  int64
		rmaj   uint32
		rmin   uint32
		wantMo uint32
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"empty archive", nil},
		{"padding cases", []op{
			{kind: "dir", name: "a", perm: 0o755, mtime: 7, wantMo: 0o040755},
			{kind: "file", name: "a/b", perm: 0o644, data: "", wantMo: 0o100644},
			{kind: "file", name: "a/bc", perm: 0o600, data: "x", wantMo: 0o100600},
			{kind: "file", name: "a/bcd", perm: 0o755, data: "xy", wantMo: 0o100755},
			{kind: "file", name: "a/bcde", perm: 0o644, data: "xyz", wantMo: 0o100644},
			{kind: "file", name: "a/bcdef", perm: 0o644, data: "wxyz", mtime: 1700000000, wantMo: 0o100644},
			{kind: "file", name: "a/g", perm: 0o644, data: "vwxyz", wantMo: 0o100644},
		}},
		{"special entries", []op{
			{kind: "dir", name: "dev", perm: 0o755, wantMo: 0o040755},
			{kind: "chardev", name: "dev/console", perm: 0o600, rmaj: 5, rmin: 1, wantMo: 0o020600},
			{kind: "symlink", name: "link", data: "dev/console", wantMo: 0o120777},
			{kind: "file", name: "big", perm: 0o644, data: strings.Repeat("0123456789", 10000), wantMo: 0o100644},
		}},
		{"type bits in perm are ignored", []op{
			{kind: "file", name: "f", perm: 0o040644, data: "z", wantMo: 0o100644},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			cw := newNewcWriter(&buf)
			var want []cpioEntry
			for i, o := range tt.ops {
				var err error
				nlink := uint32(1)
				switch o.kind {
				case "dir":
					err = cw.Dir(o.name, o.perm, o.mtime)
					nlink = 2
				case "file":
					err = cw.File(o.name, o.perm, o.mtime, int64(len(o.data)), strings.NewReader(o.data))
				case "symlink":
					err = cw.Symlink(o.name, o.data, o.mtime)
				case "chardev":
					err = cw.CharDev(o.name, o.perm, o.rmaj, o.rmin)
				}
				if err != nil {
					t.Fatalf("%s %s: %v", o.kind, o.name, err)
				}
				want = append(want, cpioEntry{name: o.name, ino: uint32(i + 1), mode: o.wantMo, nlink: nlink,
					mtime: uint32(o.mtime), rmajor: o.rmaj, rminor: o.rmin, data: o.data})
			}
			if err := cw.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := readNewc(buf.Bytes())
			if err != nil {
				t.Fatalf("reading back: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestNewcRejects(t *testing.T) {
	tests := []struct {
		name    string
		write   func(cw *newcWriter) error
		wantErr string
	}{
		{"absolute name", func(cw *newcWriter) error { return cw.Dir("/dev", 0o755, 0) }, "must be relative"},
		{"dot-dot", func(cw *newcWriter) error { return cw.Dir("../x", 0o755, 0) }, "escapes"},
		{"unclean", func(cw *newcWriter) error { return cw.Dir("a//b", 0o755, 0) }, "not clean"},
		{"empty", func(cw *newcWriter) error { return cw.Dir("", 0o755, 0) }, "empty"},
		{"trailer name", func(cw *newcWriter) error { return cw.Dir(cpioTrailer, 0o755, 0) }, "reserved"},
		{"short data", func(cw *newcWriter) error {
			return cw.File("f", 0o644, 0, 10, strings.NewReader("abc"))
		}, "got 3 bytes, want 10"},
		{"too big", func(cw *newcWriter) error {
			return cw.File("f", 0o644, 0, 1<<32, strings.NewReader(""))
		}, "does not fit"},
		{"sticky error", func(cw *newcWriter) error {
			_ = cw.Dir("/x", 0o755, 0)
			return cw.Dir("fine", 0o755, 0)
		}, "must be relative"},
		{"write after close", func(cw *newcWriter) error {
			if err := cw.Close(); err != nil {
				return err
			}
			return cw.Dir("late", 0o755, 0)
		}, "after Close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cw := newNewcWriter(io.Discard)
			err := tt.write(cw)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestNewcReportsWriteError(t *testing.T) {
	cw := newNewcWriter(failingWriter{})
	// The bufio.Writer absorbs small writes; the error surfaces by Close.
	_ = cw.File("f", 0o644, 0, 100, strings.NewReader(strings.Repeat("x", 100)))
	if err := cw.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Close = %v, want the writer's error", err)
	}
}

// TestNewcAgainstCpioTool checks the archive with GNU cpio, an independent
// implementation, when it is installed.
func TestNewcAgainstCpioTool(t *testing.T) {
	cpio, err := exec.LookPath("cpio")
	if err != nil {
		t.Skip("cpio is not installed (apt-get install cpio); TestNewcRoundTrip covers the format")
	}
	var buf bytes.Buffer
	cw := newNewcWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cw.Dir("dev", 0o755, 0))
	must(cw.CharDev("dev/console", 0o600, 5, 1))
	must(cw.File("init", 0o755, 0, 5, strings.NewReader("hello")))
	must(cw.Symlink("sh", "init", 0))
	must(cw.Close())

	cmd := exec.Command(cpio, "-t", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v\n%s", err, out)
	}
	if got, want := strings.Fields(string(out)), []string{"dev", "dev/console", "init", "sh"}; !reflect.DeepEqual(got, want) {
		t.Errorf("cpio -t lists %q, want %q", got, want)
	}
}
