package sim_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// openITSes opens a simulator with n ITSes and 2 CPUs, LPIs enabled on
// both and LPIs 8192..8299 enabled at 0xA0; it returns the backend and
// each ITS's view.
func openITSes(t *testing.T, n int) (*env, []model.Backend) {
	t.Helper()
	l := smallLayout()
	l.ITSes = n
	e := open(t, model.Config{CPUs: 2, Layout: l})
	e.enable(0, 1)
	e.config(0xA0, true, idRange(8192, 8300)...)
	var views []model.Backend
	for i := range n {
		v, err := model.ITSOf(e.b, i)
		if err != nil {
			t.Fatal(err)
		}
		views = append(views, v)
	}
	return e, views
}

// submit sends commands to one ITS's queue and fails the test on error.
func submit(t *testing.T, its model.Backend, cmds ...model.Command) {
	t.Helper()
	if err := model.SubmitCommands(its, cmds...); err != nil {
		t.Fatalf("ITS at %v: %v", its.Layout().ITSBase, err)
	}
}

// msiTo signals an MSI through ITS i's doorbell.
func msiTo(t *testing.T, e *env, views []model.Backend, i int, dev model.DeviceID, ev model.EventID) model.Delivery {
	t.Helper()
	d, err := e.b.SignalMSI(model.MSI{Doorbell: views[i].Layout().Doorbell(), Data: uint32(ev), DeviceID: dev, DeviceIDValid: true})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Each ITS has its own device table, collections and command queue: the
// same DeviceID on two ITSes is two devices, and an MSI's doorbell picks
// the ITS that translates it. The LPIs are shared: an LPI mapped by both
// stays while either maps it.
func TestSeveralITSes(t *testing.T) {
	e, views := openITSes(t, 3)
	alloc := e.b.Layout().ITTAllocator()
	itt := func() model.GPA {
		a, err := alloc.Alloc(model.ITTSize(4, 8), 256)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for i, v := range views {
		submit(t, v,
			model.MAPD{DeviceID: 0x10, Size: 3, ITTAddr: itt(), Valid: true},
			model.MAPC{ICID: 0, RDbase: uint64(i % 2), Valid: true},
			model.MAPTI{DeviceID: 0x10, EventID: 0, INTID: 8192 + model.INTID(i), ICID: 0},
			model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8250, ICID: 0}, // shared by every ITS
		)
	}
	for i := range views {
		if d := msiTo(t, e, views, i, 0x10, 0); d != model.Delivered {
			t.Fatalf("ITS %d: MSI %v", i, d)
		}
	}
	if got, want := e.pending(0), []model.INTID{8192, 8194}; !slices.Equal(got, want) {
		t.Errorf("CPU 0 pending %v, want %v (ITSes 0 and 2)", got, want)
	}
	if got, want := e.pending(1), []model.INTID{8193}; !slices.Equal(got, want) {
		t.Errorf("CPU 1 pending %v, want %v (ITS 1)", got, want)
	}
	submit(t, views[1], model.DISCARD{DeviceID: 0x10, EventID: 1})
	if d := msiTo(t, e, views, 1, 0x10, 1); d != model.Blocked {
		t.Errorf("ITS 1 after DISCARD: %v", d)
	}
	if d := msiTo(t, e, views, 2, 0x10, 1); d != model.Delivered {
		t.Errorf("ITS 2: the shared LPI was freed by ITS 1's DISCARD: %v", d)
	}
	if e.b.Capabilities().ITSes != 3 {
		t.Errorf("Capabilities.ITSes = %d", e.b.Capabilities().ITSes)
	}
	// Each ITS's registers are its own.
	for i, v := range views {
		cb, err := v.ReadITSRegister(model.GITS_CBASER)
		if err != nil || model.CBASER(cb).Addr() != v.Layout().CommandQueue {
			t.Errorf("ITS %d: GITS_CBASER %#x, %v; want its queue at %v", i, cb, err, v.Layout().CommandQueue)
		}
	}
	_, err := e.b.SignalMSI(model.MSI{Doorbell: 0x0900_0040, DeviceID: 0x10, DeviceIDValid: true})
	if !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), "any of the 3 ITSes") {
		t.Errorf("MSI to no ITS's doorbell: %v", err)
	}
}

// MOVALL acts on the redistributors, which the ITSes share: issued on one
// ITS, it moves the LPIs another ITS maps too (as KVM's does).
func TestMOVALLOnOneITSMovesEveryLPI(t *testing.T) {
	e, views := openITSes(t, 2)
	alloc := e.b.Layout().ITTAllocator()
	for i, v := range views {
		itt, err := alloc.Alloc(model.ITTSize(4, 8), 256)
		if err != nil {
			t.Fatal(err)
		}
		submit(t, v,
			model.MAPD{DeviceID: 1, Size: 3, ITTAddr: itt, Valid: true},
			model.MAPC{ICID: 0, RDbase: 0, Valid: true},
			model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8192 + model.INTID(i), ICID: 0},
		)
		msiTo(t, e, views, i, 1, 0)
	}
	submit(t, views[1], model.MOVALL{RDbase1: 0, RDbase2: 1})
	if got := e.pending(1); !slices.Equal(got, []model.INTID{8192, 8193}) {
		t.Errorf("after ITS 1's MOVALL: CPU 1 pending %v, want both ITSes' LPIs", got)
	}
}

