package model_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

// The golden values are the bytes Linux 6.1's vITS saved (kvm-vgic-its.md,
// section 7) after MAPD dev 0x10 (ITT 0x40070000, 5 bits), MAPC 0->vCPU0,
// 1->vCPU1, MAPTI ev1->8193 icid1, ev2->8194 icid0, DISCARD ev0.
func TestTableEntriesMatchKVM(t *testing.T) {
	dte := model.DTE{Valid: true, ITTAddr: 0x40070000, Size: 4}
	if v, err := dte.Encode(); err != nil || v != 0x800000000800E004 {
		t.Errorf("DTE.Encode() = %#x, %v; KVM saved 0x800000000800E004", v, err)
	}
	if got := model.DecodeDTE(0x800000000800E004); got != dte {
		t.Errorf("DecodeDTE = %+v, want %+v", got, dte)
	}

	ites := []struct {
		ite model.ITE
		raw uint64
	}{
		{model.ITE{}, 0},
		{model.ITE{Next: 1, INTID: 8193, ICID: 1}, 0x0001000020010001},
		{model.ITE{INTID: 8194, ICID: 0}, 0x0000000020020000},
	}
	for _, tc := range ites {
		if v := tc.ite.Encode(); v != tc.raw {
			t.Errorf("%v.Encode() = %#x, KVM saved %#x", tc.ite, v, tc.raw)
		}
		if got := model.DecodeITE(tc.raw); got != tc.ite {
			t.Errorf("DecodeITE(%#x) = %+v, want %+v", tc.raw, got, tc.ite)
		}
	}
	if (model.ITE{}).Valid() || !ites[1].ite.Valid() {
		t.Error("ITE.Valid: an entry is valid exactly when its pINTID is not 0")
	}

	ctes := []struct {
		cte model.CTE
		raw uint64
	}{
		{model.CTE{Valid: true, RDbase: 0, ICID: 0}, 0x8000000000000000},
		{model.CTE{Valid: true, RDbase: 1, ICID: 1}, 0x8000000000010001},
		{model.CTE{}, 0},
		{model.CTE{Valid: true, RDbase: model.CTEUnmappedRDbase, ICID: 5}, 0x8000FFFFFFFF0005},
	}
	for _, tc := range ctes {
		if v, err := tc.cte.Encode(); err != nil || v != tc.raw {
			t.Errorf("%v.Encode() = %#x, %v; want %#x", tc.cte, v, err, tc.raw)
		}
		if got := model.DecodeCTE(tc.raw); got != tc.cte {
			t.Errorf("DecodeCTE(%#x) = %+v, want %+v", tc.raw, got, tc.cte)
		}
	}
	if !ctes[0].cte.Mapped() || ctes[3].cte.Mapped() || ctes[2].cte.Mapped() {
		t.Error("CTE.Mapped: valid with a real RDbase only")
	}
}

func TestTableEntryFieldLimits(t *testing.T) {
	max := model.DTE{Valid: true, Next: model.MaxDTENext, ITTAddr: 0xFFFFFFFFFFF00, Size: 31}
	v, err := max.Encode()
	if err != nil || v != 0xFFFFFFFFFFFFFFFF {
		t.Errorf("all-ones DTE = %#x, %v", v, err)
	}
	if got := model.DecodeDTE(v); got != max {
		t.Errorf("DecodeDTE(all ones) = %+v", got)
	}
	for _, bad := range []model.DTE{
		{Valid: true, Next: model.MaxDTENext + 1},
		{Valid: true, ITTAddr: 0x100080},
		{Valid: true, Size: 32},
	} {
		if _, err := bad.Encode(); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("%+v.Encode() error = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := (model.CTE{Valid: true, RDbase: 1 << 36}).Encode(); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("CTE with a 37-bit RDbase: error = %v", err)
	}
}

func TestL1Entry(t *testing.T) {
	e := model.L1Entry{Valid: true, Addr: 0x40810000}
	v, err := e.Encode()
	if err != nil || v != 0x8000000040810000 {
		t.Fatalf("Encode = %#x, %v", v, err)
	}
	if got := model.DecodeL1Entry(v | 0x7FF0_0000_0000_0FFF); got != e {
		t.Errorf("DecodeL1Entry ignores bits outside 63 and 51:12: got %+v", got)
	}
	if _, err := (model.L1Entry{Valid: true, Addr: 0x40810800}).Encode(); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("unaligned L1 address: error = %v", err)
	}
}
