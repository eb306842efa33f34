package model_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

// The GICv4.1 ITS's GITS_TYPER: the GICv4.0 one with VMAPP, VSGI, SVPET = 1
// and nID, nothing else changed.
func TestGICv41ITSTyper(t *testing.T) {
	ty := model.GICv41ITSTyper
	if !ty.IsGICv41() || !ty.VMAPP() || !ty.VSGI() || ty.SVPET() != 1 || !ty.NID() {
		t.Errorf("GICv41ITSTyper %#x: VMAPP %v VSGI %v SVPET %d nID %v", uint64(ty), ty.VMAPP(), ty.VSGI(), ty.SVPET(), ty.NID())
	}
	if got, want := uint64(ty)&^(0x1F<<39), uint64(model.GICv4ITSTyper); got != want {
		t.Errorf("GICv41ITSTyper without bits 43:39 = %#x, want GICv4ITSTyper %#x", got, want)
	}
	if v4 := model.GICv4ITSTyper; v4.IsGICv41() || v4.VMAPP() || v4.VSGI() || v4.SVPET() != 0 || v4.NID() {
		t.Errorf("GICv4ITSTyper %#x reads as having GICv4.1 fields", uint64(v4))
	}
	if model.KVMITSTyper.IsGICv41() {
		t.Error("KVMITSTyper reads as GICv4.1")
	}
}

// Golden encodings of the GICv4.1 register forms, from the register
// pages' field positions.
func TestGICv41RegisterGolden(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uint64
	}{
		{"VPENDBASER schedule vPE 5, Group 1", uint64(model.MakeVPendBaser41(5, true, false, true, false)), 0x8400_0000_0000_0005},
		{"VPENDBASER schedule vPE 0xFFFF, both groups", uint64(model.MakeVPendBaser41(0xFFFF, true, true, true, false)), 0x8C00_0000_0000_FFFF},
		{"VPENDBASER deschedule with doorbell", uint64(model.MakeVPendBaser41(5, false, false, true, true)), 0x4400_0000_0000_0005},
		{"VPENDBASER all clear", uint64(model.MakeVPendBaser41(0, false, false, false, false)), 0},
		{"INVLPIR V vPE 7 vINTID 8200", model.MakeInvVLPIR(7, 8200), 0x8000_0007_0000_2008},
		{"INVALLR V vPE 1", model.MakeInvVLPIR(1, 0), 0x8000_0001_0000_0000},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %#x, want %#x", tc.name, tc.got, tc.want)
		}
	}
	p := model.MakeVPendBaser41(0x1234, true, true, false, true)
	if !p.Valid() || !p.VGrp0En() || p.VGrp1En() || !p.Doorbell() || p.VPEID() != 0x1234 || p.PendingLast() || p.Dirty() {
		t.Errorf("VPendBaser41 %#x decodes wrong", uint64(p))
	}

	for _, tc := range []struct {
		addr    model.GPA
		page, n int
		ind, z  bool
		want    uint64
	}{
		// Valid 63, Page_Size 54:53 = 2 (64K), Z 52, PA, Sh 11:10 = 1, Inner 9:7 = 7, Size 0.
		{0x4500_0000, model.PageSize64K, 1, false, true, 0x8050_0000_4500_0780},
		// 4K pages (0), Indirect 55, Size 3.
		{0x4500_1000, model.PageSize4K, 4, true, false, 0x8080_0000_4500_1783},
		// 16K pages (1), 128 pages (Size 0x7F).
		{0x4500_4000, model.PageSize16K, 128, false, false, 0x8020_0000_4500_47FF},
	} {
		p, err := model.MakeVPropBaser41(tc.addr, tc.page, tc.n, tc.ind, tc.z)
		if err != nil || uint64(p) != tc.want {
			t.Errorf("MakeVPropBaser41(%v, %d, %d, %v, %v) = %#x, %v; want %#x", tc.addr, tc.page, tc.n, tc.ind, tc.z, uint64(p), err, tc.want)
			continue
		}
		if !p.Valid() || p.Addr() != tc.addr || p.PageSize() != tc.page || p.Pages() != tc.n || p.Indirect() != tc.ind || p.Z() != tc.z || p.EntrySize() != 8 {
			t.Errorf("VPropBaser41 %#x decodes wrong", uint64(p))
		}
	}
	for _, bad := range []struct {
		addr    model.GPA
		page, n int
	}{{0x4500_0000, 8192, 1}, {0x4500_0000, model.PageSize64K, 0}, {0x4500_0000, model.PageSize64K, 129}, {0x4500_1000, model.PageSize64K, 1}, {1 << 52, model.PageSize4K, 1}} {
		if _, err := model.MakeVPropBaser41(bad.addr, bad.page, bad.n, false, false); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("MakeVPropBaser41(%v, %d, %d): error %v, want ErrInvalidArgument", bad.addr, bad.page, bad.n, err)
		}
	}
}

func TestITSSGIRAndTyper2(t *testing.T) {
	v, err := model.MakeITSSGIR(5, 3)
	if err != nil || v != 0x0000_0005_0000_0003 {
		t.Errorf("MakeITSSGIR(5, 3) = %#x, %v; want 0x500000003", v, err)
	}
	if _, err := model.MakeITSSGIR(1, 16); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("MakeITSSGIR(1, 16): error %v, want ErrInvalidArgument", err)
	}
	if !model.GITS_SGIR.Is64Bit() || model.GITS_SGIR.String() != "GITS_SGIR" || model.GICR_VSGIPENDR.String() != "GICR_VSGIPENDR" {
		t.Errorf("GITS_SGIR 64-bit %v, names %v %v", model.GITS_SGIR.Is64Bit(), model.GITS_SGIR, model.GICR_VSGIPENDR)
	}
	for _, tc := range []struct {
		bits int
		want uint64
	}{{16, 0x8F}, {1, 0x80}, {10, 0x89}} {
		ty, err := model.MakeGICDTyper2(tc.bits)
		if err != nil || uint64(ty) != tc.want || ty.VPEIDBits() != tc.bits {
			t.Errorf("MakeGICDTyper2(%d) = %#x (%d bits), %v; want %#x", tc.bits, uint64(ty), ty.VPEIDBits(), err, tc.want)
		}
	}
	if model.GICDTyper2(0).VPEIDBits() != 16 {
		t.Error("GICD_TYPER2 without VIL: want 16 vPEID bits")
	}
	for _, bad := range []int{0, 17} {
		if _, err := model.MakeGICDTyper2(bad); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("MakeGICDTyper2(%d): error %v, want ErrInvalidArgument", bad, err)
		}
	}
}
