package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// newcEntry is one entry read back from a newc archive.
type newcEntry struct {
	name         string
	mode         uint32
	rmajor, rmin uint32
	data         []byte
}

// readNewc parses a newc archive up to its trailer, checking the magic and
// the 4-byte alignment of every header and every file's data.
func readNewc(t *testing.T, b []byte) []newcEntry {
	t.Helper()
	var entries []newcEntry
	off := 0
	align := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off%4 != 0 || off+newcHdrBytes > len(b) {
			t.Fatalf("header at %d: misaligned or past the end (%d bytes)", off, len(b))
		}
		h := b[off : off+newcHdrBytes]
		if string(h[:6]) != newcMagic {
			t.Fatalf("header at %d: magic %q", off, h[:6])
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(string(h[6+8*i:6+8*i+8]), 16, 32)
			if err != nil {
				t.Fatalf("header at %d, field %d: %v", off, i, err)
			}
			return uint32(v)
		}
		nameLen, size := int(field(11)), int(field(6))
		nameEnd := off + newcHdrBytes + nameLen
		name := string(b[off+newcHdrBytes : nameEnd-1])
		dataStart := align(nameEnd)
		if name == cpioTrailer {
			if align(nameEnd) != len(b) {
				t.Errorf("%d bytes after the trailer", len(b)-align(nameEnd))
			}
			return entries
		}
		entries = append(entries, newcEntry{name, field(1), field(9), field(10), b[dataStart : dataStart+size]})
		off = align(dataStart + size)
	}
}

func TestWriteInitramfs(t *testing.T) {
	dir := t.TempDir()
	initBin := filepath.Join(dir, "tracecapture")
	mod := filepath.Join(dir, "nvme-core.ko")
	if err := os.WriteFile(initBin, []byte("\x7fELF init"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mod, []byte("module!"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeInitramfs(&buf, initBin, []string{mod, mod}); err != nil {
		t.Fatal(err)
	}
	got := readNewc(t, buf.Bytes())
	want := []newcEntry{
		{name: "dev", mode: modeDir | 0o755},
		{name: "proc", mode: modeDir | 0o755},
		{name: "sys", mode: modeDir | 0o755},
		{name: "tmp", mode: modeDir | 0o755},
		{name: "modules", mode: modeDir | 0o755},
		{name: "dev/console", mode: modeCharDev | 0o600, rmajor: 5, rmin: 1},
		{name: "init", mode: modeRegular | 0o755, data: []byte("\x7fELF init")},
		{name: "modules/00-nvme-core.ko", mode: modeRegular | 0o644, data: []byte("module!")},
		{name: "modules/01-nvme-core.ko", mode: modeRegular | 0o644, data: []byte("module!")},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.mode != w.mode || g.rmajor != w.rmajor || g.rmin != w.rmin || !bytes.Equal(g.data, w.data) {
			t.Errorf("entry %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestInitramfsRefusesCompressedModules(t *testing.T) {
	out := filepath.Join(t.TempDir(), "initrd")
	var stderr bytes.Buffer
	if status := run([]string{"initramfs", "-o", out, "-init", "/bin/true", "virtio_net.ko.xz"}, &stderr, &stderr); status != 1 {
		t.Errorf("status %d, want 1; stderr: %s", status, &stderr)
	}
	if !bytes.Contains(stderr.Bytes(), []byte("decompress it on the host")) {
		t.Errorf("stderr does not say what to do: %s", &stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("%s written despite the error", out)
	}
}
