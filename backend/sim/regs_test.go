package sim_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gicits/gicits/its"
	"github.com/gicits/gicits/model"
)

func TestITSRegisterReadBack(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	for _, c := range []struct {
		reg  model.ITSRegister
		want uint64
	}{
		{model.GITS_TYPER, uint64(model.KVMITSTyper)},
		{model.GITS_IIDR, its.IIDR},
		{model.GITS_PIDR2, 0x3B},
		{model.GITS_CTLR, model.GITS_CTLR_Enabled | model.GITS_CTLR_Quiescent},
		{model.GITS_BASER(2), 0},
		{model.GITS_TRANSLATER, 0},
	} {
		if got := e.itsReg(c.reg); got != c.want {
			t.Errorf("%v = %#x, want %#x", c.reg, got, c.want)
		}
	}
	if b := model.Baser(e.itsReg(model.GITS_BASER(0))); b.Type() != model.BaserDevices || b.EntrySize() != 8 || !b.Valid() {
		t.Errorf("GITS_BASER0 %#x: want a valid device table of 8-byte entries", uint64(b))
	}
	if b := model.Baser(e.itsReg(model.GITS_BASER(1))); b.Type() != model.BaserCollections || b.EntrySize() != 8 {
		t.Errorf("GITS_BASER1 %#x: want a collection table of 8-byte entries", uint64(b))
	}
	if uint64(its.DeviceBaserReset) != 0x1907000000000600 || uint64(its.CollectionBaserReset) != 0x1C07000000000600 {
		t.Errorf("reset values %#x %#x, want KVM's 0x1907000000000600 0x1C07000000000600", uint64(its.DeviceBaserReset), uint64(its.CollectionBaserReset))
	}
}

