package sim

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gicits/gicits/gicr"
	"github.com/gicits/gicits/its"
	"github.com/gicits/gicits/model"
)

// Name is the name the simulator registers under.
const Name = "sim"

func init() { model.Register(Name, func(cfg model.Config) (model.Backend, error) { return New(cfg) }) }

var errClosed = fmt.Errorf("sim: backend %w", model.ErrClosed)

// Backend is the simulator. It implements [model.Backend]; its methods are
// safe for concurrent use.
type Backend struct {
	cfg      model.Config
	layout   model.Layout
	ram      *model.RAM
	rd       *gicr.Redistributors
	its      *its.ITS    // ITS 0, itses[0]
	itses    []*its.ITS  // by ITS number (Layout.ITSes)
	doorbell []model.GPA // GITS_TRANSLATER of each ITS
	closed   atomic.Bool

	routeMu sync.RWMutex
	routes  map[model.GSI]model.MSI
	irqfds  map[model.GSI]*trigger
}

var _ model.Backend = (*Backend)(nil)

// New opens a simulator (model.Open("sim", cfg) does the same through the
// registry).
func New(cfg model.Config) (*Backend, error) {
	cfg = cfg.WithDefaults()
	l := cfg.Layout
	if err := l.Validate(cfg.CPUs); err != nil {
		return nil, err
	}
	ram, err := model.NewRAM(l.RAMBase, l.RAMSize)
	if err != nil {
		return nil, err
	}
	rd, err := gicr.New(ram, cfg.CPUs, min(max(16, l.LPIIDBits), gicr.MaxIDBits))
	if err != nil {
		return nil, err
	}
	if cfg.ITSTyper.Virtual() {
		rd.EnableVirtual()
	}
	b := &Backend{
		cfg: cfg, layout: l, ram: ram, rd: rd,
		routes: map[model.GSI]model.MSI{}, irqfds: map[model.GSI]*trigger{},
	}
	prop, err := l.PropBaser()
	if err != nil {
		return nil, err
	}
	for cpu := range cfg.CPUs {
		pend, err := l.PendBaser(model.CPU(cpu), false)
		if err != nil {
			return nil, err
		}
		if err := rd.WriteRegister(model.CPU(cpu), model.GICR_PROPBASER, uint64(prop)); err != nil {
			return nil, err
		}
		if err := rd.WriteRegister(model.CPU(cpu), model.GICR_PENDBASER, uint64(pend)); err != nil {
			return nil, err
		}
	}
	for i := range l.ITSCount() {
		t, err := newITS(ram, rd, cfg, l, i)
		if err != nil {
			return nil, err
		}
		il, _ := l.ForITS(i) // i is in range
		b.itses = append(b.itses, t)
		b.doorbell = append(b.doorbell, il.Doorbell())
	}
	b.its = b.itses[0]
	if len(b.itses) > 1 {
		its.Link(b.itses)
	}
	return b, nil
}

// newITS builds ITS i and programs it as a guest driver leaves it after
// probing: its device and collection tables, its command queue, on a
// GICv4 ITS its vPE table (64 KiB each at the start of the scratch
// region, which the simulator does not otherwise use), then Enabled.
func newITS(ram *model.RAM, rd *gicr.Redistributors, cfg model.Config, machine model.Layout, i int) (*its.ITS, error) {
	t, err := its.New(ram, rd, its.Config{Typer: cfg.ITSTyper, ErrorPolicy: cfg.ErrorPolicy, NoTranslationCache: cfg.NoTranslationCache, Number: i})
	if err != nil {
		return nil, err
	}
	l, err := machine.ForITS(i)
	if err != nil {
		return nil, err
	}
	dev, err := l.DeviceBaser(its.DeviceBaserReset)
	if err != nil {
		return nil, err
	}
	coll, err := l.CollectionBaser(its.CollectionBaserReset)
	if err != nil {
		return nil, err
	}
	cb, err := l.CBASER()
	if err != nil {
		return nil, err
	}
	type write struct {
		reg model.ITSRegister
		v   uint64
	}
	writes := []write{{model.GITS_BASER(0), uint64(dev)}, {model.GITS_BASER(1), uint64(coll)}, {model.GITS_CBASER, uint64(cb)}}
	if cfg.ITSTyper.Virtual() {
		vpes, err := its.VPEBaserReset.WithTable(l.Scratch+model.GPA(i<<16), model.PageSize64K, 1, false)
		if err != nil {
			return nil, err
		}
		writes = append(writes, write{model.GITS_BASER(2), uint64(vpes)})
	}
	writes = append(writes, write{model.GITS_CTLR, model.GITS_CTLR_Enabled})
	for _, w := range writes {
		if err := t.WriteRegister(w.reg, w.v); err != nil {
			return nil, fmt.Errorf("sim: programming ITS %d's %v: %w", i, w.reg, err)
		}
	}
	return t, nil
}

