package model_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

func TestKVMITSTyper(t *testing.T) {
	ty := model.KVMITSTyper
	if !ty.Physical() || ty.ITTEntrySize() != 8 || ty.EventIDBits() != 16 || ty.DeviceIDBits() != 16 ||
		ty.PTA() || ty.HCC() != 0 || ty.CIL() || ty.ICIDBits() != 16 {
		t.Errorf("KVM's GITS_TYPER 0x1EF71 decodes to physical=%v itt=%d ev=%d dev=%d pta=%v hcc=%d icid=%d",
			ty.Physical(), ty.ITTEntrySize(), ty.EventIDBits(), ty.DeviceIDBits(), ty.PTA(), ty.HCC(), ty.ICIDBits())
	}
	made, err := model.MakeITSTyper(8, 16, 16, 16)
	if err != nil || made != model.KVMITSTyper {
		t.Errorf("MakeITSTyper(8,16,16,16) = %#x, %v; want KVM's %#x", uint64(made), err, uint64(model.KVMITSTyper))
	}
	small, err := model.MakeITSTyper(8, 5, 10, 4)
	if err != nil || small.EventIDBits() != 5 || small.DeviceIDBits() != 10 || small.ICIDBits() != 4 || !small.CIL() {
		t.Errorf("MakeITSTyper(8,5,10,4) = %#x, %v", uint64(small), err)
	}
	if _, err := model.MakeITSTyper(8, 33, 16, 16); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("33 EventID bits: error = %v", err)
	}
}

func TestBaser(t *testing.T) {
	reset := model.MakeBaser(model.BaserDevices, 8)
	if reset.Valid() || reset.Type() != model.BaserDevices || reset.EntrySize() != 8 {
		t.Fatalf("reset %#x: valid=%v type=%v entry=%d", uint64(reset), reset.Valid(), reset.Type(), reset.EntrySize())
	}
	for _, tc := range []struct {
		addr     model.GPA
		page     int
		pages    int
		indirect bool
		raw      uint64
	}{
		{0x40010000, model.PageSize64K, 8, false, 0x8107000040010207},
		{0x40010000, model.PageSize4K, 1, true, 0xC107000040010000},
		{0x40014000, model.PageSize16K, 256, false, 0x81070000400141FF},
		// 64 KiB pages carry address bits 51:48 in bits 15:12.
		{0xA_0000_4001_0000, model.PageSize64K, 1, false, 0x810700004001A200},
	} {
		b, err := reset.WithTable(tc.addr, tc.page, tc.pages, tc.indirect)
		if err != nil {
			t.Fatalf("WithTable(%v, %d, %d): %v", tc.addr, tc.page, tc.pages, err)
		}
		if uint64(b) != tc.raw {
			t.Errorf("WithTable(%v, %d, %d, %v) = %#x, want %#x", tc.addr, tc.page, tc.pages, tc.indirect, uint64(b), tc.raw)
		}
		if b.Addr() != tc.addr || b.PageSize() != tc.page || b.Pages() != tc.pages || b.Indirect() != tc.indirect ||
			!b.Valid() || b.Type() != model.BaserDevices || b.EntrySize() != 8 {
			t.Errorf("%#x decodes to addr=%v page=%d pages=%d indirect=%v", uint64(b), b.Addr(), b.PageSize(), b.Pages(), b.Indirect())
		}
	}
	for _, bad := range []struct {
		addr  model.GPA
		page  int
		pages int
	}{
		{0x40010000, 8192, 1},
		{0x40011000, model.PageSize64K, 1},
		{0x40010000, model.PageSize64K, 0},
		{0x40010000, model.PageSize64K, 257},
		{1 << 48, model.PageSize4K, 1},
	} {
		if _, err := reset.WithTable(bad.addr, bad.page, bad.pages, false); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("WithTable(%v, %d, %d) error = %v, want ErrInvalidArgument", bad.addr, bad.page, bad.pages, err)
		}
	}
}