// Save and restore go per ITS: ITS 1's tables, saved through its view,
// restore into ITS 1 of another simulator and translate there as before.
func TestSaveRestorePerITS(t *testing.T) {
	e, views := openITSes(t, 2)
	itt, err := e.b.Layout().ITTAllocator().Alloc(model.ITTSize(4, 8), 256)
	if err != nil {
		t.Fatal(err)
	}
	submit(t, views[1],
		model.MAPD{DeviceID: 7, Size: 3, ITTAddr: itt, Valid: true},
		model.MAPC{ICID: 3, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 7, EventID: 2, INTID: 8222, ICID: 3},
	)
	if err := views[1].SaveTables(); err != nil {
		t.Fatal(err)
	}
	l := e.b.Layout()
	e2 := open(t, model.Config{CPUs: 2, Layout: l})
	e2.enable(0, 1)
	if err := e2.b.RAM().WriteAt(e.ramBytes(), l.RAMBase); err != nil {
		t.Fatal(err)
	}
	v2, err := model.ITSOf(e2.b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := v2.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
		t.Fatal(err)
	}
	if err := v2.RestoreTables(); err != nil {
		t.Fatalf("restore into ITS 1: %v", err)
	}
	if err := v2.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
		t.Fatal(err)
	}
	views2 := []model.Backend{e2.b, v2}
	if d := msiTo(t, e2, views2, 1, 7, 2); d != model.Delivered {
		t.Fatalf("restored ITS 1: MSI %v", d)
	}
	if got := e2.pending(1); !slices.Equal(got, []model.INTID{8222}) {
		t.Errorf("restored ITS 1: CPU 1 pending %v", got)
	}
	if got := e2.b.ITS().State(); len(got.Devices) != 0 {
		t.Errorf("ITS 0 of the new simulator gained devices: %+v", got.Devices)
	}
}

func TestITSOfRange(t *testing.T) {
	e := open(t, model.Config{})
	if v, err := model.ITSOf(e.b, 0); err != nil || v != model.Backend(e.b) {
		t.Errorf("ITSOf(b, 0) = %v, %v; want b", v, err)
	}
	if _, err := model.ITSOf(e.b, 1); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("ITSOf(b, 1) with one ITS: %v", err)
	}
	_, views := openITSes(t, 2)
	if _, err := views[1].(model.MultiITS).ITSView(2); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("ITS 2 of 2: %v", err)
	}
}

// With GITS_TYPER.VMOVP = 1 one VMOVP moves the vPE on every ITS that
// maps it; with VMOVP = 0 each ITS of the ITSList moves its own mapping,
// and the ITS state says which ITSes a move still waits for.
func TestVMOVPAcrossITSes(t *testing.T) {
	for _, vmovp := range []bool{true, false} {
		typer := model.GICv4ITSTyper
		if !vmovp {
			typer &^= 1 << 37
		}
		l := smallLayout()
		l.ITSes = 2
		e := open(t, model.Config{CPUs: 2, Layout: l, ITSTyper: typer})
		e.enable(0, 1)
		vpt, err := e.alloc.Alloc(8<<10, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		var views []model.Backend
		for i := range 2 {
			v, err := model.ITSOf(e.b, i)
			if err != nil {
				t.Fatal(err)
			}
			views = append(views, v)
			submit(t, v, model.VMAPP{VPEID: 4, RDbase: 0, VPTAddr: vpt, VPTSize: 15, Valid: true})
		}
		submit(t, views[0], model.VMOVP{VPEID: 4, RDbase: 1, SequenceNumber: 3, ITSList: 0b11})
		st1 := e.b.ITSAt(1).State()
		if len(st1.VPEs) != 1 {
			t.Fatalf("ITS 1 maps %d vPEs", len(st1.VPEs))
		}
		moved := st1.VPEs[0].RDbase == 1
		if moved != vmovp {
			t.Errorf("VMOVP=%v: after a VMOVP on ITS 0, ITS 1 delivers to CPU %d", vmovp, st1.VPEs[0].RDbase)
		}
		if !vmovp {
			if w := e.b.ITS().State().VPEs[0].MoveWaiting; !slices.Equal(w, []int{1}) {
				t.Errorf("VMOVP=0: the move waits for %v, want ITS 1", w)
			}
			submit(t, views[1], model.VMOVP{VPEID: 4, RDbase: 1, SequenceNumber: 3, ITSList: 0b11})
			if st := e.b.ITSAt(1).State(); st.VPEs[0].RDbase != 1 || st.VPEs[0].MoveWaiting != nil {
				t.Errorf("VMOVP=0, after ITS 1's VMOVP: %+v", st.VPEs[0])
			}
		}
	}
}