// ITS returns the model of ITS 0, for tests and tools that look inside.
func (b *Backend) ITS() *its.ITS { return b.its }

// ITSAt returns the model of ITS i, or nil when there is no such ITS.
func (b *Backend) ITSAt(i int) *its.ITS {
	if i < 0 || i >= len(b.itses) {
		return nil
	}
	return b.itses[i]
}

var _ model.MultiITS = (*Backend)(nil)

// ITSView returns the backend as ITS i sees it (model.MultiITS).
func (b *Backend) ITSView(i int) (model.Backend, error) {
	if i == 0 {
		return b, nil
	}
	return model.NewITSView(b, b, i)
}

// itsAt returns ITS i, or an error naming the range.
func (b *Backend) itsAt(i int) (*its.ITS, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if t := b.ITSAt(i); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("sim: ITS %d out of range 0..%d: %w", i, len(b.itses)-1, model.ErrInvalidArgument)
}

// ReadITSRegisterOf reads a register of ITS i (model.ITSAccess).
func (b *Backend) ReadITSRegisterOf(i int, reg model.ITSRegister) (uint64, error) {
	t, err := b.itsAt(i)
	if err != nil {
		return 0, err
	}
	return t.ReadRegister(reg)
}

// WriteITSRegisterOf writes a register of ITS i (model.ITSAccess).
func (b *Backend) WriteITSRegisterOf(i int, reg model.ITSRegister, v uint64) error {
	t, err := b.itsAt(i)
	if err != nil {
		return err
	}
	return t.WriteRegister(reg, v)
}

// SaveTablesOf writes ITS i's tables and every pending table into guest
// memory (model.ITSAccess).
func (b *Backend) SaveTablesOf(i int) error {
	t, err := b.itsAt(i)
	if err != nil {
		return err
	}
	if err := t.SaveTables(); err != nil {
		return err
	}
	return b.rd.SavePendingTables()
}

// RestoreTablesOf rebuilds ITS i from its tables (model.ITSAccess).
func (b *Backend) RestoreTablesOf(i int) error {
	t, err := b.itsAt(i)
	if err != nil {
		return err
	}
	return t.RestoreTables()
}

// Redistributors returns the redistributor model, for tests and tools that
// look inside.
func (b *Backend) Redistributors() *gicr.Redistributors { return b.rd }

// RAM returns guest memory.
func (b *Backend) RAM() *model.RAM { return b.ram }

// Name returns "sim".
func (b *Backend) Name() string { return Name }

// Capabilities returns what the simulator implements.
func (b *Backend) Capabilities() model.Capabilities {
	typer := b.its.Typer()
	return model.Capabilities{
		CPUs:                 b.cfg.CPUs,
		NeedsDeviceID:        true,
		DeviceIDBits:         typer.DeviceIDBits(),
		EventIDBits:          typer.EventIDBits(),
		ICIDBits:             typer.ICIDBits(),
		ITTEntrySize:         typer.ITTEntrySize(),
		LPIIDBits:            min(b.layout.LPIIDBits, b.rd.MaxIDBits()),
		ReportsCommandErrors: true,
		VirtualLPIs:          typer.Virtual(),
		ITSes:                len(b.itses),
		ErrorPolicies:        []model.ErrorPolicy{model.ContinueOnError, model.StallOnError},
		Where:                "simulated in this process",
	}
}

