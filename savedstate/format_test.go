package savedstate_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
)

// golden is the file of testdata/golden.its's state, captured on the
// simulator: every field of the format, in order, with its meaning.
// Whitespace and # comments are not part of it.
const golden = `
	4749434954535354                                                  # magic "GICITSST"
	0100                                                              # version 1
	0000                                                              # flags 0
	5c020000                                                          # length 0x25c = 604
	03                                                                # source name length 3
	73696d                                                            # "sim"
	01000000                                                          # 1 CPU
	0000000800000000                                                  # layout GICDBase 0x8000000
	0000080800000000                                                  # layout ITSBase 0x8080000
	00000a0800000000                                                  # layout GICRBase 0x80a0000
	0000004000000000                                                  # layout RAMBase 0x40000000
	0000000400000000                                                  # layout RAMSize 0x4000000
	0000004000000000                                                  # layout CommandQueue 0x40000000
	1000000000000000                                                  # layout CommandQueuePages 0x10
	0000014000000000                                                  # layout DeviceTable 0x40010000
	0000010000000000                                                  # layout DeviceTablePageSize 0x10000
	0800000000000000                                                  # layout DeviceTablePages 0x8
	0000000000000000                                                  # layout DeviceTableIndirect 0x0
	0000094000000000                                                  # layout CollectionTable 0x40090000
	0000010000000000                                                  # layout CollectionTablePageSize 0x10000
	0100000000000000                                                  # layout CollectionTablePages 0x1
	0000104000000000                                                  # layout PropTable 0x40100000
	1000000000000000                                                  # layout LPIIDBits 0x10
	0000204000000000                                                  # layout PendTables 0x40200000
	0000404000000000                                                  # layout Scratch 0x40400000
	0000400000000000                                                  # layout ScratchSize 0x400000
	0000804000000000                                                  # layout ITTs 0x40800000
	0000800300000000                                                  # layout ITTsSize 0x3800000
	2000000000000000                                                  # layout MaxCPUs 0x20
	0100008000000000                                                  # GITS_CTLR 0x80000001
	3b04004b00000000                                                  # GITS_IIDR 0x4b00043b
	71ef010000000000                                                  # GITS_TYPER 0x1ef71
	0f040040000000b8                                                  # GITS_CBASER 0xb80000004000040f
	8000000000000000                                                  # GITS_CREADR 0x80
	8000000000000000                                                  # GITS_CWRITER 0x80
	0706014000000799                                                  # GITS_BASER0 0x9907000040010607
	000609400000079c                                                  # GITS_BASER1 0x9c07000040090600
	0700000000000000                                                  # CPU 0 GICR_CTLR 0x7
	8f07104000000000                                                  # CPU 0 GICR_PROPBASER 0x4010078f
	8007204000000000                                                  # CPU 0 GICR_PENDBASER 0x40200780
	06000000                                                          # 6 regions
	07                                                                # region 0: kind 7 (command queue)
	000000                                                            # reserved
	00000000                                                          # owner 0x0
	0000004000000000                                                  # address 0x40000000
	0000010000000000                                                  # size 0x10000
	03000000                                                          # 3 extents
	00000000                                                          # extent at 0x0
	01000000                                                          # 1 bytes:
	09
	17000000                                                          # extent at 0x17
	37000000                                                          # 55 bytes:
	8000000000000000000800000010000000000000000000000000008040000000
	8000000000000000000a00000010000000010000000120
	60000000                                                          # extent at 0x60
	09000000                                                          # 9 bytes:
	030000001000000001
	01                                                                # region 1: kind 1 (device table)
	000000                                                            # reserved
	00000000                                                          # owner 0x0
	0000014000000000                                                  # address 0x40010000
	0000080000000000                                                  # size 0x80000
	01000000                                                          # 1 extents
	82000000                                                          # extent at 0x82
	06000000                                                          # 6 bytes:
	100800000080
	03                                                                # region 2: kind 3 (ITT)
	000000                                                            # reserved
	10000000                                                          # owner 0x10
	0000804000000000                                                  # address 0x40800000
	1000000000000000                                                  # size 0x10
	01000000                                                          # 1 extents
	0a000000                                                          # extent at 0xa
	02000000                                                          # 2 bytes:
	0120
	04                                                                # region 3: kind 4 (collection table)
	000000                                                            # reserved
	00000000                                                          # owner 0x0
	0000094000000000                                                  # address 0x40090000
	0000010000000000                                                  # size 0x10000
	01000000                                                          # 1 extents
	07000000                                                          # extent at 0x7
	01000000                                                          # 1 bytes:
	80
	05                                                                # region 4: kind 5 (LPI configuration table)
	000000                                                            # reserved
	00000000                                                          # owner 0x0
	0000104000000000                                                  # address 0x40100000
	00e0000000000000                                                  # size 0xe000
	01000000                                                          # 1 extents
	01000000                                                          # extent at 0x1
	01000000                                                          # 1 bytes:
	a3
	06                                                                # region 5: kind 6 (pending table)
	000000                                                            # reserved
	00000000                                                          # owner 0x0
	0000204000000000                                                  # address 0x40200000
	0020000000000000                                                  # size 0x2000
	01000000                                                          # 1 extents
	00040000                                                          # extent at 0x400
	01000000                                                          # 1 bytes:
	02
	8790c28e                                                          # CRC-32C
`

