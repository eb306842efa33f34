package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// goldenVCommands are GICv4 packets, bytes in memory order. Each was
// computed twice: by hand from the field positions of IHI 0069H (5.3.19
// VMAPP, 5.3.20 VMAPTI, 5.3.21 VMOVI; the others as model/vcommand.go
// lists them), with an independent packer that refuses a value wider than
// its field; and from the fields Linux's builder for that command writes
// (drivers/irqchip/irq-gic-v3-its.c, its_build_*_cmd over the its_encode_*
// helpers, on a zeroed descriptor), as the comment on each row says. The
// two agree on every row. VMAPI has no Linux builder; rows marked "limits"
// fill every field to its widest value.
var goldenVCommands = []struct {
	cmd model.Command
	hex string
}{
	// its_build_vmapp_cmd, GICv4.1, valid: vPE 5 on CPU 2 (PTA=0, target
	// 2<<16), VPT 0x8_1234_0000 with 16 vINTID bits, first map (Alloc=1),
	// PTZ=0, vprop_page 0x8_5670_0000, vpe_db_lpi 8192.
	{model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true, Alloc: true, VCONFAddr: 0x856700000, DefaultDoorbell: 8192},
		"2901705608000000002000000500000000000200000000800f00341208000000"},
	// its_build_vmapp_cmd, GICv4.1, V=0, the vPE's last unmap (Alloc=1).
	{model.VMAPP{VPEID: 5, Alloc: true}, "2901000000000000000000000500000000000000000000000000000000000000"},
	// its_build_vmapp_cmd, GICv4.0, valid: as above without the 4.1 fields.
	{model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true},
		"2900000000000000000000000500000000000200000000800f00341208000000"},
	// its_build_vmapp_cmd, GICv4.0, V=0: only vPEID is written.
	{model.VMAPP{VPEID: 5}, "2900000000000000000000000500000000000000000000000000000000000000"},
	// its_build_vmapp_cmd, GICv4.0, PTA=1: RD frame at 0x8_0A0A_0000.
	{model.VMAPP{VPEID: 5, RDbase: 0x80A0A, VPTAddr: 0x812340000, VPTSize: 15, Valid: true},
		"2900000000000000000000000500000000000a0a080000800f00341208000000"},
	// limits: every VMAPP field at its widest, VPT_size DW3[7:0] included.
	{model.VMAPP{VPEID: 0xFFFF, RDbase: 1<<36 - 1, VPTAddr: 1<<52 - 1<<16, VPTSize: 0xFF, Valid: true, Alloc: true, PTZ: true, VCONFAddr: 1<<52 - 1<<16, DefaultDoorbell: 0xFFFFFFFF},
		"2903ffffffff0f00ffffffffffff00000000ffffffff0f80ff00ffffffff0f00"},
	// its_build_vmapti_cmd, GICv4.0 with doorbells: vpe_db_lpi 0x2000.
	{model.VMAPTI{DeviceID: 0x10, EventID: 3, VINTID: 8195, VPEID: 5, Doorbell: 0x2000},
		"2a00000010000000030000000500000003200000002000000000000000000000"},
	// its_build_vmapti_cmd, GICv4.1: the doorbell is always 1023.
	{model.VMAPTI{DeviceID: 0x10, EventID: 3, VINTID: 8195, VPEID: 5, Doorbell: model.NoDoorbell},
		"2a00000010000000030000000500000003200000ff0300000000000000000000"},
	// VMAPI: no Linux builder; VMAPTI's fields without vINTID (QEMU).
	{model.VMAPI{DeviceID: 0x10, EventID: 3, VPEID: 5, Doorbell: 0x2000},
		"2b00000010000000030000000500000000000000002000000000000000000000"},
	// its_build_vmovi_cmd, GICv4.0: D=1 (Linux always sets it), db 0x2001.
	{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6, D: true, Doorbell: 0x2001},
		"2100000010000000030000000600000001000000012000000000000000000000"},
	// its_build_vmovi_cmd, GICv4.1: D=1, db 1023.
	{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6, D: true, Doorbell: model.NoDoorbell},
		"2100000010000000030000000600000001000000ff0300000000000000000000"},
	// limits, and D=0 with a doorbell in the field (no Linux builder).
	{model.VMOVI{DeviceID: 0xFFFFFFFF, EventID: 0xFFFFFFFF, VPEID: 0xFFFF, Doorbell: 0x2001},
		"21000000ffffffffffffffffffff000000000000012000000000000000000000"},
	// its_build_vmovp_cmd, GICv4.0, some ITS with GITS_TYPER.VMOVP=0:
	// seq_num 7, its_list 0b101, vPE 5 to CPU 3.
	{model.VMOVP{SequenceNumber: 7, ITSList: 5, VPEID: 5, RDbase: 3},
		"2200000007000000050000000500000000000300000000000000000000000000"},
	// its_build_vmovp_cmd, GICv4.1, every ITS VMOVP=1: DB=1, vpe_db_lpi 0x2000.
	{model.VMOVP{VPEID: 5, RDbase: 3, DB: true, DefaultDoorbell: 0x2000},
		"2200000000000000000000000500000000000300000000800020000000000000"},
	// limits.
	{model.VMOVP{SequenceNumber: 0xFFFF, ITSList: 0xFFFF, VPEID: 0xFFFF, RDbase: 1<<36 - 1, DB: true, DefaultDoorbell: 0xFFFFFFFF},
		"22000000ffff0000ffff0000ffff00000000ffffffff0f80ffffffff00000000"},
	// its_build_vsync_cmd, its_build_vinvall_cmd, its_build_invdb_cmd.
	{model.VSYNC{VPEID: 5}, "2500000000000000000000000500000000000000000000000000000000000000"},
	{model.VINVALL{VPEID: 5}, "2d00000000000000000000000500000000000000000000000000000000000000"},
	{model.INVDB{VPEID: 5}, "2e00000000000000000000000500000000000000000000000000000000000000"},
	// its_build_vsgi_cmd, configuration write: SGI 3, priority 0xA0,
	// Group 1, enabled, Clear=0.
	{model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Enable: true},
		"2305a00003000000000000000500000000000000000000000000000000000000"},
	// its_build_vsgi_cmd, pending clear (its_sgi_irq_domain_deactivate's
	// second VSGI): Clear=1, Enable=0.
	{model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Clear: true},
		"2306a00003000000000000000500000000000000000000000000000000000000"},
	// its_build_vsgi_cmd, disabled Group 0 SGI 0 at priority 0: no flag set.
	{model.VSGI{VPEID: 1}, "2300000000000000000000000100000000000000000000000000000000000000"},
	// limits: SGI 15, priority 0xF0, Group 0, enabled.
	{model.VSGI{VPEID: 0xFFFF, VINTID: 15, Priority: 0xF0, Enable: true},
		"2301f0000f00000000000000ffff000000000000000000000000000000000000"},
	// all three flags (no Linux builder sends Enable with Clear).
	{model.VSGI{VPEID: 2, Priority: 0x80, Group: true, Enable: true, Clear: true},
		"2307800000000000000000000200000000000000000000000000000000000000"},
}

