package inspect_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// openMapped opens the simulator with cpus CPUs and device 0x10's events
// 0..3 mapped to LPIs 8192.. on collection 0 (CPU 0), LPIs enabled at
// priority 0xa0.
func openMapped(tb testing.TB, cpus int) model.Backend {
	tb.Helper()
	b, err := model.Open("sim", model.Config{CPUs: cpus})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	for cpu := range cpus {
		if err := model.EnableLPIs(b, model.CPU(cpu)); err != nil {
			tb.Fatal(err)
		}
	}
	itt, err := b.Layout().ITTAllocator().Alloc(model.ITTSize(2, 8), 256)
	if err != nil {
		tb.Fatal(err)
	}
	cmds := []model.Command{
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPD{DeviceID: 0x10, Size: 1, ITTAddr: itt, Valid: true},
	}
	for ev := range 4 {
		lpi := model.LPIBase + model.INTID(ev)
		if err := model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xa0, true)); err != nil {
			tb.Fatal(err)
		}
		cmds = append(cmds, model.MAPTI{DeviceID: 0x10, EventID: model.EventID(ev), INTID: lpi, ICID: 0})
	}
	if err := model.SubmitCommands(b, cmds...); err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkTraceSignalMSISim is BenchmarkTraceSignalMSI on the simulator:
// the baseline (not wrapped: tracing off costs nothing by construction)
// beside the wrapper with a disabled handler and with tracing on.
func BenchmarkTraceSignalMSISim(b *testing.B) {
	for _, tc := range []struct {
		name string
		log  *slog.Logger
	}{
		{"sim/unwrapped", nil},
		{"sim/trace-disabled", slog.New(disabledHandler{})},
		{"sim/trace-on", slog.New(slog.NewTextHandler(discard{}, nil))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			be := inspect.Trace(openMapped(b, 1), tc.log)
			m := be.Capabilities().Prepare(model.MSI{Doorbell: be.Layout().Doorbell(), Data: 1, DeviceID: 0x10})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := be.SignalMSI(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestTraceDisabledOnSimDoesNotAllocate(t *testing.T) {
	be := inspect.Trace(openMapped(t, 1), slog.New(disabledHandler{}))
	m := be.Capabilities().Prepare(model.MSI{Doorbell: be.Layout().Doorbell(), Data: 1, DeviceID: 0x10})
	unwrapped := openMapped(t, 1)
	base := testing.AllocsPerRun(100, func() { unwrapped.SignalMSI(m) })
	if n := testing.AllocsPerRun(100, func() { be.SignalMSI(m) }); n != base {
		t.Errorf("SignalMSI through a disabled trace: %v allocations, unwrapped %v", n, base)
	}
}

func TestReadStateOnSim(t *testing.T) {
	b := openMapped(t, 2)
	if err := model.SubmitCommands(b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}, model.MOVI{DeviceID: 0x10, EventID: 2, ICID: 1}); err != nil {
		t.Fatal(err)
	}
	m := b.Capabilities().Prepare(model.MSI{Doorbell: b.Layout().Doorbell(), Data: 2, DeviceID: 0x10})
	if d, err := b.SignalMSI(m); err != nil || d != model.Delivered {
		t.Fatalf("MSI: %v %v", d, err)
	}
	s, err := inspect.ReadState(b)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `ITS: enabled, CREADR 0x100, CWRITER 0x100
  GITS_CBASER 0xb80000004000040f (queue at 0x40000000, 16 pages)
  GITS_BASER0 flat devices table at 0x40010000, 8 x 64 KiB pages
  GITS_BASER1 flat collections table at 0x40090000, 1 x 64 KiB page
  GICR_PROPBASER table at 0x40100000, 16 INTID bits
redistributors:
  CPU 0: LPIs enabled, pending: none
  CPU 1: LPIs enabled, pending: 8194
collections:
  ICID 0 -> CPU 0
  ICID 1 -> CPU 1
devices:
  DeviceID 0x10: ITT at 0x40800000, 2 EventID bits, 4 events mapped
    EventID 0 -> LPI 8192, ICID 0
    EventID 1 -> LPI 8193, ICID 0
    EventID 2 -> LPI 8194, ICID 1
    EventID 3 -> LPI 8195, ICID 0
LPI configuration (non-zero bytes of the property table):
  8192..8195 prio=0xa0 enabled
`
	if out.String() != want {
		t.Errorf("state:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestExplainOnSim(t *testing.T) {
	b := openMapped(t, 2)
	if err := model.SubmitCommands(b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}, model.MOVI{DeviceID: 0x10, EventID: 2, ICID: 1}); err != nil {
		t.Fatal(err)
	}
	m := b.Capabilities().Prepare(model.MSI{Doorbell: b.Layout().Doorbell(), Data: 2, DeviceID: 0x10})
	if d, err := b.SignalMSI(m); err != nil || d != model.Delivered {
		t.Fatalf("MSI: %v %v", d, err)
	}
	for _, tc := range []struct {
		ev       model.EventID
		verdicts string
		want     string
	}{
		{2, "ok ok ok ok ok ok ok ok ok", "   at 0x40800010: 01 00 02 20 00 00 01 00 (0x0001000020020001)\n   pINTID=8194  ICID=1  next=1\n"},
		{3, "ok ok ok ok ok ok ok info info", "   no: the LPI is not pending\n"},
		{5, "ok ok ok FAIL", "   check: the EventID fits the ITT; E_ITS_INT_ID_OOR (0x010305); IHI 0069 6.3.11, 6.3.13\n"},
	} {
		steps, err := inspect.Explain(b, 0x10, tc.ev, inspect.ExplainOptions{Probe: true})
		if err != nil {
			t.Fatal(err)
		}
		var verdicts []string
		for _, s := range steps {
			verdicts = append(verdicts, string(s.Verdict))
		}
		var out strings.Builder
		inspect.WriteSteps(&out, steps)
		if strings.Join(verdicts, " ") != tc.verdicts || !strings.Contains(out.String(), tc.want) {
			t.Errorf("explain ev=%d: verdicts %v, want %s; output:\n%s\nwant it to contain:\n%s", tc.ev, verdicts, tc.verdicts, out.String(), tc.want)
		}
	}
}

// TestExplainITTEntrySize12: with QEMU's 12-byte ITT entries, explain
// reads ITE n at ITT + 12n, where the simulator wrote it.
func TestExplainITTEntrySize12(t *testing.T) {
	typer := model.KVMITSTyper&^(0xF<<4) | 11<<4
	b, err := model.Open("sim", model.Config{CPUs: 1, ITSTyper: typer})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := model.EnableLPIs(b, 0); err != nil {
		t.Fatal(err)
	}
	itt, err := b.Layout().ITTAllocator().Alloc(model.ITTSize(2, 12), 256)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.SetLPIConfig(b, 8195, model.MakeLPIConfig(0xa0, true)); err != nil {
		t.Fatal(err)
	}
	if err := model.SubmitCommands(b, model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPD{DeviceID: 0x10, Size: 1, ITTAddr: itt, Valid: true},
		model.MAPTI{DeviceID: 0x10, EventID: 3, INTID: 8195, ICID: 0}); err != nil {
		t.Fatal(err)
	}
	steps, err := inspect.Explain(b, 0x10, 3, inspect.ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	inspect.WriteSteps(&out, steps)
	want := fmt.Sprintf("at %v: 00 00 03 20 00 00 00 00", itt+36)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "pINTID=8195") {
		t.Errorf("explain with 12-byte ITT entries:\n%s\nwant it to contain %q", out.String(), want)
	}
}
