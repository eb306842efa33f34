package model_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

// The vPE table entry's golden encodings, from its field positions (Valid
// 0, VPT_size 5:1, VPT_addr 41:6 holding PA[51:16], RDbase 57:42), the
// layout QEMU's gicv3_internal.h gives its own 8-byte VTE.
func TestVTEGolden(t *testing.T) {
	for _, tc := range []struct {
		e    model.VTE
		want uint64
	}{
		{model.VTE{Valid: true, VPTAddr: 0x8_1234_0000, VPTSize: 15, RDbase: 3}, 0x00000C00_02048D1F},
		{model.VTE{Valid: true, VPTAddr: 0x4180_0000, VPTSize: 15}, 0x0010601F},
		{model.VTE{Valid: false, VPTAddr: 0x4180_0000, VPTSize: 15}, 0x0010601E},
		{model.VTE{Valid: true, VPTAddr: 0xF_FFFF_FFFF_0000, VPTSize: 31, RDbase: 0xFFFF}, 0x03FF_FFFF_FFFF_FFFF},
		{model.VTE{}, 0},
	} {
		got, err := tc.e.Encode()
		if err != nil || got != tc.want {
			t.Errorf("%v: Encode = %#x, %v; want %#x", tc.e, got, err, tc.want)
		}
		if back := model.DecodeVTE(tc.want); back != tc.e {
			t.Errorf("DecodeVTE(%#x) = %+v, want %+v", tc.want, back, tc.e)
		}
	}
	for _, bad := range []model.VTE{
		{Valid: true, VPTAddr: 0x4180_1000},
		{Valid: true, VPTAddr: 1 << 52},
		{Valid: true, VPTAddr: 0x4180_0000, VPTSize: 32},
	} {
		if _, err := bad.Encode(); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("%+v: Encode error = %v, want ErrInvalidArgument", bad, err)
		}
	}
	if s := (model.VTE{Valid: true, VPTAddr: 0x4180_0000, VPTSize: 15, RDbase: 1}).String(); s != "VTE valid rdbase=1 vpt=0x41800000 bits=16" {
		t.Errorf("String = %q", s)
	}
}

// The virtual ITE: the ABI revision 0 ITE's doubleword with the vINTID for
// the pINTID and the vPEID for the ICID, then a word with V (bit 31) and
// the doorbell.
func TestVirtualITEGolden(t *testing.T) {
	for _, tc := range []struct {
		e      model.VirtualITE
		dw     uint64
		w      uint32
		String string
	}{
		{model.VirtualITE{Next: 1, VINTID: 8195, VPEID: 5, Doorbell: 8192}, 0x0001_0000_2003_0005, 0x8000_2000, "ITE vpe=5 vlpi=8195 db=8192 next=1"},
		{model.VirtualITE{VINTID: 8192, VPEID: 0xFFFF, Doorbell: model.NoDoorbell}, 0x0000_0000_2000_FFFF, 0x8000_03FF, "ITE vpe=65535 vlpi=8192 db=none next=0"},
	} {
		dw, w, err := tc.e.Encode()
		if err != nil || dw != tc.dw || w != tc.w {
			t.Errorf("%v: Encode = %#x %#x, %v; want %#x %#x", tc.e, dw, w, err, tc.dw, tc.w)
		}
		back, ok := model.DecodeVirtualITE(tc.dw, tc.w)
		if !ok || back != tc.e {
			t.Errorf("DecodeVirtualITE(%#x, %#x) = %+v, %v", tc.dw, tc.w, back, ok)
		}
		if s := tc.e.String(); s != tc.String {
			t.Errorf("String = %q, want %q", s, tc.String)
		}
	}
	if _, ok := model.DecodeVirtualITE(0x0000_0000_2003_0005, 0); ok {
		t.Error("a physical ITE (word 0) decoded as virtual")
	}
	if _, _, err := (model.VirtualITE{VINTID: 8192, Doorbell: 1 << 24}).Encode(); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("a 25-bit doorbell: error = %v, want ErrInvalidArgument", err)
	}
}

func TestVPendBaser(t *testing.T) {
	v, err := model.MakeVPendBaser(0x4181_0000, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Valid() || !v.IDAI() || v.PendingLast() || v.Dirty() || v.Addr() != 0x4181_0000 {
		t.Errorf("MakeVPendBaser = %#x: Valid %v IDAI %v PendingLast %v Dirty %v Addr %v", uint64(v), v.Valid(), v.IDAI(), v.PendingLast(), v.Dirty(), v.Addr())
	}
	if uint64(v)>>60 != 0xC {
		t.Errorf("Valid and IDAI are not bits 63 and 62: %#x", uint64(v))
	}
	if _, err := model.MakeVPendBaser(0x4181_1000, true, false); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("a VPT not 64 KiB aligned: error = %v", err)
	}
	p, err := model.MakeVPropBaser(0x4190_0000, 16)
	if err != nil || p.Addr() != 0x4190_0000 || p.IDBits() != 16 {
		t.Errorf("MakeVPropBaser = %#x, %v", uint64(p), err)
	}
	typer := model.GICv4ITSTyper
	if !typer.Virtual() || !typer.VMOVP() || !typer.Physical() || typer.ITTEntrySize() != model.VirtualITESize || typer.DeviceIDBits() != model.KVMITSTyper.DeviceIDBits() {
		t.Errorf("GICv4ITSTyper %#x: Virtual %v VMOVP %v ITT entry %d", uint64(typer), typer.Virtual(), typer.VMOVP(), typer.ITTEntrySize())
	}
	if model.GICR_VPENDBASER.String() != "GICR_VPENDBASER" || !model.GICR_VPROPBASER.Is64Bit() || model.GICR_VPROPBASER != 0x20070 {
		t.Errorf("GICR_VPROPBASER %v at %#x", model.GICR_VPROPBASER, uint32(model.GICR_VPROPBASER))
	}
}
