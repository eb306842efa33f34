package sim_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// Translation scenarios, run with the translation cache on and off: the
// results must be the same, and with the cache on a stale entry would show
// as an MSI reaching the wrong place.
func TestTranslationScenarios(t *testing.T) {
	scenarios := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"MSI, MOVI, MSI goes to the new CPU", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.takesOnce(0, 8192)
			e.must(model.MOVI{DeviceID: 1, EventID: 0, ICID: 1})
			e.msi(1, 0)
			e.takesOnce(0)
			e.takesOnce(1, 8192)
		}},
		{"DISCARD then MSI blocked", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.must(model.DISCARD{DeviceID: 1, EventID: 0})
			if d := e.msi(1, 0); d != model.Blocked {
				t.Errorf("MSI after DISCARD: %v", d)
			}
			e.takesOnce(0) // the pending LPI went with it
			if e.b.ITS().TranslationCacheLen() != 0 {
				t.Error("translation cache still holds the discarded event")
			}
		}},
		{"MAPD V=0 and re-MAPD free the events", func(t *testing.T, e *env) {
			e.must(model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 1})
			e.msi(1, 0)
			e.msi(1, 1)
			itt := e.itt(3)
			e.must(model.MAPD{DeviceID: 1, Size: 2, ITTAddr: itt, Valid: true}) // re-MAPD with live events
			if e.msi(1, 0) != model.Blocked || e.msi(1, 1) != model.Blocked {
				t.Error("events survived a re-MAPD")
			}
			e.takesOnce(0)
			e.takesOnce(1)
			e.must(model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8195, ICID: 1})
			e.msi(1, 0)
			e.takesOnce(1, 8195)
			e.must(model.MAPD{DeviceID: 1})
			if e.msi(1, 0) != model.Blocked {
				t.Error("MSI after MAPD V=0 delivered")
			}
		}},
		{"MAPC retarget moves LPIs and pending state", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.must(model.MAPC{ICID: 0, RDbase: 1, Valid: true})
			e.takesOnce(0)
			e.takesOnce(1, 8192)
			e.msi(1, 0)
			e.takesOnce(1, 8192)
		}},
		{"MAPC V=0 orphans; MAPC V=1 does not re-attach", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.must(model.MAPC{ICID: 0, Valid: false})
			if e.msi(1, 0) != model.Blocked {
				t.Error("MSI to an orphaned event delivered")
			}
			e.must(model.MAPC{ICID: 0, RDbase: 0, Valid: true})
			if e.msi(1, 0) != model.Blocked {
				t.Error("MAPC V=1 re-attached an orphaned event")
			}
			got := e.codes(model.MOVI{DeviceID: 1, EventID: 0, ICID: 1}, model.DISCARD{DeviceID: 1, EventID: 0}, model.INT{DeviceID: 1, EventID: 0})
			want := []model.ErrorCode{model.E_ITS_MOVI_UNMAPPED_COLLECTION, model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, model.E_ITS_INT_UNMAPPED_INTERRUPT}
			if !slices.Equal(got, want) {
				t.Errorf("commands on an orphaned event: %v, want %v", got, want)
			}
			e.takesOnce(0, 8192) // pending state from before stays (KVM)
			e.must(model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8199, ICID: 0})
			if e.msi(1, 0) != model.Blocked {
				t.Error("MAPTI over an orphaned event replaced it")
			}
			e.must(model.MAPD{DeviceID: 1, Size: 2, ITTAddr: e.itt(3), Valid: true},
				model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8199, ICID: 0})
			e.msi(1, 0)
			e.takesOnce(0, 8199)
		}},
		{"implicit collection attaches on MAPC", func(t *testing.T, e *env) {
			e.must(model.MAPTI{DeviceID: 1, EventID: 2, INTID: 8194, ICID: 40})
			if e.msi(1, 2) != model.Blocked {
				t.Error("MSI through an unmapped collection delivered")
			}
			e.must(model.MAPC{ICID: 40, RDbase: 1, Valid: true})
			e.msi(1, 2)
			e.takesOnce(1, 8194)
		}},
		{"MOVALL moves only RDbase1's LPIs", func(t *testing.T, e *env) {
			e.must(model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 1})
			e.msi(1, 0)
			e.msi(1, 1)
			e.must(model.MOVALL{RDbase1: 0, RDbase2: 1})
			e.takesOnce(0)
			e.takesOnce(1, 8192, 8193)
			e.msi(1, 0)
			e.takesOnce(1, 8192)
			e.must(model.MOVALL{RDbase1: 0, RDbase2: 1}) // nothing left on 0
			e.msi(1, 1)
			e.takesOnce(1, 8193)
		}},
		{"ITS disabled: ErrBusy; enabled again: delivered", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.takesOnce(0, 8192)
			must(t, e.b.WriteITSRegister(model.GITS_CTLR, 0))
			if err := e.msiErr(1, 0); !errors.Is(err, model.ErrBusy) {
				t.Errorf("MSI while disabled: %v", err)
			}
			must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
			e.msi(1, 0)
			e.takesOnce(0, 8192)
		}},
		{"EnableLPIs 1→0: ErrBusy naming the redistributor", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.takesOnce(0, 8192)
			must(t, e.b.WriteRedistributorRegister(0, model.GICR_CTLR, 0))
			err := e.msiErr(1, 0)
			if !errors.Is(err, model.ErrBusy) || !strings.Contains(err.Error(), "redistributor 0") {
				t.Errorf("MSI to a CPU with LPIs disabled: %v", err)
			}
			e.enable(0)
			e.msi(1, 0)
			e.takesOnce(0, 8192)
		}},
		{"GITS_BASER0 invalidated: devices discarded", func(t *testing.T, e *env) {
			e.msi(1, 0)
			b0 := e.itsReg(model.GITS_BASER(0))
			must(t, e.b.WriteITSRegister(model.GITS_CTLR, 0))
			must(t, e.b.WriteITSRegister(model.GITS_BASER(0), b0&^(1<<63)))
			must(t, e.b.WriteITSRegister(model.GITS_BASER(0), b0))
			must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
			if e.msi(1, 0) != model.Blocked {
				t.Error("device survived GITS_BASER0.Valid = 0")
			}
		}},
		{"shared LPI follows a MOVI of either event", func(t *testing.T, e *env) {
			e.must(model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8192, ICID: 0})
			e.msi(1, 1)
			e.msi(1, 0) // coalesces
			e.takesOnce(0, 8192)
			e.must(model.MOVI{DeviceID: 1, EventID: 0, ICID: 1})
			e.msi(1, 1) // the other event: its cached CPU must be gone
			e.takesOnce(0)
			e.takesOnce(1, 8192)
			e.must(model.DISCARD{DeviceID: 1, EventID: 0})
			e.msi(1, 1) // still mapped by event 1
			e.takesOnce(1, 8192)
		}},
		{"INT, CLEAR and coalescing", func(t *testing.T, e *env) {
			for range 3 {
				e.must(model.INT{DeviceID: 1, EventID: 0})
				e.msi(1, 0)
			}
			e.takesOnce(0, 8192)
			e.msi(1, 0)
			e.must(model.CLEAR{DeviceID: 1, EventID: 0})
			e.takesOnce(0)
		}},
		{"MOVI moves pending state", func(t *testing.T, e *env) {
			e.msi(1, 0)
			e.must(model.MOVI{DeviceID: 1, EventID: 0, ICID: 1})
			if p := e.pending(0); len(p) != 0 {
				t.Errorf("still pending on CPU 0: %v", p)
			}
			e.takesOnce(1, 8192)
		}},
		{"INV and INVALL reload cached configuration", func(t *testing.T, e *env) {
			e.must(model.MAPTI{DeviceID: 1, EventID: 1, INTID: 8193, ICID: 0})
			e.config(0xA0, false, 8192, 8193)
			e.msi(1, 0)
			e.msi(1, 1)
			e.takesOnce(0, 8192, 8193) // configuration is cached: still enabled
			e.msi(1, 0)
			e.msi(1, 1)
			e.must(model.INV{DeviceID: 1, EventID: 0})
			e.takesOnce(0, 8193) // 8192 now disabled: pending, not taken
			if p := e.pending(0); !slices.Equal(p, []model.INTID{8192}) {
				t.Errorf("pending %v, want [8192]", p)
			}
			e.msi(1, 1)
			e.must(model.INVALL{ICID: 0})
			e.takesOnce(0)
			e.config(0x10, true, 8192, 8193)
			must(t, e.b.WriteRedistributorRegister(0, model.GICR_INVLPIR, 8193))
			e.takesOnce(0, 8193)
			must(t, e.b.WriteRedistributorRegister(0, model.GICR_INVALLR, 0))
			e.takesOnce(0, 8192)
		}},
		{"LPI disabled in the property table: delivered, pending, not taken", func(t *testing.T, e *env) {
			e.config(0xA0, false, 8196)
			e.must(model.MAPTI{DeviceID: 1, EventID: 3, INTID: 8196, ICID: 1})
			if d := e.msi(1, 3); d != model.Delivered {
				t.Errorf("MSI: %v, want delivered (KVM)", d)
			}
			e.takesOnce(1)
			if p := e.pending(1); !slices.Equal(p, []model.INTID{8196}) {
				t.Errorf("pending %v", p)
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			modes(t, func(t *testing.T, cfg model.Config) {
				e := open(t, cfg)
				base(e)
				sc.run(t, e)
			})
		})
	}
}

