package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// testTrace has what dumps reads among what it does not: QEMU 7.2's log
// lines, some with -msg timestamp=on's prefix; a GITS_CBASER written
// whole, then again in 32-bit halves; GICR_PROPBASER written on two
// redistributors, the later write placing the table.
const testTrace = `gicv3_its_read GICv3 ITS read: offset 0x0008 data 0x1f0001efb1 size 8
gicv3_its_write GICv3 ITS write: offset 0x80 data 0xb800000040030001 size 8
gicv3_its_write GICv3 ITS write: offset 0x100 data 0x107000000000200 size 8
gicv3_redist_write GICv3 redistributor 0x0 write: offset 0x70 data 0x4005070f size 8 secure 0
12@1700000000.000001:gicv3_its_write GICv3 ITS write: offset 0x80 data 0x40010000 size 4
12@1700000000.000002:gicv3_its_write GICv3 ITS write: offset 0x84 data 0xb8000000 size 4
gicv3_its_process_command GICv3 ITS: processing command at offset 0x0: 0x9
gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Size 0x4 ITT_addr 0x4020 V 1
gicv3_redist_write GICv3 redistributor 0x1 write: offset 0x70 data 0x4002078d size 8 secure 0
gicv3_redist_write GICv3 redistributor 0x0 write: offset 0x10080 data 0xffffffff size 4 secure 0
a line QEMU's log has that is no event
`

// The ranges testTrace places: the queue of its last GITS_CBASER (Size 0:
// one 4 KiB page at 0x40010000), the property table of its last
// GICR_PROPBASER (14 ID bits: 2^14 - 8192 bytes at 0x40020000).
var testRanges = []struct {
	suffix    string
	gpa, size uint64
}{
	{suffixQueue, 0x40010000, 4096},
	{suffixPropTable, 0x40020000, 8192},
}

func TestDumpRanges(t *testing.T) {
	tb, err := scanTrace(strings.NewReader(testTrace))
	if err != nil {
		t.Fatal(err)
	}
	ranges, notes := tb.dumpRanges()
	if len(notes) > 0 {
		t.Errorf("notes %q, want none", notes)
	}
	if len(ranges) != len(testRanges) {
		t.Fatalf("%d ranges, want %d", len(ranges), len(testRanges))
	}
	for i, w := range testRanges {
		if r := ranges[i]; r.suffix != w.suffix || r.gpa != w.gpa || r.size != w.size {
			t.Errorf("range %d: %s %d bytes at %#x, want %s %d bytes at %#x", i, r.suffix, r.size, r.gpa, w.suffix, w.size, w.gpa)
		}
	}
	if want := "(GITS_CBASER 0xb800000040010000, trace line 6)"; !strings.Contains(ranges[0].what, want) {
		t.Errorf("queue: %q, want it to say %q", ranges[0].what, want)
	}
	if want := "redistributor 0x1, trace line 9"; !strings.Contains(ranges[1].what, want) {
		t.Errorf("property table: %q, want it to say %q", ranges[1].what, want)
	}
}

func TestDumpRangesMissing(t *testing.T) {
	for _, tc := range []struct {
		name, trace, note string
		ranges            int
	}{
		{"no writes", "gicv3_its_read GICv3 ITS read: offset 0x0008 data 0x1 size 8\n", "no GITS_CBASER write", 0},
		{"queue not valid", "gicv3_its_write GICv3 ITS write: offset 0x80 data 0x40010000 size 8\n", "is not Valid", 0},
		{"too few ID bits", "gicv3_its_write GICv3 ITS write: offset 0x80 data 0x8000000040010000 size 8\n" +
			"gicv3_redist_write GICv3 redistributor 0x0 write: offset 0x70 data 0x4002070c size 8 secure 0\n", "13 ID bits", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := scanTrace(strings.NewReader(tc.trace))
			if err != nil {
				t.Fatal(err)
			}
			ranges, notes := tb.dumpRanges()
			if len(ranges) != tc.ranges || !strings.Contains(strings.Join(notes, "\n"), tc.note) {
				t.Errorf("%d ranges, notes %q; want %d and a note saying %q", len(ranges), notes, tc.ranges, tc.note)
			}
		})
	}
}

