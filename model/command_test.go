package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// goldenCommands are packets computed from the field positions of IHI 0069,
// 6.2 (DW0[7:0] opcode, DW0[63:32] DeviceID, DW1[31:0] EventID,
// DW1[63:32] pINTID, DW1[4:0] Size, DW2[15:0] ICID, DW2[51:8] ITT_addr,
// DW2[51:16] RDbase, DW2[63] V, DW3[51:16] RDbase2) by an independent
// packer, bytes in memory order.
var goldenCommands = []struct {
	cmd model.Command
	hex string
}{
	{model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true}, "0800000010000000040000000000000000000740000000800000000000000000"},
	{model.MAPD{DeviceID: 0x10}, "0800000010000000000000000000000000000000000000000000000000000000"},
	{model.MAPD{DeviceID: 0xFFFFFFFF, Size: 31, ITTAddr: 0xFFFFFFFFFFF00, Valid: true}, "08000000ffffffff1f0000000000000000ffffffffff0f800000000000000000"},
	{model.MAPC{ICID: 1, RDbase: 1, Valid: true}, "0900000000000000000000000000000001000100000000800000000000000000"},
	{model.MAPC{ICID: 0xFFFF, RDbase: 0xFFFFFFFFF, Valid: true}, "09000000000000000000000000000000ffffffffffff0f800000000000000000"},
	{model.MAPC{ICID: 3}, "0900000000000000000000000000000003000000000000000000000000000000"},
	{model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1}, "0a00000010000000010000000120000001000000000000000000000000000000"},
	{model.MAPI{DeviceID: 0xFFFFFFFF, EventID: 8192, ICID: 3}, "0b000000ffffffff002000000000000003000000000000000000000000000000"},
	{model.MOVI{DeviceID: 0x20, EventID: 5, ICID: 2}, "0100000020000000050000000000000002000000000000000000000000000000"},
	{model.DISCARD{DeviceID: 0x10, EventID: 0}, "0f00000010000000000000000000000000000000000000000000000000000000"},
	{model.INV{DeviceID: 1, EventID: 0xFFFFFFFF}, "0c00000001000000ffffffff0000000000000000000000000000000000000000"},
	{model.INT{DeviceID: 0x10, EventID: 1}, "0300000010000000010000000000000000000000000000000000000000000000"},
	{model.CLEAR{DeviceID: 0x10, EventID: 2}, "0400000010000000020000000000000000000000000000000000000000000000"},
	{model.INVALL{ICID: 7}, "0d00000000000000000000000000000007000000000000000000000000000000"},
	{model.SYNC{RDbase: 1}, "0500000000000000000000000000000000000100000000000000000000000000"},
	{model.MOVALL{RDbase1: 1, RDbase2: 3}, "0e00000000000000000000000000000000000100000000000000030000000000"},
}

func TestCommandGoldenEncoding(t *testing.T) {
	for _, g := range goldenCommands {
		t.Run(g.cmd.String(), func(t *testing.T) { checkGolden(t, g.cmd, g.hex) })
	}
}

// checkGolden checks that cmd encodes to the packet hex (bytes in memory
// order) and that the packet decodes back to cmd, with cmd's opcode.
func checkGolden(t *testing.T, cmd model.Command, hex string) {
	t.Helper()
	p, err := cmd.Encode()
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if got := p.Hex(); got != hex {
		t.Errorf("Encode:\n got %s\nwant %s", got, hex)
	}
	want, err := model.ParsePacket(hex)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := model.DecodeCommand(want)
	if err != nil {
		t.Fatalf("DecodeCommand: %v", err)
	}
	if dec != cmd {
		t.Errorf("DecodeCommand = %#v, want %#v", dec, cmd)
	}
	if dec.Opcode() != cmd.Opcode() || want.Opcode() != cmd.Opcode() {
		t.Errorf("opcode %v, packet opcode %v, want %v", dec.Opcode(), want.Opcode(), cmd.Opcode())
	}
}

