package inspect_test

import (
	"log/slog"
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
		if err := b.EnableLPIs(model.CPU(cpu)); err != nil {
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
		if err := b.SetLPIConfig(lpi, model.MakeLPIConfig(0xa0, true)); err != nil {
			tb.Fatal(err)
		}
		cmds = append(cmds, model.MAPTI{DeviceID: 0x10, EventID: model.EventID(ev), INTID: lpi, ICID: 0})
	}
	if err := b.SubmitCommands(cmds...); err != nil {
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