func TestCBASERAndRedistributorRegisters(t *testing.T) {
	c, err := model.MakeCBASER(0x40000000, 16)
	// Valid | InnerCache RaWaWb (61:59) | address | Inner Shareable (11:10) | 16 pages.
	if err != nil || uint64(c) != 0xB80000004000040F || c.Addr() != 0x40000000 || c.SizeBytes() != 64<<10 {
		t.Errorf("MakeCBASER = %#x, %v", uint64(c), err)
	}
	p, err := model.MakePropBaser(0x40100000, 16)
	// address | Inner Shareable (11:10) | InnerCache RaWaWb (9:7) | IDbits 15.
	if err != nil || uint64(p) != 0x4010078F || p.IDBits() != 16 || p.Addr() != 0x40100000 {
		t.Errorf("MakePropBaser = %#x, %v", uint64(p), err)
	}
	q, err := model.MakePendBaser(0x40200000, true)
	if err != nil || uint64(q) != 0x4000000040200780 || !q.PTZ() || q.Addr() != 0x40200000 {
		t.Errorf("MakePendBaser = %#x, %v", uint64(q), err)
	}
	if _, err := model.MakePendBaser(0x40201000, false); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("PENDBASER not 64 KiB aligned: error = %v", err)
	}
	// KVM read back GICR_TYPER 0x1_0000_0111 for vCPU 1 of 2.
	if got := model.RedistributorTyper(1, 2); got != 0x1_0000_0111 {
		t.Errorf("RedistributorTyper(1, 2) = %#x, KVM reads 0x100000111", got)
	}
	if got := model.RedistributorTyper(0, 2); got != 0x1 {
		t.Errorf("RedistributorTyper(0, 2) = %#x, want PLPIS only", got)
	}
	if got := model.Affinity(0x1234); got != 0x01_23_04 { // Aff2=1 Aff1=0x23 Aff0=4
		t.Errorf("Affinity(0x1234) = %#x", got)
	}
}

func TestLPIConfig(t *testing.T) {
	c := model.MakeLPIConfig(0xA1, true)
	if uint8(c) != 0xA3 || c.Priority() != 0xA0 || !c.Enabled() {
		t.Errorf("MakeLPIConfig(0xA1, true) = %#x", uint8(c))
	}
	if d := model.MakeLPIConfig(0x40, false); uint8(d) != 0x42 || d.Enabled() {
		t.Errorf("MakeLPIConfig(0x40, false) = %#x", uint8(d))
	}
}

func TestRegisterNames(t *testing.T) {
	for reg, want := range map[model.ITSRegister]string{
		model.GITS_CTLR: "GITS_CTLR", model.GITS_BASER(1): "GITS_BASER1", model.GITS_BASER(7): "GITS_BASER7",
		model.GITS_TRANSLATER: "GITS_TRANSLATER", 0x1234: "GITS+0x1234",
	} {
		if reg.String() != want {
			t.Errorf("%#x.String() = %q, want %q", uint32(reg), reg.String(), want)
		}
	}
	if !model.GITS_CWRITER.Is64Bit() || model.GITS_CTLR.Is64Bit() || !model.GITS_BASER(3).Is64Bit() {
		t.Error("Is64Bit is wrong for CWRITER, CTLR or BASER3")
	}
}

func TestSanitiseCacheabilityAsKVM(t *testing.T) {
	for _, tc := range []struct {
		in, want uint64
		f        model.CacheFields
	}{
		// Read-backs seen on Linux 6.1 for values written with all
		// attributes 0: GITS_CBASER, GICR_PROPBASER, GICR_PENDBASER.
		{0x800000004000000F, 0x980000004000000F, model.ITSCacheFields},
		{0x4010000F, 0x4010018F, model.RedistCacheFields},
		{0x40210000, 0x40210180, model.RedistCacheFields},
		// Supported attributes stay: RaWaWb, Inner Shareable, outer nC.
		{0xB82000004000040F, 0xB82000004000040F, model.ITSCacheFields},
		// Outer Shareable -> Inner; outer RaWb -> same as inner.
		{0x0300000040100B8F, 0x0000000040100780 | 0x0F, model.RedistCacheFields},
	} {
		if got := model.SanitiseCacheability(tc.in, tc.f); got != tc.want {
			t.Errorf("SanitiseCacheability(%#x) = %#x, want %#x", tc.in, got, tc.want)
		}
	}
}
