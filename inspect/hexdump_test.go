package inspect_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/inspect"
)

// dumped is the file the dumps below were made of (by the tools named):
// a MAPTI packet, then bytes whose ASCII column ("ab  cd") looks like hex
// digits, zeros that xxd -a and od squeeze into "*", and a short last line.
var dumped = func() []byte {
	b := make([]byte, 0x6a)
	copy(b, []byte{0x0a, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 1, 0x20, 0, 0, 1})
	copy(b[0x20:], "ab  cd")
	b[0x66] = 5
	return b
}()

const (
	xxdDump = `00000000: 0a00 0000 1000 0000 0100 0000 0120 0000  ............. ..
00000010: 0100 0000 0000 0000 0000 0000 0000 0000  ................
00000020: 6162 2020 6364 0000 0000 0000 0000 0000  ab  cd..........
00000030: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000040: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000050: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000060: 0000 0000 0000 0500 0000                 ..........
`
	xxdG1Dump = `00000000: 0a 00 00 00 10 00 00 00 01 00 00 00 01 20 00 00  ............. ..
00000010: 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
00000020: 61 62 20 20 63 64 00 00 00 00 00 00 00 00 00 00  ab  cd..........
00000030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
00000040: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
00000050: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
00000060: 00 00 00 00 00 00 05 00 00 00                    ..........
`
	xxdADump = `00000000: 0a00 0000 1000 0000 0100 0000 0120 0000  ............. ..
00000010: 0100 0000 0000 0000 0000 0000 0000 0000  ................
00000020: 6162 2020 6364 0000 0000 0000 0000 0000  ab  cd..........
00000030: 0000 0000 0000 0000 0000 0000 0000 0000  ................
*
00000060: 0000 0000 0000 0500 0000                 ..........
`
	odDump = `000000 0a 00 00 00 10 00 00 00 01 00 00 00 01 20 00 00
000010 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
000020 61 62 20 20 63 64 00 00 00 00 00 00 00 00 00 00
000030 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
*
000060 00 00 00 00 00 00 05 00 00 00
00006a
`
	odZDump = `000000 0a 00 00 00 10 00 00 00 01 00 00 00 01 20 00 00  >............. ..<
000010 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  >................<
000020 61 62 20 20 63 64 00 00 00 00 00 00 00 00 00 00  >ab  cd..........<
000030 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  >................<
*
000060 00 00 00 00 00 00 05 00 00 00                    >..........<
00006a
`
	xxdFrom0x20 = `00000020: 6162 2020 6364 0000 0000 0000 0000 0000  ab  cd..........
00000030: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000040: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000050: 0000 0000 0000 0000 0000 0000 0000 0000  ................
00000060: 0000 0000 0000 0500 0000                 ..........
`
)

func TestParseHexDump(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		format     string
		start      uint64
		data       []byte
		errs       []string // each error, in order, contains this
	}{
		{"xxd", xxdDump, "xxd", 0, dumped, nil},
		{"xxd -g1", xxdG1Dump, "xxd", 0, dumped, nil},
		{"xxd -a", xxdADump, "xxd", 0, dumped, nil},
		{"od -Ax -tx1", odDump, "od", 0, dumped, nil},
		{"od -Ax -tx1z", odZDump, "od", 0, dumped, nil},
		{"CRLF", strings.ReplaceAll(odDump, "\n", "\r\n"), "od", 0, dumped, nil},
		{"xxd -s 0x20", xxdFrom0x20, "xxd", 0x20, dumped[0x20:], nil},
		{"plain, a doubleword a line", "0a00000010000000\n0100000001200000\n", "", 0, dumped[:16], nil},
		{"plain, xxd -p", "0a000000100000000100000001200000\n", "", 0, dumped[:16], nil},
		{"a line of the wrong format", strings.Replace(xxdDump, "00000010: 0100", "00000010: 01zz", 1), "xxd", 0,
			append(append(append([]byte{}, dumped[:16]...), make([]byte, 16)...), dumped[32:]...),
			[]string{`line 2: not a line of xxd's dump: "00000010: 01zz`, "line 3: offset 0x20, but the line before ends at 0x10: the bytes from 0x10 to 0x1f are missing (decoded as zeros)"}},
		{"an offset already past", strings.Replace(odDump, "000010 01", "000008 01", 1), "od", 0,
			append(append(append([]byte{}, dumped[:16]...), make([]byte, 16)...), dumped[32:]...),
			[]string{"line 2: offset 0x8, but the dump is at 0x10 already (skipped)", "line 3: offset 0x20, but the line before ends at 0x10"}},
		{"* at the end", strings.TrimSuffix(xxdADump, "00000060: 0000 0000 0000 0500 0000                 ..........\n"), "xxd", 0, dumped[:0x40],
			[]string{`the dump ends with "*", so how far the last line repeats is not known`}},
		{"* first", "000000 01 02\n*\n", "od", 0, []byte{1, 2}, []string{`the dump ends with "*"`}},
		{"* that does not fit", "000000 01 02 03\n*\n000008 04\n", "od", 0, []byte{1, 2, 3, 0, 0, 0, 0, 0, 4},
			[]string{"line 3: offset 0x8, but the line before ends at 0x3: the bytes from 0x3 to 0x7 are missing"}},
		{"* too far", "000000 01 02\n*\nffffffff 00\n", "od", 0, []byte{1, 2},
			[]string{"line 3: offset 0xffffffff: the dump would be 4294967295 bytes from 0x0; at most 64 MiB is decoded (skipped)"}},
	} {
		d, errs := inspect.ParseHexDump(tc.text)
		if d.Format != tc.format || d.Start != tc.start || !bytes.Equal(d.Data, tc.data) {
			t.Errorf("%s: format %q start %#x data\n% x\nwant %q %#x\n% x", tc.name, d.Format, d.Start, d.Data, tc.format, tc.start, tc.data)
		}
		if len(errs) != len(tc.errs) {
			t.Errorf("%s: errors %v, want %d", tc.name, errs, len(tc.errs))
			continue
		}
		for i, want := range tc.errs {
			if !strings.Contains(errs[i].Error(), want) {
				t.Errorf("%s: error %d is %q, want %q", tc.name, i, errs[i], want)
			}
		}
	}
}