func TestScanTraceMalformed(t *testing.T) {
	_, err := scanTrace(strings.NewReader("gicv3_its_read GICv3 ITS read: offset 0x0 data 0x0 size 8\ngicv3_its_write GICv3 ITS write: offset 0x80 data 0x1\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2:") {
		t.Errorf("err = %v, want one naming line 2", err)
	}
}

// testRAM is RAM of size bytes whose every 8 bytes hold their own guest
// physical address, from base on.
func testRAM(base uint64, size int) []byte {
	ram := make([]byte, size)
	for off := 0; off < size; off += 8 {
		copy(ram[off:], strconv.AppendUint(nil, (base+uint64(off))&0xffffffff, 16))
	}
	return ram
}

func gunzip(t *testing.T, file string) []byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

// readSidecar reads a sidecar as replay.LoadMemory's callers do (the
// convention of the usage and testdata/qemutrace/README.md): each line
// FILE@GPA, FILE relative to the sidecar's directory; blank lines and
// lines starting with # are not dumps.
func readSidecar(t *testing.T, name string) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]uint64{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		at := strings.LastIndexByte(line, '@')
		gpa, err := strconv.ParseUint(line[at+1:], 0, 64)
		if at <= 0 || err != nil {
			t.Fatalf("%s: %q is not FILE@GPA", name, line)
		}
		specs[filepath.Join(filepath.Dir(name), line[:at])] = gpa
	}
	return specs
}

// TestDumpsCommand: the dumps subcommand, on a gzipped trace and a RAM
// dump, writes each range gzipped and the sidecar naming them, the same
// bytes each time.
func TestDumpsCommand(t *testing.T) {
	dir := t.TempDir()
	const base, size = 0x40000000, 1 << 20
	ram := testRAM(base, size)
	var zt bytes.Buffer
	zw := gzip.NewWriter(&zt)
	zw.Write([]byte(testTrace))
	zw.Close()
	for name, b := range map[string][]byte{"ram.bin": ram, "trace.log.gz": zt.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(out, "linux")
	args := []string{"dumps", "-trace", filepath.Join(dir, "trace.log.gz"), "-ram", filepath.Join(dir, "ram.bin"), "-o", prefix}
	var stdout, stderr strings.Builder
	if st := run(args, &stdout, &stderr); st != 0 {
		t.Fatalf("exit status %d: %s", st, stderr.String())
	}
	specs := readSidecar(t, prefix+suffixSidecar)
	if len(specs) != len(testRanges) {
		t.Errorf("sidecar lists %v, want %d dumps", specs, len(testRanges))
	}
	first := map[string][]byte{}
	for _, r := range testRanges {
		file := prefix + r.suffix
		if gpa, ok := specs[file]; !ok || gpa != r.gpa {
			t.Errorf("sidecar lists %v, want %s@%#x", specs, file, r.gpa)
		}
		got := gunzip(t, file)
		if want := ram[r.gpa-base:][:r.size]; !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, not the %d of RAM at %#x", file, len(got), len(want), r.gpa)
		}
		first[file], _ = os.ReadFile(file)
	}
	if st := run(args, &stdout, &stderr); st != 0 {
		t.Fatalf("again: exit status %d: %s", st, stderr.String())
	}
	for file, b := range first {
		if again, _ := os.ReadFile(file); !bytes.Equal(again, b) {
			t.Errorf("%s differs from one run to the next", file)
		}
	}
	t.Logf("%s%s", stdout.String(), stderr.String())
}

// TestDumpsOutsideRAM: a table the RAM dump does not hold all of is an
// error, and no sidecar is written.
func TestDumpsOutsideRAM(t *testing.T) {
	dir := t.TempDir()
	ram := filepath.Join(dir, "ram.bin")
	trace := filepath.Join(dir, "trace.log")
	if err := os.WriteFile(ram, testRAM(0x40000000, 0x10000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trace, []byte(testTrace), 0o644); err != nil {
		t.Fatal(err)
	}
	prefix := filepath.Join(dir, "linux")
	var stdout, stderr strings.Builder
	if st := run([]string{"dumps", "-trace", trace, "-ram", ram, "-o", prefix}, &stdout, &stderr); st != 1 || !strings.Contains(stderr.String(), "not all in the RAM dump") {
		t.Errorf("exit status %d, stderr %q; want 1 and the range named", st, stderr.String())
	}
	if _, err := os.Stat(prefix + suffixSidecar); err == nil {
		t.Errorf("a sidecar was written")
	}
	if _, err := os.Stat(prefix + suffixQueue); err == nil {
		t.Errorf("the queue, which the RAM dump holds, was written all the same")
	}
}