// Layout returns the layout the simulator was opened with.
func (b *Backend) Layout() model.Layout { return b.layout }

// Memory returns guest memory.
func (b *Backend) Memory() model.Memory { return b.ram }

// ReadITSRegister reads an ITS register.
func (b *Backend) ReadITSRegister(reg model.ITSRegister) (uint64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	return b.its.ReadRegister(reg)
}

// WriteITSRegister writes an ITS register; a GITS_CWRITER write returns
// the command errors.
func (b *Backend) WriteITSRegister(reg model.ITSRegister, v uint64) error {
	if b.closed.Load() {
		return errClosed
	}
	return b.its.WriteRegister(reg, v)
}

// ReadRedistributorRegister reads a register of cpu's RD_base frame.
func (b *Backend) ReadRedistributorRegister(cpu model.CPU, reg model.GICRRegister) (uint64, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	return b.rd.ReadRegister(cpu, reg)
}

// WriteRedistributorRegister writes a register of cpu's RD_base frame. A
// GICR_CTLR write that clears EnableLPIs holds MSIs off and flushes the
// translation cache around it.
func (b *Backend) WriteRedistributorRegister(cpu model.CPU, reg model.GICRRegister, v uint64) error {
	if b.closed.Load() {
		return errClosed
	}
	if reg == model.GICR_CTLR && v&model.GICR_CTLR_EnableLPIs == 0 {
		return b.stopTranslations(0, func() error { return b.rd.WriteRegister(cpu, reg, v) })
	}
	return b.rd.WriteRegister(cpu, reg, v)
}

// stopTranslations runs fn with the MSIs of every ITS from i on held off
// (its.ITS.StopTranslations, nested).
func (b *Backend) stopTranslations(i int, fn func() error) error {
	if i == len(b.itses) {
		return fn()
	}
	return b.itses[i].StopTranslations(func() error { return b.stopTranslations(i+1, fn) })
}

// SignalMSI sends an MSI (KVM_SIGNAL_MSI). The doorbell must be an ITS's
// GITS_TRANSLATER, which picks the ITS, and the DeviceID valid: an ITS
// needs one.
func (b *Backend) SignalMSI(m model.MSI) (model.Delivery, error) {
	if b.closed.Load() {
		return model.Blocked, errClosed
	}
	t := b.its
	if m.Doorbell != b.doorbell[0] {
		t = nil
		for i, d := range b.doorbell {
			if d == m.Doorbell {
				t = b.itses[i]
			}
		}
		if t == nil {
			return model.Blocked, b.errDoorbell(m)
		}
	}
	if !m.DeviceIDValid {
		return model.Blocked, fmt.Errorf("sim: MSI ev=%d carries no DeviceID: the ITS needs one (set DeviceIDValid, KVM_MSI_VALID_DEVID): %w", m.Data, model.ErrInvalidArgument)
	}
	return t.SignalMSI(m.DeviceID, m.EventID())
}

func (b *Backend) errDoorbell(m model.MSI) error {
	if len(b.doorbell) == 1 {
		return fmt.Errorf("sim: MSI doorbell %v is not GITS_TRANSLATER (%v): %w", m.Doorbell, b.doorbell[0], model.ErrInvalidArgument)
	}
	return fmt.Errorf("sim: MSI doorbell %v is not the GITS_TRANSLATER of any of the %d ITSes (%v): %w", m.Doorbell, len(b.doorbell), b.doorbell, model.ErrInvalidArgument)
}

// SetGSIRouting replaces the whole GSI routing table.
func (b *Backend) SetGSIRouting(routes []model.Route) error {
	if b.closed.Load() {
		return errClosed
	}
	if len(routes) > model.MaxGSIRoutes {
		return fmt.Errorf("sim: %d GSI routes, at most %d: %w", len(routes), model.MaxGSIRoutes, model.ErrInvalidArgument)
	}
	table := make(map[model.GSI]model.MSI, len(routes))
	for _, r := range routes {
		if r.GSI >= model.MaxGSIRoutes {
			return fmt.Errorf("sim: GSI %d out of range 0..%d: %w", r.GSI, model.MaxGSIRoutes-1, model.ErrInvalidArgument)
		}
		if _, dup := table[r.GSI]; dup {
			return fmt.Errorf("sim: GSI %d has two MSI routes: %w", r.GSI, model.ErrInvalidArgument)
		}
		table[r.GSI] = r.MSI
	}
	b.routeMu.Lock()
	b.routes = table
	b.routeMu.Unlock()
	return nil
}