func TestVCommandGoldenEncoding(t *testing.T) {
	seen := map[model.Opcode]bool{}
	for _, g := range goldenVCommands {
		t.Run(g.cmd.String(), func(t *testing.T) {
			checkGolden(t, g.cmd, g.hex)
			if !g.cmd.Opcode().IsGICv4() {
				t.Errorf("opcode %v is not a GICv4 one", g.cmd.Opcode())
			}
			seen[g.cmd.Opcode()] = true
		})
	}
	for op := range 256 {
		if o := model.Opcode(op); o.IsGICv4() && !seen[o] {
			t.Errorf("no golden packet for %v", o)
		}
	}
}

func TestVCommandString(t *testing.T) {
	for _, tc := range []struct {
		cmd  model.Command
		want string
	}{
		{model.VMAPTI{DeviceID: 0x10, EventID: 1, VINTID: 8192, VPEID: 3, Doorbell: model.NoDoorbell}, "VMAPTI dev=0x10 ev=1 vintid=8192 vpeid=3 db=1023"},
		{model.VMAPI{DeviceID: 0x10, EventID: 8200, VPEID: 3, Doorbell: 8192}, "VMAPI dev=0x10 ev=8200 vpeid=3 db=8192"},
		{model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true}, "VMAPP vpeid=5 rdbase=2 vpt=0x812340000 bits=16"},
		{model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true, Alloc: true, VCONFAddr: 0x856700000, DefaultDoorbell: 8192},
			"VMAPP vpeid=5 rdbase=2 vpt=0x812340000 bits=16 alloc=1 ptz=0 vconf=0x856700000 db=8192"},
		{model.VMAPP{VPEID: 5, Valid: true, PTZ: true}, "VMAPP vpeid=5 rdbase=0 vpt=0x0 bits=1 alloc=0 ptz=1 vconf=0x0 db=0"},
		{model.VMAPP{VPEID: 5}, "VMAPP vpeid=5 valid=0"},
		{model.VMAPP{VPEID: 5, Alloc: true}, "VMAPP vpeid=5 valid=0 alloc=1"},
		{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6, D: true, Doorbell: 8193}, "VMOVI dev=0x10 ev=3 vpeid=6 db=8193"},
		{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6}, "VMOVI dev=0x10 ev=3 vpeid=6"},
		{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6, Doorbell: 8193}, "VMOVI dev=0x10 ev=3 vpeid=6 d=0 db=8193"},
		{model.VMOVP{VPEID: 5, RDbase: 3}, "VMOVP vpeid=5 rdbase=3"},
		{model.VMOVP{SequenceNumber: 7, ITSList: 5, VPEID: 5, RDbase: 3}, "VMOVP vpeid=5 rdbase=3 seq=7 itslist=0x5"},
		{model.VMOVP{VPEID: 5, RDbase: 3, DB: true, DefaultDoorbell: 8192}, "VMOVP vpeid=5 rdbase=3 db=8192"},
		{model.VMOVP{VPEID: 5, RDbase: 3, DefaultDoorbell: 8192}, "VMOVP vpeid=5 rdbase=3 dbvalid=0 db=8192"},
		{model.VSYNC{VPEID: 5}, "VSYNC vpeid=5"},
		{model.VINVALL{VPEID: 6}, "VINVALL vpeid=6"},
		{model.INVDB{VPEID: 7}, "INVDB vpeid=7"},
		{model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Enable: true}, "VSGI vpeid=5 vintid=3 prio=0xa0 group=1 enable=1 clear=0"},
		{model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Clear: true}, "VSGI vpeid=5 vintid=3 prio=0xa0 group=1 enable=0 clear=1"},
		{model.VSGI{VPEID: 1}, "VSGI vpeid=1 vintid=0 prio=0x00 group=0 enable=0 clear=0"},
	} {
		if got := tc.cmd.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
		p, err := tc.cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if got := p.String(); got != tc.want {
			t.Errorf("Packet.String() = %q, want %q", got, tc.want)
		}
	}
}