func TestCommandString(t *testing.T) {
	for _, tc := range []struct {
		cmd  model.Command
		want string
	}{
		{model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1}, "MAPTI dev=0x10 ev=1 lpi=8193 icid=1"},
		{model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true}, "MAPD dev=0x10 bits=5 itt=0x40070000"},
		{model.MAPD{DeviceID: 0x10}, "MAPD dev=0x10 valid=0"},
		{model.MAPC{ICID: 1, RDbase: 1, Valid: true}, "MAPC icid=1 rdbase=1"},
		{model.MAPC{ICID: 1}, "MAPC icid=1 valid=0"},
		{model.MAPI{DeviceID: 0x8, EventID: 8200, ICID: 0}, "MAPI dev=0x8 ev=8200 icid=0"},
		{model.MOVI{DeviceID: 0x8, EventID: 2, ICID: 1}, "MOVI dev=0x8 ev=2 icid=1"},
		{model.DISCARD{DeviceID: 0x8, EventID: 2}, "DISCARD dev=0x8 ev=2"},
		{model.INV{DeviceID: 0x8, EventID: 2}, "INV dev=0x8 ev=2"},
		{model.INT{DeviceID: 0x8, EventID: 2}, "INT dev=0x8 ev=2"},
		{model.CLEAR{DeviceID: 0x8, EventID: 2}, "CLEAR dev=0x8 ev=2"},
		{model.INVALL{ICID: 4}, "INVALL icid=4"},
		{model.SYNC{RDbase: 2}, "SYNC rdbase=2"},
		{model.MOVALL{RDbase1: 0, RDbase2: 1}, "MOVALL rdbase1=0 rdbase2=1"},
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

func TestEncodeRefusesFieldsThatDoNotFit(t *testing.T) {
	for _, tc := range []struct {
		cmd   model.Command
		field string
	}{
		{model.MAPD{DeviceID: 1, Size: 32, Valid: true}, "Size 32"},
		{model.MAPD{DeviceID: 1, ITTAddr: 0x40070010, Valid: true}, "ITT_addr 0x40070010"},
		{model.MAPD{DeviceID: 1, ITTAddr: 1 << 52, Valid: true}, "ITT_addr 0x10000000000000"},
		{model.MAPC{ICID: 1, RDbase: 1 << 36, Valid: true}, "RDbase 0x1000000000"},
		{model.SYNC{RDbase: 1 << 40}, "RDbase 0x10000000000"},
		{model.MOVALL{RDbase1: 0, RDbase2: 1 << 36}, "RDbase2 0x1000000000"},
	} {
		_, err := tc.cmd.Encode()
		if !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%#v.Encode() error = %v, want ErrInvalidArgument naming %q", tc.cmd, err, tc.field)
		}
	}
}

func TestDecodeNonGICv3Opcodes(t *testing.T) {
	for _, tc := range []struct {
		op       byte
		want     string
		sentinel error
	}{
		{0x00, "unknown opcode 0x00", model.ErrInvalidArgument},
		{0x02, "unknown opcode 0x02", model.ErrInvalidArgument},
		{0x20, "unknown opcode 0x20", model.ErrInvalidArgument},
		{0x24, "unknown opcode 0x24", model.ErrInvalidArgument},
		{0x2C, "unknown opcode 0x2c", model.ErrInvalidArgument},
		{0x2F, "unknown opcode 0x2f", model.ErrInvalidArgument},
		{0x7F, "unknown opcode 0x7f", model.ErrInvalidArgument},
		{0xFF, "unknown opcode 0xff", model.ErrInvalidArgument},
	} {
		var p model.Packet
		p[0] = tc.op
		p[4] = 0x10
		cmd, err := model.DecodeCommand(p)
		if cmd != nil {
			t.Errorf("opcode %#x decoded to %v, want no command", tc.op, cmd)
		}
		var oe *model.OpcodeError
		if !errors.As(err, &oe) || oe.Opcode != model.Opcode(tc.op) {
			t.Fatalf("opcode %#x: error %v, want *OpcodeError", tc.op, err)
		}
		if err.Error() != tc.want || !errors.Is(err, tc.sentinel) {
			t.Errorf("opcode %#x: error %q (is %v: %v), want %q", tc.op, err, tc.sentinel, errors.Is(err, tc.sentinel), tc.want)
		}
		if s := p.String(); !strings.HasPrefix(s, tc.want) {
			t.Errorf("Packet.String() = %q, want prefix %q", s, tc.want)
		}
	}
}