// unhex decodes golden-style hex: whitespace and # comments ignored.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var digits strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		line, _, _ = strings.Cut(line, "#")
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden: the golden bytes parse to the state they annotate, encode
// back to themselves, and are what Capture and MarshalBinary make of
// testdata/golden.its on the simulator today.
func TestGolden(t *testing.T) {
	data := unhex(t, golden)
	st, err := savedstate.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	oneITS := model.DefaultLayout()
	oneITS.ExtraITSBase = 0 // not in the file: it holds one ITS
	if st.Source != "sim" || st.CPUs != 1 || st.Layout != oneITS {
		t.Errorf("machine: %q, %d CPUs, layout %+v", st.Source, st.CPUs, st.Layout)
	}
	want := savedstate.ITSRegisters{CTLR: 0x80000001, IIDR: 0x4b00043b, TYPER: model.KVMITSTyper, CBASER: 0xb80000004000040f, CREADR: 0x80, CWRITER: 0x80, DeviceBaser: 0x9907000040010607, CollectionBaser: 0x9c07000040090600}
	if st.ITS != want {
		t.Errorf("ITS registers %+v, want %+v", st.ITS, want)
	}
	if rd := st.Redistributors[0]; !rd.EnableLPIs() || rd.PropBaser != 0x4010078f || rd.PendBaser != 0x40200780 {
		t.Errorf("redistributor %+v", rd)
	}
	pend, ok := st.Region(savedstate.PendingTable, 0)
	if !ok || pend.Addr != 0x40200000 || pend.Size != 0x2000 || pend.Bytes()[8193/8] != 1<<(8193%8) {
		t.Errorf("pending table of CPU 0: %v %v", pend, ok)
	}
	if len(st.Regions) != 6 {
		t.Errorf("%d regions, want 6", len(st.Regions))
	}
	again, err := st.MarshalBinary()
	if err != nil || !bytes.Equal(again, data) {
		t.Errorf("MarshalBinary of the parsed golden file = %v\n%x\nwant\n%x", err, again, data)
	}
	captured, err := captureScenario(t, "testdata/golden.its").MarshalBinary()
	if err != nil || !bytes.Equal(captured, data) {
		t.Errorf("the simulator's state of testdata/golden.its encodes to %v\n%x\nwant the golden\n%x", err, captured, data)
	}
}

// Offsets into the golden file, whose source name is 3 bytes long.
const (
	offLayout  = 24              // 22 fields of 8 bytes
	offITS     = offLayout + 176 // GITS_CTLR, IIDR, TYPER, CBASER, CREADR, CWRITER, BASER0, BASER1
	offCPU0    = offITS + 64     // GICR_CTLR, PROPBASER, PENDBASER
	offRegions = offCPU0 + 24    // the region count, then the regions
)

// regionAt returns the offset of region i's header in a file laid out as
// the golden one.
func regionAt(data []byte, i int) int {
	le := binary.LittleEndian
	off := offRegions + 4
	for range i {
		n := int(le.Uint32(data[off+24:]))
		off += 28
		for range n {
			off += 8 + int(le.Uint32(data[off+4:]))
		}
	}
	return off
}