func TestITSRegisterWriteRules(t *testing.T) {
	type step struct {
		reg model.ITSRegister
		v   uint64
	}
	cases := []struct {
		name    string
		setup   []step
		write   step
		wantErr error
		check   func(e *env) string
	}{
		{"32-bit access to the upper half of CWRITER", nil, step{model.GITS_CWRITER + 4, 0}, model.ErrInvalidArgument, nil},
		{"32-bit access to the upper half of BASER0", nil, step{model.GITS_BASER(0) + 4, 0}, model.ErrInvalidArgument, nil},
		{"wide value into 32-bit GITS_CTLR", nil, step{model.GITS_CTLR, 1 << 40}, model.ErrInvalidArgument, nil},
		{"offset outside the frames", nil, step{0x20000, 0}, model.ErrInvalidArgument, nil},
		{"TRANSLATER without a DeviceID", nil, step{model.GITS_TRANSLATER, 1}, model.ErrInvalidArgument, nil},
		{"CREADR while enabled", nil, step{model.GITS_CREADR, 0x40}, model.ErrBusy, nil},
		{"IIDR with another ABI revision", nil, step{model.GITS_IIDR, its.IIDR | 1<<12}, model.ErrInvalidArgument, nil},
		{"BASER0 while enabled is ignored", nil, step{model.GITS_BASER(0), 0}, nil, func(e *env) string {
			if !model.Baser(e.itsReg(model.GITS_BASER(0))).Valid() {
				return "BASER0 changed while enabled"
			}
			return ""
		}},
		{"CBASER while enabled is ignored", nil, step{model.GITS_CBASER, 0}, nil, func(e *env) string {
			if !model.CBASER(e.itsReg(model.GITS_CBASER)).Valid() {
				return "CBASER changed while enabled"
			}
			return ""
		}},
		{"CBASER while disabled resets CREADR and CWRITER", []step{{model.GITS_CTLR, 0}, {model.GITS_CWRITER, 0x40}}, step{model.GITS_CBASER, 0}, nil, func(e *env) string {
			if e.itsReg(model.GITS_CREADR) != 0 || e.itsReg(model.GITS_CWRITER) != 0 {
				return "CREADR/CWRITER not reset"
			}
			return ""
		}},
		{"CWRITER beyond the queue is ignored", nil, step{model.GITS_CWRITER, 0x10000}, nil, func(e *env) string {
			if e.itsReg(model.GITS_CWRITER) != 0 {
				return "CWRITER moved beyond the queue"
			}
			return ""
		}},
		{"CREADR while disabled", []step{{model.GITS_CTLR, 0}}, step{model.GITS_CREADR, 0x60}, nil, func(e *env) string {
			if e.itsReg(model.GITS_CREADR) != 0x60 {
				return "CREADR not written"
			}
			return ""
		}},
		{"Enabled refused until every table is valid", []step{{model.GITS_CTLR, 0}, {model.GITS_BASER(1), 0}}, step{model.GITS_CTLR, 1}, nil, func(e *env) string {
			if e.itsReg(model.GITS_CTLR)&model.GITS_CTLR_Enabled != 0 {
				return "enabled with GITS_BASER1 invalid"
			}
			return ""
		}},
		{"Type and Entry_Size are read-only", []step{{model.GITS_CTLR, 0}}, step{model.GITS_BASER(0), uint64(model.MakeBaser(model.BaserCollections, 16))}, nil, func(e *env) string {
			b := model.Baser(e.itsReg(model.GITS_BASER(0)))
			if b.Type() != model.BaserDevices || b.EntrySize() != 8 {
				return fmt.Sprintf("BASER0 now %#x", uint64(b))
			}
			return ""
		}},
		{"BASER2 is unimplemented", nil, step{model.GITS_BASER(2), ^uint64(0)}, nil, func(e *env) string {
			if e.itsReg(model.GITS_BASER(2)) != 0 {
				return "BASER2 holds a value"
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := open(t, model.Config{CPUs: 2})
			for _, s := range c.setup {
				must(t, e.b.WriteITSRegister(s.reg, s.v))
			}
			err := e.b.WriteITSRegister(c.write.reg, c.write.v)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("write %v = %#x: %v, want %v", c.write.reg, c.write.v, err, c.wantErr)
			}
			if c.check != nil {
				if msg := c.check(e); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}

func TestRedistributorRegisters(t *testing.T) {
	e := open(t, model.Config{CPUs: 3})
	typer, _ := e.b.ReadRedistributorRegister(2, model.GICR_TYPER)
	if typer != model.RedistributorTyper(2, 3) {
		t.Errorf("GICR_TYPER of CPU 2 = %#x", typer)
	}
	l := e.b.Layout()
	// PROPBASER is one value: a write through CPU 2 shows on CPU 0.
	p2, _ := model.MakePropBaser(l.PropTable, 15)
	must(t, e.b.WriteRedistributorRegister(2, model.GICR_PROPBASER, uint64(p2)))
	if v, _ := e.b.ReadRedistributorRegister(0, model.GICR_PROPBASER); v != uint64(p2) {
		t.Errorf("PROPBASER via CPU 0 = %#x, want %#x", v, uint64(p2))
	}
	// PTZ reads as 0.
	pend, _ := l.PendBaser(1, true)
	must(t, e.b.WriteRedistributorRegister(1, model.GICR_PENDBASER, uint64(pend)))
	if v, _ := e.b.ReadRedistributorRegister(1, model.GICR_PENDBASER); v != uint64(pend)&^model.GICR_PENDBASER_PTZ {
		t.Errorf("PENDBASER = %#x, want PTZ clear", v)
	}
	// Writes while EnableLPIs=1 are ignored.
	e.enable(1)
	must(t, e.b.WriteRedistributorRegister(1, model.GICR_PENDBASER, 0))
	must(t, e.b.WriteRedistributorRegister(1, model.GICR_PROPBASER, 0))
	if v, _ := e.b.ReadRedistributorRegister(1, model.GICR_PENDBASER); v == 0 {
		t.Error("PENDBASER written while EnableLPIs = 1")
	}
	if v, _ := e.b.ReadRedistributorRegister(0, model.GICR_PROPBASER); v != uint64(p2) {
		t.Error("PROPBASER written through a redistributor with EnableLPIs = 1")
	}
	if v, _ := e.b.ReadRedistributorRegister(1, model.GICR_CTLR); v != model.GICR_CTLR_EnableLPIs|model.GICR_CTLR_CES|model.GICR_CTLR_IR {
		t.Errorf("GICR_CTLR = %#x", v)
	}
	if _, err := e.b.ReadRedistributorRegister(3, model.GICR_CTLR); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("CPU 3 of 3: %v, want ErrInvalidArgument", err)
	}
}

// Device tables, flat and two-level, at every page size GITS_BASER allows.
func TestDeviceTables(t *testing.T) {
	for _, ps := range []int{model.PageSize4K, model.PageSize16K, model.PageSize64K} {
		for _, indirect := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dK/indirect=%v", ps>>10, indirect), func(t *testing.T) {
				cfg := model.Config{CPUs: 1, Layout: smallLayout()}
				cfg.Layout.DeviceTablePageSize = ps
				cfg.Layout.DeviceTablePages = 1
				cfg.Layout.DeviceTableIndirect = indirect
				e := open(t, cfg)
				e.enable(0)
				e.config(0x80, true, 8192, 8193)
				l := e.b.Layout()
				perPage := model.DeviceID(ps / 8)
				var inside, outside model.DeviceID
				var dteAddr model.GPA
				if !indirect {
					inside, outside = perPage-1, perPage
					dteAddr = l.DeviceTable + model.GPA(inside)*8
				} else {
					// L1 entry 1 valid, entry 0 invalid.
					page, err := e.alloc.Alloc(uint64(ps), uint64(ps))
					must(t, err)
					v, _ := model.L1Entry{Valid: true, Addr: page}.Encode()
					must(t, model.WriteUint64(e.b.Memory(), l.DeviceTable+8, v))
					inside, outside = perPage+3, 3
					dteAddr = page + 3*8
				}
				itt := e.itt(2)
				e.must(model.MAPC{ICID: 0, Valid: true},
					model.MAPD{DeviceID: inside, Size: 1, ITTAddr: itt, Valid: true},
					model.MAPTI{DeviceID: inside, EventID: 1, INTID: 8193})
				if got := model.DecodeDTE(e.read64(dteAddr)); !got.Valid || got.ITTAddr != itt || got.Size != 1 {
					t.Errorf("DTE of device %#x at %v: %v", inside, dteAddr, got)
				}
				if got := e.codes(model.MAPD{DeviceID: outside, Size: 1, ITTAddr: itt, Valid: true}); len(got) != 1 || got[0] != model.E_ITS_MAPD_DEVICE_OOR {
					t.Errorf("MAPD of device %#x outside the table: %v", outside, got)
				}
				if e.msi(inside, 1) != model.Delivered {
					t.Error("MSI through the table not delivered")
				}
				e.takesOnce(0, 8193)
				e.must(model.MAPD{DeviceID: inside})
				if v := e.read64(dteAddr); v != 0 {
					t.Errorf("MAPD V=0 left DTE %#x, want 0", v)
				}
			})
		}
	}
}