// TestDecodeHexCommandsReadsDumps: a queue dumped by xxd decodes at the
// dump's offsets, the offset and ASCII columns left out.
func TestDecodeHexCommandsReadsDumps(t *testing.T) {
	lines, errs := inspect.DecodeHexCommands(xxdFrom0x20)
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprintf("%#x %v %d", l.Offset, l.Command, len(l.Problems)))
	}
	want := "0x20 <nil> 1|0x40 <nil> 0|0x60 <nil> 1"
	if strings.Join(got, "|") != want || len(errs) != 0 {
		t.Errorf("lines %q, errors %v; want %q", strings.Join(got, "|"), errs, want)
	}
	lines, _ = inspect.DecodeHexCommands(xxdADump)
	if len(lines) == 0 || fmt.Sprint(lines[0].Command) != "MAPTI dev=0x10 ev=1 lpi=8193 icid=1" {
		t.Errorf("first packet of the xxd -a dump: %+v", lines)
	}
}

// ParseHexDump never panics, reads plain text exactly as ParseHex does,
// and never expands a dump past 64 MiB beyond its own length.
func FuzzParseHexDump(f *testing.F) {
	for _, s := range []string{xxdDump, xxdADump, odDump, odZDump, "000000 01 02\n*\nffff 00\n", "0a000000\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, errs := inspect.ParseHexDump(s)
		if d.Format == "" {
			data, plainErrs := inspect.ParseHex(s)
			if !bytes.Equal(d.Data, data) || len(errs) != len(plainErrs) || d.Start != 0 {
				t.Fatalf("plain text read differently from ParseHex: % x %v, want % x %v", d.Data, errs, data, plainErrs)
			}
			return
		}
		if len(d.Data) > 64<<20+len(s) {
			t.Fatalf("%d bytes from %d characters", len(d.Data), len(s))
		}
	})
}

// TestHexDumpGapsAndWrap: a packet partly in a gap (a line missing from
// the dump) decodes with a fatal problem saying so, not as a command the
// queue holds; a line whose offset runs past 2^64 is refused.
func TestHexDumpGapsAndWrap(t *testing.T) {
	const dump = "00000000: 0a 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00  ................\n" +
		// the line at 0x10 is missing
		"00000020: 05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n" +
		"00000030: 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................\n"
	lines, errs := inspect.DecodeHexCommands(dump)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "missing") {
		t.Errorf("errors %v, want one saying a line is missing", errs)
	}
	if len(lines) != 2 || !slices.ContainsFunc(lines[0].Problems, func(p inspect.Problem) bool { return p.Fatal && strings.Contains(p.Msg, "missing from the dump") }) {
		t.Errorf("packet 0 (its second half missing): problems %v, want a fatal one", lines[0].Problems)
	}
	if len(lines) == 2 && len(lines[1].Problems) != 0 {
		t.Errorf("packet 1 is whole: problems %v", lines[1].Problems)
	}
	_, errs = inspect.ParseHexDump("ffffffffffffffe0: 0a 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00\nfffffffffffffff0: 0a 00 00 00 10 00 00 00 01 00 00 00 00 00 00 00 00\n")
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "past the end of the address space") {
		t.Errorf("a dump running past 2^64: errors %v", errs)
	}
}