func TestPrioritiesAndAcknowledgeOrder(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	base(e)
	e.must(model.MAPD{DeviceID: 2, Size: 3, ITTAddr: e.itt(4), Valid: true})
	prio := map[model.INTID]uint8{8200: 0x80, 8201: 0x40, 8202: 0x40, 8203: 0xC0, 8204: 0xFC}
	for id, p := range prio {
		e.config(p, true, id)
		e.must(model.MAPTI{DeviceID: 2, EventID: model.EventID(id - 8200), INTID: id, ICID: 0})
		e.msi(2, model.EventID(id-8200))
	}
	// PMR 0x80: only priorities below 0x80.
	must(t, e.b.SetPriorityMask(0, 0x80))
	a, _ := e.b.Acknowledge(0)
	if a != 8201 {
		t.Fatalf("first acknowledge %d, want 8201 (priority 0x40, lowest INTID)", a)
	}
	// Running priority 0x40: nothing of equal priority preempts.
	if b, _ := e.b.Acknowledge(0); b != model.SpuriousINTID {
		t.Errorf("acknowledge while 8201 active: %d, want spurious", b)
	}
	if err := e.b.EOI(0, 8202); err == nil {
		t.Error("EOI of an interrupt that is not the last acknowledged succeeded")
	}
	must(t, e.b.EOI(0, a))
	if b := e.ack(0); b != 8202 {
		t.Errorf("then %d, want 8202", b)
	}
	if b := e.ack(0); b != model.SpuriousINTID {
		t.Errorf("then %d, want spurious: 0x80 is masked by PMR 0x80", b)
	}
	// Nested: 0x80 active, a higher priority preempts.
	must(t, e.b.SetPriorityMask(0, 0xFF))
	outer, _ := e.b.Acknowledge(0)
	if outer != 8200 {
		t.Fatalf("acknowledge %d, want 8200", outer)
	}
	e.msi(2, 1) // 8201, priority 0x40
	inner, _ := e.b.Acknowledge(0)
	if inner != 8201 {
		t.Errorf("preempting acknowledge %d, want 8201", inner)
	}
	must(t, e.b.EOI(0, inner))
	must(t, e.b.EOI(0, outer))
	// 0xFC is below PMR 0xFF; nothing is 0xFF.
	e.takesOnce(0, 8203, 8204)
	if err := e.b.EOI(0, 8204); err == nil {
		t.Error("EOI with nothing active succeeded")
	}
}

