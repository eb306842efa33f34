package inspect_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// fakeBackend answers the calls the trace tests make; everything else
// panics through the nil embedded interface. It has a command queue (the
// registers model.SubmitCommands reads and GITS_CWRITER), so the trace of
// model.SubmitCommands is tested over the one writer every backend uses.
type fakeBackend struct {
	model.Backend
	cwriter uint64
	mem     *model.RAM
	failAt  uint64 // queue offset of a command that fails, or ^0
}

func newFake(t testing.TB) *fakeBackend {
	mem, err := model.NewRAM(0x40000000, 0x10000)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeBackend{mem: mem, failAt: ^uint64(0)}
}

func (f *fakeBackend) Name() string         { return "fake" }
func (f *fakeBackend) Memory() model.Memory { return f.mem }
func (f *fakeBackend) Capabilities() model.Capabilities {
	return model.Capabilities{ReportsCommandErrors: true}
}

func (f *fakeBackend) SignalMSI(m model.MSI) (model.Delivery, error) {
	if m.Data == 99 {
		return model.Blocked, nil
	}
	return model.Delivered, nil
}

func (f *fakeBackend) ReadITSRegister(reg model.ITSRegister) (uint64, error) {
	switch reg {
	case model.GITS_CWRITER, model.GITS_CREADR: // every command runs at once
		return f.cwriter, nil
	case model.GITS_CTLR:
		return model.GITS_CTLR_Enabled, nil
	case model.GITS_CBASER:
		cb, err := model.MakeCBASER(0x40000000, 1)
		return uint64(cb), err
	}
	return 0, model.ErrNotSupported
}

func (f *fakeBackend) process(to uint64) error {
	var errs []error
	for off := f.cwriter; off != to; off = (off + 32) % 4096 {
		if off == f.failAt {
			var p model.Packet
			f.mem.ReadAt(p[:], 0x40000000+model.GPA(off))
			errs = append(errs, &model.CommandError{Offset: off, Packet: p, Code: model.E_ITS_MAPTI_UNMAPPED_DEVICE, Detail: "device 0x10 is not mapped"})
		}
	}
	f.cwriter = to
	return errors.Join(errs...)
}

func (f *fakeBackend) WriteITSRegister(reg model.ITSRegister, v uint64) error {
	if reg == model.GITS_CWRITER {
		return f.process(v & model.GITS_CQ_OffsetMask)
	}
	return nil
}

func textLogger(w *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}))
}

func TestTraceLogsCommandsAndMSIsWithTheirOutcome(t *testing.T) {
	f := newFake(t)
	f.failAt = 0x20
	var log bytes.Buffer
	b := inspect.Trace(f, textLogger(&log, slog.LevelInfo))
	if b.Name() != "fake" {
		t.Errorf("Name() = %q, want the wrapped backend's", b.Name())
	}
	err := model.SubmitCommands(b, model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193})
	if len(model.CommandErrors(err)) != 1 {
		t.Errorf("SubmitCommands error %v: the wrapper must pass the backend's errors through", err)
	}
	b.SignalMSI(model.MSI{Doorbell: 0x8090040, Data: 1, DeviceID: 0x10, DeviceIDValid: true})
	b.SignalMSI(model.MSI{Doorbell: 0x8090040, Data: 99, DeviceID: 0x10})
	// A command written into the queue by hand, then CWRITER.
	p, _ := model.INT{DeviceID: 0x10, EventID: 1}.Encode()
	f.mem.WriteAt(p[:], 0x40000040)
	if err := b.WriteITSRegister(model.GITS_CWRITER, 0x60); err != nil {
		t.Fatal(err)
	}
	want := `level=INFO msg=command cmd="MAPC icid=0 rdbase=0" offset=0x0 outcome=ok
level=INFO msg=command cmd="MAPTI dev=0x10 ev=1 lpi=8193 icid=0" offset=0x20 outcome=E_ITS_MAPTI_UNMAPPED_DEVICE detail="device 0x10 is not mapped"
level=INFO msg=msi dev=0x10 ev=1 devid=valid outcome=delivered
level=INFO msg=msi dev=0x10 ev=99 devid=none outcome=blocked
level=INFO msg=command cmd="INT dev=0x10 ev=1" offset=0x40 outcome=ok
`
	if log.String() != want {
		t.Errorf("trace:\n%s\nwant:\n%s", log.String(), want)
	}
}

func TestTraceWithNilLoggerIsTheBackendItself(t *testing.T) {
	f := newFake(t)
	if b := inspect.Trace(f, nil); b != model.Backend(f) {
		t.Error("Trace(b, nil) wrapped b")
	}
}

// disabledHandler is enabled for no level.
type disabledHandler struct{ slog.Handler }

func (disabledHandler) Enabled(context.Context, slog.Level) bool { return false }

func TestTraceDisabledDoesNotAllocate(t *testing.T) {
	b := inspect.Trace(newFake(t), slog.New(disabledHandler{}))
	m := model.MSI{Doorbell: 0x8090040, Data: 1, DeviceID: 0x10, DeviceIDValid: true}
	if n := testing.AllocsPerRun(100, func() { b.SignalMSI(m) }); n != 0 {
		t.Errorf("SignalMSI through a disabled trace: %v allocations, want 0", n)
	}
}

// BenchmarkTraceSignalMSI compares SignalMSI on the backend itself (the
// baseline: tracing off, not wrapped), through the wrapper with a disabled
// handler (the hooks compiled in, tracing off), and through the wrapper
// logging to a discarded text handler (tracing on).
func BenchmarkTraceSignalMSI(b *testing.B) {
	m := model.MSI{Doorbell: 0x8090040, Data: 1, DeviceID: 0x10, DeviceIDValid: true}
	for _, tc := range []struct {
		name string
		wrap func(model.Backend) model.Backend
	}{
		{"fake/unwrapped", func(be model.Backend) model.Backend { return be }},
		{"fake/trace-disabled", func(be model.Backend) model.Backend { return inspect.Trace(be, slog.New(disabledHandler{})) }},
		{"fake/trace-on", func(be model.Backend) model.Backend {
			return inspect.Trace(be, slog.New(slog.NewTextHandler(discard{}, nil)))
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			be := tc.wrap(newFake(b))
			b.ReportAllocs()
			for b.Loop() {
				be.SignalMSI(m)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
