package kvm

import (
	"fmt"
	"testing"
)

// guestGolden is the guest program as GNU objdump
// (aarch64-linux-gnu-objdump -D -b binary -m aarch64) disassembles it: an
// encoder independent of ours. A change to the program must change this
// table, checked the same way.
var guestGolden = []struct {
	word uint32
	asm  string // objdump's spelling
}{
	{0xd28000e1, "mov x1, #0x7"},
	{0xd518cca1, "msr icc_sre_el1, x1"},
	{0xd5033fdf, "isb"},
	{0xd2800021, "mov x1, #0x1"},
	{0xd518cce1, "msr icc_igrpen1_el1, x1"},
	{0xd2801fe1, "mov x1, #0xff"},
	{0xd5184601, "msr icc_pmr_el1, x1"},
	{0xd5033fdf, "isb"},
	{0xf9400001, "ldr x1, [x0]"},
	{0x92401c22, "and x2, x1, #0xff"},
	{0xd360fc23, "lsr x3, x1, #32"},
	{0x92800004, "mov x4, #0xffffffffffffffff"},
	{0xf100045f, "cmp x2, #0x1"},
	{0x54000140, "b.eq 0x5c"},
	{0xf100085f, "cmp x2, #0x2"},
	{0x54000140, "b.eq 0x64"},
	{0xf1000c5f, "cmp x2, #0x3"},
	{0x54000180, "b.eq 0x74"},
	{0xf100105f, "cmp x2, #0x4"},
	{0x54000200, "b.eq 0x8c"},
	{0xf100145f, "cmp x2, #0x5"},
	{0x54000180, "b.eq 0x84"},
	{0x14000010, "b 0x98"},
	{0xd538cc04, "mrs x4, icc_iar1_el1"},
	{0x1400000e, "b 0x98"},
	{0xd518cc23, "msr icc_eoir1_el1, x3"},
	{0xd5033fdf, "isb"},
	{0xd2800004, "mov x4, #0x0"},
	{0x1400000a, "b 0x98"},
	{0xd5184603, "msr icc_pmr_el1, x3"},
	{0xd5033fdf, "isb"},
	{0xd2800004, "mov x4, #0x0"},
	{0x14000006, "b 0x98"},
	{0xd538cb64, "mrs x4, icc_rpr_el1"},
	{0x14000004, "b 0x98"},
	{0xf900041f, "str xzr, [x0, #8]"},
	{0xd503207f, "wfi"},
	{0x17ffffff, "b 0x90"},
	{0xf9000404, "str x4, [x0, #8]"},
	{0x17ffffe1, "b 0x20"},
}

func TestGuestProgramGolden(t *testing.T) {
	insts, loop := guestProgram()
	if len(insts) != len(guestGolden) {
		t.Fatalf("guest program has %d instructions, golden table %d", len(insts), len(guestGolden))
	}
	for i, in := range insts {
		if g := guestGolden[i]; in.Word != g.word {
			t.Errorf("%#x: %s encodes as %08x, want %08x (%s)", 4*i, in.Asm, in.Word, g.word, g.asm)
		}
	}
	if got := guestGolden[loop].asm; got != "ldr x1, [x0]" {
		t.Errorf("loop label at %#x = %q, want the request read", 4*loop, got)
	}
	img, off := guestImage()
	if len(img) != 4*len(insts) || off != uint64(4*loop) {
		t.Errorf("guestImage: %d bytes, loop at %#x", len(img), off)
	}
	if fmt.Sprintf("%02x", img[:4]) != "e10080d2" {
		t.Errorf("image is not little-endian: % x", img[:4])
	}
}

func TestGuestRequest(t *testing.T) {
	if got := guestRequest(opEOI, 8193); got != 0x0000_2001_0000_0002 {
		t.Errorf("guestRequest(eoi, 8193) = %#x", got)
	}
}
