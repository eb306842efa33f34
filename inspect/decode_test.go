package inspect_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

func mustEncode(t testing.TB, cmds ...model.Command) []byte {
	t.Helper()
	var out []byte
	for _, c := range cmds {
		p, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p[:]...)
	}
	return out
}

func TestDecodeQueueListsEveryCommandWithItsOffset(t *testing.T) {
	q := mustEncode(t,
		model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1},
	)
	bad := model.Packet{0: 0x24} // between VSGI (0x23) and VSYNC (0x25): no command
	q = append(q, bad[:]...)
	res0, _ := model.INV{DeviceID: 0x10, EventID: 1}.Encode()
	res0[17] = 0x80 // DW2[15:8] is RES0 for INV
	q = append(q, res0[:]...)
	q = append(q, make([]byte, 3*32)...)
	q = append(q, mustEncode(t, model.SYNC{RDbase: 1})...)
	q = append(q, 1, 2, 3) // trailing garbage

	var out bytes.Buffer
	if err := inspect.WriteCommands(&out, inspect.DecodeQueue(q, 0), inspect.QueueMarks{CREADR: 0x60, CWRITER: 0x100, Set: true}); err != nil {
		t.Fatal(err)
	}
	want := `0x0000  MAPD dev=0x10 bits=5 itt=0x40070000
0x0020  MAPC icid=1 rdbase=1
0x0040  MAPTI dev=0x10 ev=1 lpi=8193 icid=1
0x0060  undecodable [2400000000000000000000000000000000000000000000000000000000000000]   <- GITS_CREADR
        error: byte 0x60, opcode DW0[7:0]: 0x24 is not an ITS command opcode
0x0080  INV dev=0x10 ev=1
        warning: byte 0x91, DW2[15:15] (RES0): RES0 bits 0x8000 are set; ignored, as KVM ignores them
0x00a0  (3 empty slots, to 0x00e0)
0x0100  SYNC rdbase=1   <- GITS_CWRITER
0x0120  undecodable
        error: byte 0x120, packet: 3 trailing bytes: a command packet is 32 bytes
`
	if out.String() != want {
		t.Errorf("listing:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestDecodeGICv4Commands: every V* command decodes in full, GICv4.1
// fields included, and its RES0 bits are flagged like a GICv3 command's.
func TestDecodeGICv4Commands(t *testing.T) {
	vmapp := model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true, Alloc: true, VCONFAddr: 0x856700000, DefaultDoorbell: 8192}
	q := mustEncode(t, vmapp,
		model.VMAPTI{DeviceID: 0x10, EventID: 3, VINTID: 8195, VPEID: 5, Doorbell: model.NoDoorbell},
		model.VMOVP{SequenceNumber: 7, ITSList: 5, VPEID: 5, RDbase: 3},
		model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Enable: true},
		model.VSYNC{VPEID: 5},
	)
	q[31] = 0x80     // VMAPP DW3[63:56]: RES0
	q[4*32+9] = 0x01 // VSYNC DW1[15:8]: RES0
	var out bytes.Buffer
	if err := inspect.WriteCommands(&out, inspect.DecodeQueue(q, 0), inspect.QueueMarks{}); err != nil {
		t.Fatal(err)
	}
	want := `0x0000  VMAPP vpeid=5 rdbase=2 vpt=0x812340000 bits=16 alloc=1 ptz=0 vconf=0x856700000 db=8192
        warning: byte 0x1f, DW3[63:63] (RES0): RES0 bits 0x8000000000000000 are set; ignored, as KVM ignores them
0x0020  VMAPTI dev=0x10 ev=3 vintid=8195 vpeid=5 db=1023
0x0040  VMOVP vpeid=5 rdbase=3 seq=7 itslist=0x5
0x0060  VSGI vpeid=5 vintid=3 prio=0xa0 group=1 enable=1 clear=0
0x0080  VSYNC vpeid=5
        warning: byte 0x89, DW1[8:8] (RES0): RES0 bits 0x100 are set; ignored, as KVM ignores them
`
	if out.String() != want {
		t.Errorf("listing:\n%s\nwant:\n%s", out.String(), want)
	}

	vmapp.VPTSize = 32
	p, err := vmapp.Encode()
	if err != nil {
		t.Fatal(err)
	}
	l := inspect.DecodeCommand(p, 0)
	if l.Command != vmapp || len(l.Problems) != 1 || l.Problems[0].Fatal || !strings.Contains(l.Problems[0].Error(), "byte 0x18, VPT_size DW3[7:0]: 33 vINTID bits") {
		t.Errorf("VMAPP with VPT_size 32: %v, problems %v; want one warning about VPT_size", l.Command, l.Problems)
	}
}