func TestVCommandEncodeRefusesFieldsThatDoNotFit(t *testing.T) {
	for _, tc := range []struct {
		cmd   model.Command
		field string
	}{
		{model.VMAPP{VPEID: 1, RDbase: 1 << 36, Valid: true}, "VMAPP: RDbase 0x1000000000"},
		{model.VMAPP{VPEID: 1, VPTAddr: 0x812348000, Valid: true}, "VMAPP: VPT_addr 0x812348000"},
		{model.VMAPP{VPEID: 1, VPTAddr: 1 << 52, Valid: true}, "VMAPP: VPT_addr 0x10000000000000"},
		{model.VMAPP{VPEID: 1, VCONFAddr: 0x1000, Valid: true}, "VMAPP: VCONF_addr 0x1000"},
		{model.VMAPP{VPEID: 1, VCONFAddr: 1 << 60}, "VMAPP: VCONF_addr 0x1000000000000000"},
		{model.VMOVP{VPEID: 1, RDbase: 1 << 40}, "VMOVP: RDbase 0x10000000000"},
		{model.VSGI{VPEID: 1, VINTID: 16}, "VSGI: vINTID 16"},
		{model.VSGI{VPEID: 1, VINTID: 3, Priority: 0xA8}, "VSGI: Priority 0xa8"},
		{model.VSGI{VPEID: 1, Priority: 0x01}, "VSGI: Priority 0x1"},
	} {
		p, err := tc.cmd.Encode()
		if !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%#v.Encode() error = %v, want ErrInvalidArgument naming %q", tc.cmd, err, tc.field)
		}
		if p != (model.Packet{}) {
			t.Errorf("%#v.Encode() returned packet %s with its error, want none", tc.cmd, p.Hex())
		}
	}
}

