// Package benchtest provides a small in-memory [model.Backend] for testing
// package bench, its reports and plots, and cmd/itsbench without a real
// backend.
//
// The fake translates MSIs through maps under one mutex, keeps pending LPIs
// per CPU and acknowledges the highest-priority one. It models the parts of
// the routing API that workloads use and nothing else: it is not the
// simulator (backend/sim), and figures measured on it mean nothing. It can
// drop deliveries on purpose ([Fake.LoseEvery]) so tests can check that
// losses are reported.
//
// It has no registers and no command queue, so it implements the optional
// interfaces of model's driver functions itself ([model.LPIEnabler],
// [model.LPIConfigSetter], [model.CommandSubmitter]): [model.EnableLPIs],
// [model.SetLPIConfig] and [model.SubmitCommands] call its methods, which
// act on its maps directly.
//
// For tests of the statistics, whose latencies must not come from a clock,
// [NoisyMachine] makes synthetic runs from seeded noise instead.
package benchtest

import (
	"fmt"
	"sync"

	"github.com/gicits/gicits/model"
)

// Name is the name [Register] registers the fake under.
const Name = "benchtest-fake"

var once sync.Once

// Register registers the fake with [model.Register] under [Name]; calling it
// again does nothing.
func Register() {
	once.Do(func() {
		model.Register(Name, func(cfg model.Config) (model.Backend, error) { return New(cfg), nil })
	})
}

type ite struct {
	lpi  model.INTID
	icid model.ICID
}

var (
	_ model.Backend          = (*Fake)(nil)
	_ model.LPIEnabler       = (*Fake)(nil)
	_ model.LPIConfigSetter  = (*Fake)(nil)
	_ model.CommandSubmitter = (*Fake)(nil)
)

// Fake is the in-memory backend.
type Fake struct {
	// LoseEvery, when positive, makes every LoseEvery-th delivered MSI
	// report Delivered without making its LPI pending.
	LoseEvery int

	cfg    model.Config
	layout model.Layout
	mem    *model.RAM

	mu        sync.Mutex
	closed    bool
	lpisOn    []bool
	colls     map[model.ICID]model.CPU
	devices   map[model.DeviceID]map[model.EventID]ite
	config    map[model.INTID]model.LPIConfig
	pending   []map[model.INTID]bool
	active    [][]model.INTID
	pmr       []uint8
	routes    map[model.GSI]model.MSI
	bound     map[model.GSI]bool
	delivered int
}

// New returns a fake backend for cfg (zero fields take their defaults).
func New(cfg model.Config) *Fake {
	cfg = cfg.WithDefaults()
	mem, _ := model.NewRAM(cfg.Layout.RAMBase, 0)
	f := &Fake{cfg: cfg, layout: cfg.Layout, mem: mem,
		lpisOn: make([]bool, cfg.CPUs), colls: map[model.ICID]model.CPU{},
		devices: map[model.DeviceID]map[model.EventID]ite{}, config: map[model.INTID]model.LPIConfig{},
		pending: make([]map[model.INTID]bool, cfg.CPUs), active: make([][]model.INTID, cfg.CPUs),
		pmr: make([]uint8, cfg.CPUs), routes: map[model.GSI]model.MSI{}, bound: map[model.GSI]bool{}}
	for i := range f.pending {
		f.pending[i] = map[model.INTID]bool{}
		f.pmr[i] = 0xFF
	}
	return f
}

func (f *Fake) Name() string { return Name }

func (f *Fake) Capabilities() model.Capabilities {
	return model.Capabilities{Where: "a fake backend in this process (bench tests)", CPUs: f.cfg.CPUs, NeedsDeviceID: true, DeviceIDBits: 16, EventIDBits: 16,
		ICIDBits: 16, ITTEntrySize: 8, LPIIDBits: f.layout.LPIIDBits, ReportsCommandErrors: true,
		ErrorPolicies: []model.ErrorPolicy{model.ContinueOnError}}
}

func (f *Fake) Layout() model.Layout { return f.layout }
func (f *Fake) Memory() model.Memory { return f.mem }

func (f *Fake) cpu(c model.CPU) error {
	if int(c) >= f.cfg.CPUs {
		return fmt.Errorf("CPU %d: %w", c, model.ErrInvalidArgument)
	}
	if f.closed {
		return model.ErrClosed
	}
	return nil
}

func (f *Fake) EnableLPIs(c model.CPU) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cpu(c); err != nil {
		return err
	}
	f.lpisOn[c] = true
	return nil
}

func (f *Fake) SetLPIConfig(id model.INTID, cfg model.LPIConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.config[id] = cfg
	return nil
}

