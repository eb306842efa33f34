package sim_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
)

// base maps device 1 (8 events), collection 0 → CPU 0 and 1 → CPU 1,
// event 0 → LPI 8192 in collection 0, with LPIs 8192..8299 enabled.
func base(e *env) model.GPA {
	e.t.Helper()
	e.enable(0, 1)
	for id := model.INTID(8192); id < 8300; id++ {
		e.config(0xA0, true, id)
	}
	itt := e.itt(3)
	e.must(
		model.MAPD{DeviceID: 1, Size: 2, ITTAddr: itt, Valid: true},
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8192, ICID: 0},
	)
	return itt
}

func TestCommandErrorCodes(t *testing.T) {
	cases := []struct {
		code  model.ErrorCode
		cmd   model.Command
		setup func(e *env) // before the ITS state is taken
	}{
		// Device 1 is mapped with 8 EventIDs; device 9 is not mapped;
		// DeviceID 1<<16 is beyond KVM's 16 Devbits.
		{model.E_ITS_MOVI_DEVICE_OOR, model.MOVI{DeviceID: 1 << 16, EventID: 0, ICID: 1}, nil},
		{model.E_ITS_MOVI_UNMAPPED_DEVICE, model.MOVI{DeviceID: 9, EventID: 0, ICID: 1}, nil},
		{model.E_ITS_MOVI_ID_OOR, model.MOVI{DeviceID: 1, EventID: 8, ICID: 1}, nil},
		{model.E_ITS_MOVI_UNMAPPED_INTERRUPT, model.MOVI{DeviceID: 1, EventID: 5, ICID: 1}, nil},
		{model.E_ITS_MOVI_UNMAPPED_COLLECTION, model.MOVI{DeviceID: 1, EventID: 0, ICID: 7}, nil},
		{model.E_ITS_MOVI_COLLECTION_OOR, model.MOVI{DeviceID: 1, EventID: 0, ICID: 9000}, nil},
		{model.E_ITS_INT_DEVICE_OOR, model.INT{DeviceID: 1 << 16, EventID: 0}, nil},
		{model.E_ITS_INT_UNMAPPED_DEVICE, model.INT{DeviceID: 9, EventID: 0}, nil},
		{model.E_ITS_INT_ID_OOR, model.INT{DeviceID: 1, EventID: 8}, nil},
		{model.E_ITS_INT_UNMAPPED_INTERRUPT, model.INT{DeviceID: 1, EventID: 5}, nil},
		{model.E_ITS_CLEAR_DEVICE_OOR, model.CLEAR{DeviceID: 1 << 16, EventID: 0}, nil},
		{model.E_ITS_CLEAR_UNMAPPED_DEVICE, model.CLEAR{DeviceID: 9, EventID: 0}, nil},
		{model.E_ITS_CLEAR_ID_OOR, model.CLEAR{DeviceID: 1, EventID: 1 << 20}, nil},
		{model.E_ITS_CLEAR_UNMAPPED_INTERRUPT, model.CLEAR{DeviceID: 1, EventID: 1}, nil},
		{model.E_ITS_MAPD_DEVICE_OOR, model.MAPD{DeviceID: 1 << 16, Size: 1, ITTAddr: 0x40800000, Valid: true}, nil},
		{model.E_ITS_MAPD_DEVICE_OOR, model.MAPD{DeviceID: 1 << 16}, nil}, // V=0 is checked too
		{model.E_ITS_MAPD_ITTSIZE_OOR, model.MAPD{DeviceID: 2, Size: 16, ITTAddr: 0x40800000, Valid: true}, nil},
		{model.E_ITS_MAPC_PROCNUM_OOR, model.MAPC{ICID: 3, RDbase: 2, Valid: true}, nil},
		{model.E_ITS_MAPC_COLLECTION_OOR, model.MAPC{ICID: 8192, RDbase: 0, Valid: true}, nil},
		{model.E_ITS_MAPTI_DEVICE_OOR, model.MAPTI{DeviceID: 1 << 16, EventID: 0, INTID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPTI_COLLECTION_OOR, model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 9000}, nil},
		{model.E_ITS_MAPTI_UNMAPPED_DEVICE, model.MAPTI{DeviceID: 9, EventID: 0, INTID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPTI_ID_OOR, model.MAPTI{DeviceID: 1, EventID: 8, INTID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPTI_PHYSICALID_OOR, model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8191, ICID: 0}, nil},
		{model.E_ITS_MAPTI_PHYSICALID_OOR, model.MAPTI{DeviceID: 1, EventID: 1, INTID: 1 << 16, ICID: 0}, nil},
		{model.E_ITS_MAPI_DEVICE_OOR, model.MAPI{DeviceID: 1 << 16, EventID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPI_COLLECTION_OOR, model.MAPI{DeviceID: 2, EventID: 8193, ICID: 9000}, func(e *env) {
			e.must(model.MAPD{DeviceID: 2, Size: 13, ITTAddr: e.itt(14), Valid: true}) // EventIDs up to 16383
		}},
		{model.E_ITS_MAPI_UNMAPPED_DEVICE, model.MAPI{DeviceID: 9, EventID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPI_ID_OOR, model.MAPI{DeviceID: 1, EventID: 8193, ICID: 0}, nil},
		{model.E_ITS_MAPI_PHYSICALID_OOR, model.MAPI{DeviceID: 1, EventID: 1, ICID: 0}, nil},
		{model.E_ITS_INV_DEVICE_OOR, model.INV{DeviceID: 1 << 16, EventID: 0}, nil},
		{model.E_ITS_INV_UNMAPPED_DEVICE, model.INV{DeviceID: 9, EventID: 0}, nil},
		{model.E_ITS_INV_ID_OOR, model.INV{DeviceID: 1, EventID: 8}, nil},
		{model.E_ITS_INV_UNMAPPED_INTERRUPT, model.INV{DeviceID: 1, EventID: 5}, nil},
		{model.E_ITS_INVALL_COLLECTION_OOR, model.INVALL{ICID: 9000}, nil},
		{model.E_ITS_INVALL_UNMAPPED_COLLECTION, model.INVALL{ICID: 7}, nil},
		{model.E_ITS_MOVALL_PROCNUM_OOR, model.MOVALL{RDbase1: 0, RDbase2: 5}, nil},
		{model.E_ITS_DISCARD_DEVICE_OOR, model.DISCARD{DeviceID: 1 << 16, EventID: 0}, nil},
		{model.E_ITS_DISCARD_UNMAPPED_DEVICE, model.DISCARD{DeviceID: 9, EventID: 0}, nil},
		{model.E_ITS_DISCARD_ID_OOR, model.DISCARD{DeviceID: 1, EventID: 8}, nil},
		{model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, model.DISCARD{DeviceID: 1, EventID: 5}, nil},
	}
	covered := map[model.ErrorCode]bool{}
	for _, c := range cases {
		covered[c.code] = true
		t.Run(c.code.String()+"/"+c.cmd.String(), func(t *testing.T) {
			e := open(t, model.Config{CPUs: 2})
			base(e)
			if c.setup != nil {
				c.setup(e)
			}
			before := e.b.ITS().State()
			got := e.codes(c.cmd)
			if !slices.Equal(got, []model.ErrorCode{c.code}) {
				t.Fatalf("%v: codes %v, want [%v]", c.cmd, got, c.code)
			}
			if after := e.b.ITS().State(); !statesEqual(before, after) {
				t.Errorf("failing %v changed the ITS", c.cmd)
			}
			if cr, cw := e.itsReg(model.GITS_CREADR), e.itsReg(model.GITS_CWRITER); cr != cw {
				t.Errorf("ContinueOnError: CREADR %#x != CWRITER %#x", cr, cw)
			}
		})
	}
	for _, code := range model.ErrorCodes() {
		if !isVirtualCode(code) && !covered[code] {
			t.Errorf("no test case for %v", code)
		}
	}
}

func statesEqual(a, b any) bool { return cmpEqual(a, b) }

func TestCommandErrorCauses(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	base(e)
	var unknown, gicv4 model.Packet
	unknown[0], gicv4[0] = 0x42, byte(model.OpVMAPP)
	err := model.SubmitCommands(e.b, unknown, gicv4, model.SYNC{})
	ces := model.CommandErrors(err)
	if len(ces) != 2 {
		t.Fatalf("errors %v, want two", err)
	}
	var oe *model.OpcodeError
	if !errors.As(ces[0].Cause, &oe) || !errors.Is(ces[0], model.ErrInvalidArgument) || ces[0].Offset != e.itsReg(model.GITS_CREADR)-3*32 {
		t.Errorf("unknown opcode: %#v", ces[0])
	}
	if !errors.As(ces[1].Cause, &oe) || !errors.Is(ces[1], model.ErrNotSupported) {
		t.Errorf("GICv4 opcode: %#v", ces[1])
	}

	// INT to a CPU whose LPIs are disabled is ignored: no error, nothing
	// pending, and the command after it runs.
	e.must(model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 1})
	if err := e.b.WriteRedistributorRegister(1, model.GICR_CTLR, 0); err != nil {
		t.Fatal(err)
	}
	if err := model.SubmitCommands(e.b, model.INT{DeviceID: 1, EventID: 1}, model.MAPTI{DeviceID: 1, EventID: 2, INTID: 8194, ICID: 1}); err != nil {
		t.Errorf("INT to a disabled redistributor, then MAPTI: %v, want no error", err)
	}
	if p, _ := e.b.Pending(1); len(p) != 0 {
		t.Errorf("INT to a disabled redistributor left %v pending", p)
	}
	if s := e.b.ITS().State(); len(s.Devices[0].Events) != 3 {
		t.Errorf("the MAPTI after the ignored INT did not run: %+v", s.Devices[0])
	}

	// A queue outside guest memory.
	if err := e.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
		t.Fatal(err)
	}
	cb, _ := model.MakeCBASER(0x1000_0000, 1)
	must(t, e.b.WriteITSRegister(model.GITS_CBASER, uint64(cb)))
	must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
	ces = model.CommandErrors(e.b.WriteITSRegister(model.GITS_CWRITER, 64))
	var me *model.MemoryError
	if len(ces) != 2 || !errors.As(ces[0].Cause, &me) || ces[1].Offset != 32 {
		t.Errorf("queue outside memory: %v, want two errors with a *model.MemoryError cause", ces)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestMAPTIWithoutPROPBASER(t *testing.T) {
	e := open(t, model.Config{CPUs: 1})
	must(t, e.b.WriteRedistributorRegister(0, model.GICR_PROPBASER, 0))
	e.must(model.MAPD{DeviceID: 1, Size: 1, ITTAddr: e.itt(2), Valid: true}, model.MAPC{ICID: 0, Valid: true})
	ces := model.CommandErrors(model.SubmitCommands(e.b, model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8192}))
	if len(ces) != 1 || ces[0].Code != model.E_ITS_MAPTI_PHYSICALID_OOR || ces[0].Detail == "" {
		t.Fatalf("MAPTI with PROPBASER unset: %v", ces)
	}
	if s := e.b.ITS().State(); len(s.Devices[0].Events) != 0 {
		t.Errorf("MAPTI with PROPBASER unset mapped %v", s.Devices[0].Events)
	}
}

func TestStallOnError(t *testing.T) {
	e := open(t, model.Config{CPUs: 2, ErrorPolicy: model.StallOnError})
	base(e)
	start := e.itsReg(model.GITS_CREADR)
	err := model.SubmitCommands(e.b,
		model.MAPTI{DeviceID: 9, EventID: 0, INTID: 8193, ICID: 0}, // fails
		model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 1},
	)
	ces := model.CommandErrors(err)
	if len(ces) != 1 || ces[0].Code != model.E_ITS_MAPTI_UNMAPPED_DEVICE || ces[0].Offset != start {
		t.Fatalf("errors %v, want one MAPTI_UNMAPPED_DEVICE at %#x", ces, start)
	}
	cr := e.itsReg(model.GITS_CREADR)
	if cr != start|model.GITS_CREADR_Stalled {
		t.Errorf("CREADR %#x, want %#x with Stalled", cr, start)
	}
	if ctlr := e.itsReg(model.GITS_CTLR); ctlr&model.GITS_CTLR_Quiescent != 0 {
		t.Errorf("stalled ITS reads Quiescent: %#x", ctlr)
	}
	if e.msi(1, 1) != model.Blocked {
		t.Error("the command after the stalled one ran")
	}
	if err := model.SubmitCommands(e.b, model.SYNC{}); !errors.Is(err, model.ErrBusy) {
		t.Errorf("SubmitCommands on a stalled queue: %v, want ErrBusy", err)
	}
	// Fix the stalled command in place and retry it.
	fixed, _ := model.MAPD{DeviceID: 9, Size: 1, ITTAddr: e.itt(2), Valid: true}.Encode()
	must(t, e.b.Memory().WriteAt(fixed[:], e.b.Layout().CommandQueue+model.GPA(start)))
	cw := e.itsReg(model.GITS_CWRITER)
	if err := e.b.WriteITSRegister(model.GITS_CWRITER, cw|model.GITS_CWRITER_Retry); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if cr := e.itsReg(model.GITS_CREADR); cr != cw {
		t.Errorf("after retry CREADR %#x, want %#x", cr, cw)
	}
	if e.msi(1, 1) != model.Delivered {
		t.Error("commands after the retried one did not run")
	}

	// Skipping instead: disable, move CREADR past the command, enable.
	e.codes(model.INV{DeviceID: 5})
	cr = e.itsReg(model.GITS_CREADR) &^ model.GITS_CREADR_Stalled
	must(t, e.b.WriteITSRegister(model.GITS_CTLR, 0))
	must(t, e.b.WriteITSRegister(model.GITS_CREADR, cr+32))
	must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
	e.must(model.SYNC{})
}

func TestQueueWrapAround(t *testing.T) {
	modes(t, func(t *testing.T, cfg model.Config) {
		cfg.Layout = smallLayout()
		cfg.Layout.CommandQueuePages = 1 // 128 commands
		e := open(t, cfg)
		base(e)
		var cmds []model.Command
		const n = 300
		e.must(model.MAPD{DeviceID: 2, Size: 8, ITTAddr: e.itt(9), Valid: true})
		for i := range n {
			cmds = append(cmds, model.MAPTI{DeviceID: 2, EventID: model.EventID(i), INTID: 9000 + model.INTID(i), ICID: model.ICID(i % 2)})
		}
		before := e.itsReg(model.GITS_CREADR)
		e.must(cmds...)
		if got, want := e.itsReg(model.GITS_CREADR), (before+n*32)%4096; got != want {
			t.Errorf("CREADR %#x after %d commands, want %#x", got, n, want)
		}
		if got := len(e.b.ITS().State().Devices[1].Events); got != n {
			t.Errorf("%d events mapped, want %d", got, n)
		}
		// A queue that cannot drain (ITS disabled) fills and says so.
		must(t, e.b.WriteITSRegister(model.GITS_CTLR, 0))
		err := model.SubmitCommands(e.b, cmds[:200]...)
		if !errors.Is(err, model.ErrBusy) {
			t.Errorf("queue full while disabled: %v, want ErrBusy", err)
		}
		// Enabling processes what was queued (127 commands, all remaps of mapped events: no errors).
		must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
		if cr, cw := e.itsReg(model.GITS_CREADR), e.itsReg(model.GITS_CWRITER); cr != cw {
			t.Errorf("after enable CREADR %#x != CWRITER %#x", cr, cw)
		}
	})
}