// TestVCommandDecodeIgnoresRES0Bits sets every bit that no field of the
// command uses and expects the same command back.
func TestVCommandDecodeIgnoresRES0Bits(t *testing.T) {
	for _, tc := range []struct {
		cmd  model.Command
		res0 [4]uint64 // bits set on top of the encoding
	}{
		{model.VMAPP{VPEID: 5, RDbase: 2, VPTAddr: 0x812340000, VPTSize: 15, Valid: true, Alloc: true, VCONFAddr: 0x856700000, DefaultDoorbell: 8192},
			[4]uint64{0xFFF0_0000_0000_FC00, 0xFFFF_0000_0000_0000, 0x7FF0_0000_0000_FFFF, 0xFFF0_0000_0000_FF00}},
		{model.VMAPTI{DeviceID: 0x10, EventID: 3, VINTID: 8195, VPEID: 5, Doorbell: 8192},
			[4]uint64{0xFFFF_FF00, 0xFFFF_0000_0000_0000, 0, ^uint64(0)}},
		{model.VMAPI{DeviceID: 0x10, EventID: 3, VPEID: 5, Doorbell: 8192},
			[4]uint64{0xFFFF_FF00, 0xFFFF_0000_0000_0000, 0xFFFF_FFFF, ^uint64(0)}},
		{model.VMOVI{DeviceID: 0x10, EventID: 3, VPEID: 6, D: true, Doorbell: 8193},
			[4]uint64{0xFFFF_FF00, 0xFFFF_0000_0000_0000, 0xFFFF_FFFE, ^uint64(0)}},
		{model.VMOVP{SequenceNumber: 7, ITSList: 5, VPEID: 5, RDbase: 3, DB: true, DefaultDoorbell: 8192},
			[4]uint64{0xFFFF_0000_FFFF_FF00, 0xFFFF_0000_FFFF_0000, 0x7FF0_0000_0000_FFFF, 0xFFFF_FFFF_0000_0000}},
		{model.VSYNC{VPEID: 5}, [4]uint64{^uint64(0xFF), 0xFFFF_0000_FFFF_FFFF, ^uint64(0), ^uint64(0)}},
		{model.VINVALL{VPEID: 5}, [4]uint64{^uint64(0xFF), 0xFFFF_0000_FFFF_FFFF, ^uint64(0), ^uint64(0)}},
		{model.INVDB{VPEID: 5}, [4]uint64{^uint64(0xFF), 0xFFFF_0000_FFFF_FFFF, ^uint64(0), ^uint64(0)}},
		{model.VSGI{VPEID: 5, VINTID: 3, Priority: 0xA0, Group: true, Enable: true},
			[4]uint64{0xFFFF_FFF0_FF0F_F800, 0xFFFF_0000_FFFF_FFFF, ^uint64(0), ^uint64(0)}},
	} {
		p, err := tc.cmd.Encode()
		if err != nil {
			t.Fatal(err)
		}
		var q model.Packet
		for i, extra := range tc.res0 {
			v := p.DW(i) | extra
			for b := range 8 {
				q[8*i+b] = byte(v >> (8 * b))
			}
		}
		got, err := model.DecodeCommand(q)
		if err != nil || got != tc.cmd {
			t.Errorf("%v with RES0 bits set (%s) decoded to %v, %v", tc.cmd, q.Hex(), got, err)
		}
	}
}