// TriggerGSI raises gsi once, sending its route's MSI. An MSI that does not
// translate is dropped silently, as KVM drops it; an MSI the ITS refuses
// (ErrBusy) or a route whose MSI is malformed returns the error.
func (b *Backend) TriggerGSI(gsi model.GSI) error {
	if b.closed.Load() {
		return errClosed
	}
	b.routeMu.RLock()
	m, ok := b.routes[gsi]
	b.routeMu.RUnlock()
	if !ok {
		return fmt.Errorf("sim: GSI %d has no route: %w", gsi, model.ErrInvalidArgument)
	}
	_, err := b.SignalMSI(m)
	return err
}

// BindIRQFD returns a trigger that raises gsi on each Signal, synchronously.
func (b *Backend) BindIRQFD(gsi model.GSI) (model.Trigger, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	if gsi >= model.MaxGSIRoutes {
		return nil, fmt.Errorf("sim: GSI %d out of range 0..%d: %w", gsi, model.MaxGSIRoutes-1, model.ErrInvalidArgument)
	}
	b.routeMu.Lock()
	defer b.routeMu.Unlock()
	if _, busy := b.irqfds[gsi]; busy {
		return nil, fmt.Errorf("sim: GSI %d already has a bound trigger: %w", gsi, model.ErrBusy)
	}
	t := &trigger{b: b, gsi: gsi}
	b.irqfds[gsi] = t
	return t, nil
}

type trigger struct {
	b      *Backend
	gsi    model.GSI
	closed atomic.Bool
}

// Signal raises the trigger's GSI (see [Backend.TriggerGSI]).
func (t *trigger) Signal() error {
	if t.closed.Load() {
		return fmt.Errorf("sim: trigger of GSI %d: %w", t.gsi, model.ErrClosed)
	}
	return t.b.TriggerGSI(t.gsi)
}

// Close unbinds the trigger. Closing again returns nil.
func (t *trigger) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.b.routeMu.Lock()
	if t.b.irqfds[t.gsi] == t {
		delete(t.b.irqfds, t.gsi)
	}
	t.b.routeMu.Unlock()
	return nil
}

// Pending returns the LPIs pending on cpu, ascending.
func (b *Backend) Pending(cpu model.CPU) ([]model.INTID, error) {
	if b.closed.Load() {
		return nil, errClosed
	}
	return b.rd.Pending(cpu)
}

// Acknowledge reads ICC_IAR1_EL1 on cpu.
func (b *Backend) Acknowledge(cpu model.CPU) (model.INTID, error) {
	if b.closed.Load() {
		return 0, errClosed
	}
	return b.rd.Acknowledge(cpu)
}

// EOI writes ICC_EOIR1_EL1 on cpu.
func (b *Backend) EOI(cpu model.CPU, intid model.INTID) error {
	if b.closed.Load() {
		return errClosed
	}
	return b.rd.EOI(cpu, intid)
}

// SetPriorityMask writes ICC_PMR_EL1 on cpu.
func (b *Backend) SetPriorityMask(cpu model.CPU, pmr uint8) error {
	if b.closed.Load() {
		return errClosed
	}
	return b.rd.SetPriorityMask(cpu, pmr)
}

// SaveTables writes ITS 0's tables and every pending table into guest
// memory (each further ITS: its view, or SaveTablesOf).
func (b *Backend) SaveTables() error { return b.SaveTablesOf(0) }

// RestoreTables rebuilds ITS 0 from the tables in guest memory.
func (b *Backend) RestoreTables() error { return b.RestoreTablesOf(0) }

// Close releases the simulator; every later call fails with
// model.ErrClosed. Closing again returns nil.
func (b *Backend) Close() error {
	b.closed.Store(true)
	return nil
}