// TestOpcodeErrorForGICv4 pins what an ITS without GICv4 reports for a V*
// command it refuses (the simulator constructs this error; DecodeCommand
// itself decodes every V* command).
func TestOpcodeErrorForGICv4(t *testing.T) {
	for _, tc := range []struct {
		op   model.Opcode
		want string
	}{
		{model.OpVMAPP, "VMAPP (opcode 0x29): GICv4 command, known but not supported"},
		{model.OpINVDB, "INVDB (opcode 0x2e): GICv4 command, known but not supported"},
		{model.OpVMOVI, "VMOVI (opcode 0x21): GICv4 command, known but not supported"},
	} {
		err := &model.OpcodeError{Opcode: tc.op}
		if err.Error() != tc.want || !errors.Is(err, model.ErrNotSupported) || errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("%v: error %q, want %q wrapping ErrNotSupported only", tc.op, err, tc.want)
		}
		var p model.Packet
		p[0] = byte(tc.op)
		if cmd, err := model.DecodeCommand(p); err != nil || cmd.Opcode() != tc.op {
			t.Errorf("DecodeCommand(%v packet) = %v, %v; want the command", tc.op, cmd, err)
		}
	}
}

func TestDecodeIgnoresRES0Bits(t *testing.T) {
	p, _ := model.MAPTI{DeviceID: 7, EventID: 3, INTID: 9000, ICID: 2}.Encode()
	p[1], p[2], p[3] = 0xFF, 0xFF, 0xFF // DW0[31:8]
	p[18] = 0xAA                        // DW2[23:16]: RES0 for MAPTI
	cmd, err := model.DecodeCommand(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := (model.MAPTI{DeviceID: 7, EventID: 3, INTID: 9000, ICID: 2}); cmd != want {
		t.Errorf("decoded %v, want %v", cmd, want)
	}
}

func TestParsePacket(t *testing.T) {
	p, err := model.ParsePacket("0x0a000000_10000000 01000000 01200000 01000000 00000000 00000000 00000000")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.String(); got != "MAPTI dev=0x10 ev=1 lpi=8193 icid=1" {
		t.Errorf("got %q", got)
	}
	for _, bad := range []string{"", "0a", strings.Repeat("0", 66), strings.Repeat("zz", 32)} {
		if _, err := model.ParsePacket(bad); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("ParsePacket(%q) error = %v, want ErrInvalidArgument", bad, err)
		}
	}
}

// gicv4Opcodes are the V* opcodes, for the fuzz target to steer packets to.
var gicv4Opcodes = []model.Opcode{
	model.OpVMOVI, model.OpVMOVP, model.OpVSGI, model.OpVSYNC, model.OpVMAPP,
	model.OpVMAPTI, model.OpVMAPI, model.OpVINVALL, model.OpINVDB,
}

// FuzzDecodeCommand checks the codec's invariants over arbitrary packets: a
// command comes back exactly when there is no error, it re-encodes, the
// re-encoded packet decodes to the same command, and it holds no bit the
// packet did not (decoding drops RES0 bits, encoding adds nothing). Each
// input is checked as it is and again with its opcode replaced by a GICv4
// one (picked by its first byte), so every V* command sees random fields.
func FuzzDecodeCommand(f *testing.F) {
	for _, g := range append(goldenCommands, goldenVCommands...) {
		p, _ := model.ParsePacket(g.hex)
		f.Add(p[:])
	}
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p model.Packet
		copy(p[:], b)
		checkDecodeRoundTrip(t, p)
		p[0] = byte(gicv4Opcodes[int(p[0])%len(gicv4Opcodes)])
		if _, err := model.DecodeCommand(p); err != nil {
			t.Fatalf("GICv4 packet %s: %v, want it decoded", p.Hex(), err)
		}
		checkDecodeRoundTrip(t, p)
	})
}

func checkDecodeRoundTrip(t *testing.T, p model.Packet) {
	t.Helper()
	cmd, err := model.DecodeCommand(p)
	if (cmd == nil) == (err == nil) {
		t.Fatalf("DecodeCommand = %v, %v: want exactly one of command and error", cmd, err)
	}
	if err != nil {
		var oe *model.OpcodeError
		if !errors.As(err, &oe) || oe.Opcode != p.Opcode() {
			t.Fatalf("error %v is not an *OpcodeError for %v", err, p.Opcode())
		}
		return
	}
	q, err := cmd.Encode()
	if err != nil {
		t.Fatalf("decoded %v does not re-encode: %v", cmd, err)
	}
	again, err := model.DecodeCommand(q)
	if err != nil || again != cmd {
		t.Fatalf("decode(encode(%v)) = %v, %v", cmd, again, err)
	}
	for i := range q {
		if q[i]&^p[i] != 0 {
			t.Fatalf("%v re-encodes to %s, with bits the packet %s did not have", cmd, q.Hex(), p.Hex())
		}
	}
	if cmd.String() == "" || cmd.Opcode() != p.Opcode() {
		t.Fatalf("String %q, opcode %v for packet opcode %v", cmd.String(), cmd.Opcode(), p.Opcode())
	}
}