// TestDecodeRES0MatchesTheCodec: for every opcode that decodes, the bits
// the decoder flags as RES0 are exactly those the command's encoding does
// not give back, so the RES0 table here and model's codec agree.
func TestDecodeRES0MatchesTheCodec(t *testing.T) {
	for op := range 256 {
		var p model.Packet
		for i := range p {
			p[i] = 0xFF
		}
		p[0] = byte(op)
		l := inspect.DecodeCommand(p, 0)
		if l.Command == nil {
			continue
		}
		q, err := l.Command.Encode()
		if err != nil {
			t.Fatalf("%v: %v", l.Command, err)
		}
		var flagged []string
		for _, pr := range l.Problems {
			if strings.HasSuffix(pr.Field, "(RES0)") {
				flagged = append(flagged, pr.Msg)
			}
		}
		var want []string
		for i := range 4 {
			if bad := p.DW(i) &^ q.DW(i); bad != 0 {
				want = append(want, fmt.Sprintf("RES0 bits %#x are set; ignored, as KVM ignores them", bad))
			}
		}
		if !slices.Equal(flagged, want) {
			t.Errorf("%v (opcode %#02x), all bits set:\nflagged %q\nwant    %q", l.Command.Opcode(), op, flagged, want)
		}
	}
}

func TestDecodeCommandFlagsArchitecturalErrors(t *testing.T) {
	for _, tc := range []struct {
		cmd  model.Command
		want string
	}{
		{model.MAPTI{DeviceID: 1, EventID: 0, INTID: 42, ICID: 0}, "byte 0xc, pINTID DW1[63:32]: 42 is below the LPI range (8192): the ITS fails it with E_ITS_MAPTI_PHYSICALID_OOR (IHI 0069, 6.3.13)"},
		{model.MAPI{DeviceID: 1, EventID: 3}, "E_ITS_MAPI_PHYSICALID_OOR"},
		{model.MAPD{DeviceID: 1, Size: 20, ITTAddr: 0x1000, Valid: true}, "byte 0x8, Size DW1[4:0]: 21 EventID bits exceed the 16 of GITS_TYPER.ID_bits on KVM: E_ITS_MAPD_ITTSIZE_OOR"},
	} {
		p, err := tc.cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		l := inspect.DecodeCommand(p, 0)
		if l.Command == nil || len(l.Problems) != 1 || !strings.Contains(l.Problems[0].Error(), tc.want) {
			t.Errorf("%v: problems %v, want one containing %q", tc.cmd, l.Problems, tc.want)
		}
	}
}

func TestParseHexReportsBadCharactersAndGoesOn(t *testing.T) {
	data, errs := inspect.ParseHex("0x0a00 00_00 # comment zz\n  1g2\n3")
	if want := []byte{0x0a, 0, 0, 0, 0x12}; !bytes.Equal(data, want) {
		t.Errorf("bytes % x, want % x", data, want)
	}
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `line 2 col 4: 'g' is not a hexadecimal digit`) || !strings.Contains(errs[1].Error(), "odd number") {
		t.Errorf("errors %v", errs)
	}
}