func TestRouting(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	base(e)
	caps := e.b.Capabilities()
	route := caps.PrepareRoute(model.Route{GSI: 5, MSI: model.MSI{Doorbell: e.b.Layout().Doorbell(), Data: 0, DeviceID: 1}})
	must(t, e.b.SetGSIRouting([]model.Route{route}))
	must(t, e.b.TriggerGSI(5))
	e.takesOnce(0, 8192)
	if err := e.b.TriggerGSI(6); !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), "GSI 6") {
		t.Errorf("TriggerGSI(6) with no route: %v", err)
	}
	tr, err := e.b.BindIRQFD(5)
	must(t, err)
	if _, err := e.b.BindIRQFD(5); !errors.Is(err, model.ErrBusy) {
		t.Errorf("second BindIRQFD(5): %v, want ErrBusy", err)
	}
	must(t, tr.Signal())
	e.takesOnce(0, 8192)
	must(t, tr.Close())
	if err := tr.Signal(); !errors.Is(err, model.ErrClosed) {
		t.Errorf("Signal after Close: %v, want ErrClosed", err)
	}
	must(t, tr.Close())
	tr2, err := e.b.BindIRQFD(5)
	must(t, err)
	must(t, tr2.Close())
	// The table is replaced whole.
	must(t, e.b.SetGSIRouting(nil))
	if err := e.b.TriggerGSI(5); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("TriggerGSI after the table was replaced: %v", err)
	}
	too := make([]model.Route, model.MaxGSIRoutes+1)
	for i := range too {
		too[i] = model.Route{GSI: model.GSI(i)}
	}
	for name, rs := range map[string][]model.Route{
		"too many routes": too,
		"GSI too large":   {{GSI: model.MaxGSIRoutes}},
		"GSI twice":       {{GSI: 1}, {GSI: 1}},
	} {
		if err := e.b.SetGSIRouting(rs); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
	}
	if _, err := e.b.BindIRQFD(model.MaxGSIRoutes); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("BindIRQFD(MaxGSIRoutes): %v", err)
	}
}