func (f *Fake) SubmitCommands(cmds ...model.Command) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cmds {
		switch c := c.(type) {
		case model.MAPC:
			if c.Valid {
				f.colls[c.ICID] = model.CPU(c.RDbase)
			} else {
				delete(f.colls, c.ICID)
			}
		case model.MAPD:
			if c.Valid {
				f.devices[c.DeviceID] = map[model.EventID]ite{}
			} else {
				for _, e := range f.devices[c.DeviceID] {
					f.drop(e)
				}
				delete(f.devices, c.DeviceID)
			}
		case model.MAPTI:
			if d := f.devices[c.DeviceID]; d != nil {
				d[c.EventID] = ite{lpi: c.INTID, icid: c.ICID}
			}
		case model.MOVI:
			if d := f.devices[c.DeviceID]; d != nil {
				if e, ok := d[c.EventID]; ok {
					from, to := f.colls[e.icid], f.colls[c.ICID]
					if f.pending[from][e.lpi] {
						delete(f.pending[from], e.lpi)
						f.pending[to][e.lpi] = true
					}
					e.icid = c.ICID
					d[c.EventID] = e
				}
			}
		case model.DISCARD:
			if d := f.devices[c.DeviceID]; d != nil {
				if e, ok := d[c.EventID]; ok {
					f.drop(e)
					delete(d, c.EventID)
				}
			}
		}
	}
	return nil
}

func (f *Fake) drop(e ite) {
	if cpu, ok := f.colls[e.icid]; ok {
		delete(f.pending[cpu], e.lpi)
	}
}

func (f *Fake) ReadITSRegister(model.ITSRegister) (uint64, error) { return 0, model.ErrNotSupported }
func (f *Fake) WriteITSRegister(model.ITSRegister, uint64) error  { return model.ErrNotSupported }
func (f *Fake) ReadRedistributorRegister(model.CPU, model.GICRRegister) (uint64, error) {
	return 0, model.ErrNotSupported
}
func (f *Fake) WriteRedistributorRegister(model.CPU, model.GICRRegister, uint64) error {
	return model.ErrNotSupported
}

func (f *Fake) SignalMSI(m model.MSI) (model.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return model.Blocked, model.ErrClosed
	}
	if m.Doorbell != f.layout.Doorbell() || !m.DeviceIDValid {
		return model.Blocked, fmt.Errorf("%v: %w", m, model.ErrInvalidArgument)
	}
	e, ok := f.devices[m.DeviceID][m.EventID()]
	if !ok {
		return model.Blocked, nil
	}
	cpu, ok := f.colls[e.icid]
	if !ok {
		return model.Blocked, nil
	}
	if !f.lpisOn[cpu] {
		return model.Blocked, fmt.Errorf("CPU %d LPIs disabled: %w", cpu, model.ErrBusy)
	}
	f.delivered++
	if f.LoseEvery > 0 && f.delivered%f.LoseEvery == 0 {
		return model.Delivered, nil
	}
	f.pending[cpu][e.lpi] = true
	return model.Delivered, nil
}

func (f *Fake) SetGSIRouting(routes []model.Route) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes = map[model.GSI]model.MSI{}
	for _, r := range routes {
		f.routes[r.GSI] = r.MSI
	}
	return nil
}

func (f *Fake) TriggerGSI(gsi model.GSI) error {
	f.mu.Lock()
	m, ok := f.routes[gsi]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("GSI %d has no route: %w", gsi, model.ErrInvalidArgument)
	}
	_, err := f.SignalMSI(m)
	return err
}

type trigger struct {
	f   *Fake
	gsi model.GSI
}

func (t trigger) Signal() error { return t.f.TriggerGSI(t.gsi) }
func (t trigger) Close() error {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	delete(t.f.bound, t.gsi)
	return nil
}

func (f *Fake) BindIRQFD(gsi model.GSI) (model.Trigger, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bound[gsi] {
		return nil, fmt.Errorf("GSI %d already bound: %w", gsi, model.ErrBusy)
	}
	f.bound[gsi] = true
	return trigger{f, gsi}, nil
}

func (f *Fake) Pending(c model.CPU) ([]model.INTID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cpu(c); err != nil {
		return nil, err
	}
	var out []model.INTID
	for id := range f.pending[c] {
		out = append(out, id)
	}
	return out, nil
}

func (f *Fake) Acknowledge(c model.CPU) (model.INTID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cpu(c); err != nil {
		return 0, err
	}
	best, bestPrio := model.SpuriousINTID, 0x100
	running := 0x100
	if a := f.active[c]; len(a) > 0 {
		running = int(f.config[a[len(a)-1]].Priority())
	}
	for id := range f.pending[c] {
		cfg := f.config[id]
		p := int(cfg.Priority())
		if !cfg.Enabled() || p >= int(f.pmr[c]) || p >= running {
			continue
		}
		if p < bestPrio || (p == bestPrio && id < best) {
			best, bestPrio = id, p
		}
	}
	if best != model.SpuriousINTID {
		delete(f.pending[c], best)
		f.active[c] = append(f.active[c], best)
	}
	return best, nil
}

func (f *Fake) EOI(c model.CPU, id model.INTID) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cpu(c); err != nil {
		return err
	}
	a := f.active[c]
	if len(a) == 0 || a[len(a)-1] != id {
		return fmt.Errorf("EOI %d on CPU %d: not the last acknowledged: %w", id, c, model.ErrInvalidArgument)
	}
	f.active[c] = a[:len(a)-1]
	return nil
}

func (f *Fake) SetPriorityMask(c model.CPU, pmr uint8) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.cpu(c); err != nil {
		return err
	}
	f.pmr[c] = pmr
	return nil
}

func (f *Fake) SaveTables() error    { return model.ErrNotSupported }
func (f *Fake) RestoreTables() error { return model.ErrNotSupported }

func (f *Fake) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}
