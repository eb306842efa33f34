package sim_test

import (
	"slices"
	"testing"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// env is a simulator opened for one test, with helpers that fail the test
// on unexpected errors.
type env struct {
	t     testing.TB
	b     *sim.Backend
	alloc *model.Allocator
}

// smallLayout is the default layout with 16 MiB of RAM (8 MiB of ITTs), so
// tests that copy guest memory stay fast under the race detector.
func smallLayout() model.Layout {
	l := model.DefaultLayout()
	l.RAMSize = 16 << 20
	l.ITTsSize = 8 << 20
	return l
}

func open(t testing.TB, cfg model.Config) *env {
	t.Helper()
	if cfg.Layout == (model.Layout{}) {
		cfg.Layout = smallLayout()
	}
	b, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return &env{t: t, b: b, alloc: b.Layout().ITTAllocator()}
}

// modes runs fn with the translation cache on and off: every behaviour must
// be the same both ways.
func modes(t *testing.T, fn func(t *testing.T, cfg model.Config)) {
	for _, m := range []struct {
		name    string
		noCache bool
	}{{"cached", false}, {"uncached", true}} {
		t.Run(m.name, func(t *testing.T) { fn(t, model.Config{CPUs: 2, NoTranslationCache: m.noCache}) })
	}
}

// itt allocates an ITT for bits EventID bits.
func (e *env) itt(bits int) model.GPA {
	e.t.Helper()
	a, err := e.alloc.Alloc(model.ITTSize(bits, e.b.Capabilities().ITTEntrySize), 256)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// must submits commands that must all succeed.
func (e *env) must(cmds ...model.Command) {
	e.t.Helper()
	if err := model.SubmitCommands(e.b, cmds...); err != nil {
		e.t.Fatalf("SubmitCommands(%v): %v", cmds, err)
	}
}

// codes submits commands and returns the error codes they produced.
func (e *env) codes(cmds ...model.Command) []model.ErrorCode {
	e.t.Helper()
	err := model.SubmitCommands(e.b, cmds...)
	var out []model.ErrorCode
	for _, ce := range model.CommandErrors(err) {
		out = append(out, ce.Code)
	}
	if err != nil && len(out) == 0 {
		e.t.Fatalf("SubmitCommands: %v (not a command error)", err)
	}
	return out
}

func (e *env) enable(cpus ...model.CPU) {
	e.t.Helper()
	for _, c := range cpus {
		if err := model.EnableLPIs(e.b, c); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) config(prio uint8, enabled bool, intids ...model.INTID) {
	e.t.Helper()
	for _, id := range intids {
		if err := model.SetLPIConfig(e.b, id, model.MakeLPIConfig(prio, enabled)); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) msiOf(dev model.DeviceID, ev model.EventID) model.MSI {
	return model.MSI{Doorbell: e.b.Layout().Doorbell(), Data: uint32(ev), DeviceID: dev, DeviceIDValid: true}
}

// msi signals an MSI and returns the outcome; errors fail the test.
func (e *env) msi(dev model.DeviceID, ev model.EventID) model.Delivery {
	e.t.Helper()
	d, err := e.b.SignalMSI(e.msiOf(dev, ev))
	if err != nil {
		e.t.Fatalf("SignalMSI(dev %#x, ev %d): %v", dev, ev, err)
	}
	return d
}

func (e *env) msiErr(dev model.DeviceID, ev model.EventID) error {
	_, err := e.b.SignalMSI(e.msiOf(dev, ev))
	return err
}

// ack acknowledges one interrupt on cpu and EOIs it.
func (e *env) ack(cpu model.CPU) model.INTID {
	e.t.Helper()
	id, err := e.b.Acknowledge(cpu)
	if err != nil {
		e.t.Fatal(err)
	}
	if id != model.SpuriousINTID {
		if err := e.b.EOI(cpu, id); err != nil {
			e.t.Fatal(err)
		}
	}
	return id
}

// drain acknowledges (and EOIs) everything cpu takes, in order.
func (e *env) drain(cpu model.CPU) []model.INTID {
	e.t.Helper()
	var out []model.INTID
	for range 100000 {
		id := e.ack(cpu)
		if id == model.SpuriousINTID {
			return out
		}
		out = append(out, id)
	}
	e.t.Fatal("drain: no end")
	return nil
}

// takesOnce checks that cpu acknowledges exactly want, once, then spurious
// (kvm-unit-tests' "PE receives LPI X exactly once").
func (e *env) takesOnce(cpu model.CPU, want ...model.INTID) {
	e.t.Helper()
	got := e.drain(cpu)
	if !slices.Equal(got, want) {
		e.t.Errorf("CPU %d acknowledged %v, want %v then spurious", cpu, got, want)
	}
}

func (e *env) pending(cpu model.CPU) []model.INTID {
	e.t.Helper()
	p, err := e.b.Pending(cpu)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) read64(addr model.GPA) uint64 {
	e.t.Helper()
	v, err := model.ReadUint64(e.b.Memory(), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) itsReg(r model.ITSRegister) uint64 {
	e.t.Helper()
	v, err := e.b.ReadITSRegister(r)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) ramBytes() []byte {
	s, err := e.b.RAM().Slice(e.b.RAM().Base(), int(e.b.RAM().Size()))
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.Clone(s)
}