func TestBadInput(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	base(e)
	m := e.msiOf(1, 0)
	m.DeviceIDValid = false
	if _, err := e.b.SignalMSI(m); !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), "DeviceID") {
		t.Errorf("MSI without a DeviceID: %v", err)
	}
	m = e.msiOf(1, 0)
	m.Doorbell += 4
	if _, err := e.b.SignalMSI(m); !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), m.Doorbell.String()) {
		t.Errorf("MSI to a wrong doorbell: %v", err)
	}
	if _, err := e.b.Acknowledge(7); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("Acknowledge on CPU 7: %v", err)
	}
	if err := model.SetLPIConfig(e.b, 100, 0); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("SetLPIConfig(100): %v", err)
	}
	if err := model.SubmitCommands(e.b, model.MAPD{Size: 40}); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("unencodable command: %v", err)
	}
	if err := model.SubmitCommands(e.b, nil); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("nil command: %v", err)
	}
	if _, err := model.Open("sim", model.Config{ITSTyper: model.ITSTyper(0x1EF01 | 3<<4)}); !errors.Is(err, model.ErrNotSupported) {
		t.Errorf("ITT entry size 4: %v, want ErrNotSupported", err)
	}
	must(t, e.b.Close())
	must(t, e.b.Close())
	if _, err := e.b.SignalMSI(e.msiOf(1, 0)); !errors.Is(err, model.ErrClosed) {
		t.Errorf("SignalMSI after Close: %v", err)
	}
	if err := model.SubmitCommands(e.b, model.SYNC{}); !errors.Is(err, model.ErrClosed) {
		t.Errorf("SubmitCommands after Close: %v", err)
	}
}

// An MSI's EventID is 32 bits, but no mapped EventID has bit 31 set. One
// that differs from a mapped, cached event only in bit 31 must be blocked,
// not alias it (the cache marks its keys with that bit).
func TestMSIWithEventIDBit31IsBlocked(t *testing.T) {
	typer, err := model.MakeITSTyper(8, 20, 16, 16)
	must(t, err)
	modes(t, func(t *testing.T, cfg model.Config) {
		cfg.ITSTyper = typer
		e := open(t, cfg)
		e.enable(0)
		const ev = model.EventID(0x10005) // above 2^16: the cache's hash table
		e.config(0xA0, true, 8300)
		e.must(
			model.MAPD{DeviceID: 1, Size: 16, ITTAddr: e.itt(17), Valid: true},
			model.MAPC{ICID: 0, RDbase: 0, Valid: true},
			model.MAPTI{DeviceID: 1, EventID: ev, INTID: 8300, ICID: 0},
		)
		if d := e.msi(1, ev); d != model.Delivered {
			t.Fatalf("MSI to the mapped event: %v", d)
		}
		e.takesOnce(0, 8300)
		if d := e.msi(1, ev|1<<31); d != model.Blocked {
			t.Fatalf("MSI with EventID %#x: %v, want blocked (only %#x is mapped)", ev|1<<31, d, ev)
		}
		if p := e.pending(0); len(p) != 0 {
			t.Fatalf("pending after the blocked MSI: %v", p)
		}
	})
}

// Two devices sharing one ITT is UNPREDICTABLE: the second device's MAPTI
// overwrites the first one's live ITE. The walk checks guest memory
// against the ITS's record and blocks the first device's MSI at once; a
// cached translation keeps delivering what the record says until a
// command invalidates it (its/doc.go, "Translation cache").
func TestOverlappingITTsCachedAndWalked(t *testing.T) {
	for _, tc := range []struct {
		noCache bool
		want    model.Delivery
	}{{false, model.Delivered}, {true, model.Blocked}} {
		e := open(t, model.Config{CPUs: 1, NoTranslationCache: tc.noCache})
		e.enable(0)
		e.config(0xA0, true, 8200, 8201)
		itt := e.itt(4)
		e.must(
			model.MAPD{DeviceID: 1, Size: 3, ITTAddr: itt, Valid: true},
			model.MAPD{DeviceID: 2, Size: 3, ITTAddr: itt, Valid: true},
			model.MAPC{ICID: 0, RDbase: 0, Valid: true},
			model.MAPTI{DeviceID: 1, EventID: 0, INTID: 8200, ICID: 0},
		)
		if d := e.msi(1, 0); d != model.Delivered {
			t.Fatalf("noCache=%v: first MSI %v", tc.noCache, d)
		}
		e.takesOnce(0, 8200)
		e.must(model.MAPTI{DeviceID: 2, EventID: 0, INTID: 8201, ICID: 0})
		if d := e.msi(1, 0); d != tc.want {
			t.Errorf("noCache=%v: MSI after the overlapping MAPTI: %v, want %v", tc.noCache, d, tc.want)
		}
		// A command that ends the translation ends it either way.
		e.must(model.DISCARD{DeviceID: 1, EventID: 0})
		if d := e.msi(1, 0); d != model.Blocked {
			t.Errorf("noCache=%v: MSI after DISCARD: %v, want blocked", tc.noCache, d)
		}
	}
}