// seal sets the length field and the checksum of a file after a change.
func seal(b []byte) []byte {
	if len(b) < 20 {
		return b
	}
	le := binary.LittleEndian
	le.PutUint32(b[12:], uint32(len(b)))
	le.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// TestParseRejects: each way a file can be wrong gets an error naming the
// byte offset, the field and what is wrong, never a State.
func TestParseRejects(t *testing.T) {
	le := binary.LittleEndian
	put64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint64(b[off:], v); return seal(b) }
	}
	put32 := func(off int, v uint32) func([]byte) []byte {
		return func(b []byte) []byte { le.PutUint32(b[off:], v); return seal(b) }
	}
	// region returns an edit of region i's header field at off (kind 0,
	// reserved 1, owner 4, address 8, size 16, extent count 24, first
	// extent 28).
	region := func(i, off int, edit func(b []byte, at int)) func([]byte) []byte {
		return func(b []byte) []byte { edit(b, regionAt(b, i)+off); return seal(b) }
	}
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"empty", func([]byte) []byte { return nil }, "saved state: byte 0x0 (magic): the file is empty: invalid argument"},
		{"not-ours", func([]byte) []byte { return []byte("PK\x03\x04 a zip file") }, `saved state: byte 0x0 (magic): not a gicits saved-state file (it does not start with "GICITSST"): invalid argument`},
		{"header-cut", func(b []byte) []byte { return b[:12] }, "saved state: byte 0xc (header): the file ends inside the 16-byte header: invalid argument"},
		{"version", func(b []byte) []byte { le.PutUint16(b[8:], 2); return seal(b) }, "saved state: byte 0x8 (version): version 2; this gicits reads version 1: invalid argument"},
		{"flags", func(b []byte) []byte { le.PutUint16(b[10:], 4); return seal(b) }, "saved state: byte 0xa (flags): 0x0004; every bit is reserved and must be 0: invalid argument"},
		{"truncated", func(b []byte) []byte { return b[:len(b)-10] }, "saved state: byte 0xc (length): the header says 604 bytes, the file has 594: truncated: invalid argument"},
		{"appended", func(b []byte) []byte { return append(b, 0) }, "saved state: byte 0xc (length): the header says 604 bytes, the file has 605: followed by other data: invalid argument"},
		{"corrupt", func(b []byte) []byte { b[100] ^= 1; return b }, "saved state: byte 0x258 (checksum): CRC-32C 0x8ec29087, the bytes before it give 0xfb056c20: the file is corrupt: invalid argument"},
		{"no-checksum", func(b []byte) []byte { b = b[:16]; le.PutUint32(b[12:], 16); return b }, "saved state: byte 0x10 (checksum): the file ends before its checksum: invalid argument"},
		{"source-empty", func(b []byte) []byte { b[16] = 0; return seal(b) }, "saved state: byte 0x10 (source name length): 0; want 1..32: invalid argument"},
		{"source-binary", func(b []byte) []byte { b[18] = '\n'; return seal(b) }, "saved state: byte 0x10 (source name): byte 1 is 0x0a, not printable ASCII: invalid argument"},
		{"cpus-0", put32(20, 0), "saved state: byte 0x14 (CPUs): 0; want 1..1073741824: invalid argument"},
		{"cpus-beyond-layout", put32(20, 40), "saved state: byte 0x14 (CPUs): 40; the layout has pending tables for 32 (MaxCPUs): invalid argument"},
		{"indirect-2", put64(offLayout+10*8, 2), "saved state: byte 0x68 (layout DeviceTableIndirect): 2; want 0 or 1: invalid argument"},
		{"layout-int", put64(offLayout+15*8, 1<<40), "saved state: byte 0x90 (layout LPIIDBits): 1099511627776; want at most 1073741824: invalid argument"},
		{"layout-invalid", put64(offLayout+4*8, 1<<20), "saved state: byte 0x18 (layout): layout: LPI property table [0x40100000, 0x4010e000) is outside RAM [0x40000000, 0x40100000): invalid argument\nlayout: pending tables [0x40200000, 0x40400000) is outside RAM [0x40000000, 0x40100000): invalid argument\nlayout: scratch [0x40400000, 0x40800000) is outside RAM [0x40000000, 0x40100000): invalid argument\nlayout: ITT area [0x40800000, 0x44000000) is outside RAM [0x40000000, 0x40100000): invalid argument"},
		{"iidr-revision", put64(offITS+8, 0x4b00143b), "saved state: byte 0xc8 (ITS registers): GITS_IIDR 0x4b00143b says ITS table ABI revision 1; this format carries revision 0: invalid argument"},
		{"typer-itt-4", put64(offITS+16, 0x1ef31), "saved state: byte 0xc8 (ITS registers): GITS_TYPER 0x1ef31 has 4-byte ITT entries, too small for the 8-byte ITS table ABI revision 0 ITE: invalid argument"},
		{"creadr", put64(offITS+32, 0x10000), "saved state: byte 0xc8 (ITS registers): GITS_CREADR offset 0x10000 is beyond the 65536-byte command queue: invalid argument"},
		{"region-count", put32(offRegions, 1000), "saved state: byte 0x120 (region count): 1000 regions need at least 28000 bytes, 308 are left: invalid argument"},
		{"region-kind", region(0, 0, func(b []byte, at int) { b[at] = 9 }), "saved state: byte 0x124 (region 0): kind 9 is not a region kind (1..7): invalid argument"},
		{"region-reserved", region(0, 2, func(b []byte, at int) { b[at] = 1 }), "saved state: byte 0x125 (region 0 reserved bytes): 00 01 00; want 0: invalid argument"},
		{"region-size-0", region(2, 16, func(b []byte, at int) { le.PutUint64(b[at:], 0) }), "saved state: byte 0x1d3 (region 2 size): 0x0; want 1..0x4000000: invalid argument"},
		{"extent-empty", region(2, 28+4, func(b []byte, at int) { le.PutUint32(b[at:], 0) }), "saved state: byte 0x1e3 (region 2 extent 0 length): 0; an extent holds at least one byte: invalid argument"},
		{"extent-outside", region(2, 28, func(b []byte, at int) { le.PutUint32(b[at:], 0xf) }), "saved state: byte 0x1e3 (region 2 extent 0 length): [0xf, +0x2) is outside the 0x10-byte region: invalid argument"},
		{"extent-overlap", region(0, 28+8+1, func(b []byte, at int) { le.PutUint32(b[at:], 0) }), "saved state: byte 0x149 (region 0 extent 1 offset): 0x0 overlaps or precedes the extent before it (which ends at 0x1): invalid argument"},
		{"extent-count", region(0, 24, func(b []byte, at int) { le.PutUint32(b[at:], 1<<20) }), "saved state: byte 0x13c (region 0 extent count): 1048576 extents need at least 9437184 bytes, 280 are left: invalid argument"},
		{"device-table-moved", region(1, 8, func(b []byte, at int) { le.PutUint64(b[at:], 0x40020000) }), "saved state: byte 0x199 (region 1 (device table [0x40020000, +0x80000))): GITS_BASER0 says [0x40010000, +0x80000): invalid argument"},
		{"itt-in-scratch", region(2, 8, func(b []byte, at int) { le.PutUint64(b[at:], 0x40400000) }), "saved state: byte 0x1c3 (region 2 (ITT of DeviceID 0x10 [0x40400000, +0x10))): overlaps the scratch area [0x40400000, +0x400000), which a backend keeps for itself: invalid argument"},
		{"itt-outside-ram", region(2, 8, func(b []byte, at int) { le.PutUint64(b[at:], 0x80000000) }), "saved state: byte 0x1c3 (region 2 (ITT of DeviceID 0x10 [0x80000000, +0x10))): not inside RAM [0x40000000, +0x4000000): invalid argument"},
		{"itt-unaligned", region(2, 8, func(b []byte, at int) { le.PutUint64(b[at:], 0x40800010) }), "saved state: byte 0x1c3 (region 2 (ITT of DeviceID 0x10 [0x40800010, +0x10))): an ITT is 256-byte aligned: invalid argument"},
		{"pending-owner", region(5, 4, func(b []byte, at int) { le.PutUint32(b[at:], 1) }), "saved state: byte 0x233 (region 5 (pending table of CPU 1 [0x40200000, +0x2000))): CPU 1 of 1: invalid argument"},
		{"pending-too-large", region(5, 16, func(b []byte, at int) { le.PutUint64(b[at:], 0x4000) }), "saved state: byte 0x233 (region 5 (pending table of CPU 0 [0x40200000, +0x4000))): larger than the 0x2000 bytes GICR_PROPBASER.IDbits allows: invalid argument"},
		{"duplicate", region(4, 0, func(b []byte, at int) { b[at] = byte(savedstate.ITT); le.PutUint32(b[at+4:], 0x10) }), "saved state: byte 0x20e (region 4 (ITT of DeviceID 0x10 [0x40100000, +0xe000))): appears twice: invalid argument"},
		{"pending-missing", func(b []byte) []byte {
			le.PutUint32(b[offRegions:], 5)
			return seal(append(b[:regionAt(b, 5)], b[len(b)-4:]...))
		}, "saved state: byte 0x120 (regions): no pending table of CPU 0 region, though CPU 0's GICR_PENDBASER names one: invalid argument"},
		{"trailing", func(b []byte) []byte { return seal(append(b[:len(b)-4], 0, 0, 0, 0, 0)) }, "saved state: byte 0x258 (end): 1 bytes after the last region, before the checksum: invalid argument"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := c.edit(unhex(t, golden))
			st, err := savedstate.Parse(data)
			var fe *savedstate.FormatError
			if st != nil || err == nil || !errors.Is(err, model.ErrInvalidArgument) || !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, %v; want no state and a *FormatError wrapping ErrInvalidArgument", st, err)
			}
			if err.Error() != c.want {
				t.Errorf("Parse error\n%s\nwant\n%s", err, c.want)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Errorf("offset %d outside the %d-byte file", fe.Offset, len(data))
			}
		})
	}
}