func le(vs ...uint64) []byte {
	b := make([]byte, 8*len(vs))
	for i, v := range vs {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	return b
}

// The bytes are those Linux 6.1 saved (kvm-vgic-its.md, section 7).
func TestDecodeTableMatchesKVMSavedBytes(t *testing.T) {
	itt := le(0, 0x0001000020010001, 0x0000000020020000)
	var out bytes.Buffer
	base := model.GPA(0x40070000)
	if err := inspect.WriteEntries(&out, inspect.ITT, &base, inspect.DecodeTable(inspect.ITT, itt)); err != nil {
		t.Fatal(err)
	}
	want := `EventID    address      raw                decoded
1          0x40070008   0x0001000020010001 ITE lpi=8193 icid=1 next=1
2          0x40070010   0x0000000020020000 ITE lpi=8194 icid=0 next=0
`
	if out.String() != want {
		t.Errorf("ITT:\n%s\nwant:\n%s", out.String(), want)
	}

	ctes := inspect.DecodeTable(inspect.CollectionTable, le(0x8000000000000000, 0x8000000000010001, 0, 0x8000000000020002))
	if len(ctes) != 2 {
		t.Errorf("collection table: %d entries, want 2 (the list ends at the zero terminator)", len(ctes))
	}
}

func TestDecodeTableChecksEntries(t *testing.T) {
	dt := make([]byte, 8*0x20)
	copy(dt[8*0x10:], le(0x8000000000000000|3<<49|0x800E004)) // next=3 but the next live one is at +5
	copy(dt[8*0x15:], le(0x800000000800E00F|1<<49))           // 16 bits is fine; next=1 on the last one
	copy(dt[8*0x18:], le(0x800E004))                          // invalid, not zero
	lines := inspect.DecodeTable(inspect.DeviceTable, dt)
	var got []string
	for _, l := range lines {
		for _, p := range l.Problems {
			got = append(got, p.Error())
		}
	}
	want := []string{
		"warning: byte 0x86, next bits 62:49: next=3, but the next live entry is 5 further, at index 21: a restore would not find it",
		"warning: byte 0xae, next bits 62:49: next=1, but this is the last live entry (want 0): a restore reads on from index 22",
		"warning: byte 0xc7, V bit 63: entry is invalid but other bits are set (0x800e004): stale bytes, ignored by a restore",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	ite := inspect.DecodeTable(inspect.ITT, le(0x0000000000050001))
	if len(ite) != 1 || len(ite[0].Problems) != 1 || !strings.Contains(ite[0].Problems[0].Msg, "5 is below the LPI range") {
		t.Errorf("ITE with pINTID 5: %+v", ite)
	}
}

func TestParseEntries(t *testing.T) {
	es, errs := inspect.ParseEntries("0x10=0x800000000800E004 0x1 # note\nxyz, 7=0x_ff")
	want := []inspect.RawEntry{{0x10, 0x800000000800E004}, {0x11, 1}, {7, 0xff}}
	if len(es) != len(want) || es[0] != want[0] || es[1] != want[1] || es[2] != want[2] {
		t.Errorf("entries %v, want %v", es, want)
	}
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `line 2: "xyz"`) {
		t.Errorf("errors %v", errs)
	}
}

func TestWindow(t *testing.T) {
	dump := make([]byte, 0x100)
	dump[0x40] = 7
	w, err := inspect.Window(dump, 0x1000, 0x1040, 8)
	if err != nil || len(w) != 8 || w[0] != 7 {
		t.Errorf("Window = % x, %v", w, err)
	}
	for _, tc := range []struct{ at, size uint64 }{{0xFFF, 0}, {0x1101, 0}, {0x10F8, 9}} {
		if _, err := inspect.Window(dump, 0x1000, model.GPA(tc.at), tc.size); err == nil {
			t.Errorf("Window(at %#x, size %d) succeeded", tc.at, tc.size)
		}
	}
	// A dump that would run past the top of the address space.
	if _, err := inspect.Window(dump, 0xffffffffffffff01, 0xffffffffffffff01, 0); err == nil || !strings.Contains(err.Error(), "a 256-byte dump at 0xffffffffffffff01: guest physical address 0xffffffffffffff01 + 0x100 overflows") {
		t.Errorf("Window of a dump that wraps: %v", err)
	}
}
