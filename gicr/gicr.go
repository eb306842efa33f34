package gicr

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gicits/gicits/model"
)

// MaxIDBits is the largest number of INTID bits [New] accepts. The pending
// bitmaps cover the whole INTID space of every CPU, 2^maxIDBits bits each.
const MaxIDBits = 24

// MaxCPUs is the largest number of redistributors [New] accepts: the LPI
// state word keeps the target processor number in 16 bits.
const MaxCPUs = 1 << 16

// lpiPageShift sets how many LPIs share one lazily allocated page of state.
const lpiPageShift = 12

// State word of one LPI (lpiPage.state):
//
//	 31     30       29:24  23        8 7        0
//	+------+--------+------+-----------+----------+
//	|exists|targeted| RES0 |  target   |  config  |
//	+------+--------+------+-----------+----------+
const (
	stateExists   = uint32(1) << 31
	stateTargeted = uint32(1) << 30
	stateCPUShift = 8
	stateCPUMask  = uint32(0xFFFF) << stateCPUShift
	stateCfgMask  = uint32(0xFF)
)

type lpiPage struct {
	state [1 << lpiPageShift]atomic.Uint32
	refs  [1 << lpiPageShift]uint32 // under Redistributors.mu
}

// cpuState is one redistributor and its CPU interface.
type cpuState struct {
	id        model.CPU
	enabled   atomic.Bool // GICR_CTLR.EnableLPIs
	pendbaser uint64      // as written, PTZ included; under Redistributors.mu
	pending   pendingBitmap
	errBusy   error // preallocated: SetPending must not allocate

	ifMu   sync.Mutex // CPU interface: pmr, active
	pmr    uint8
	active []activeLPI
}

type activeLPI struct {
	intid    model.INTID
	priority uint8
}

// Redistributors is the set of redistributors of one GIC and their CPU
// interfaces. It implements its.Redistributors.
//
// Methods are safe for concurrent use.
type Redistributors struct {
	mem       model.Memory
	maxIDBits int

	mu        sync.Mutex // LPI creation, freeing and moves; PROPBASER; PENDBASER; GICR_CTLR
	propbaser atomic.Uint64
	dir       []atomic.Pointer[lpiPage] // by (INTID - LPIBase) >> lpiPageShift
	live      int                       // LPIs that exist

	cpus []*cpuState
}

// New returns cpus redistributors over guest memory mem, supporting LPI
// INTIDs below 2^maxIDBits (16..[MaxIDBits]; KVM supports 16).
func New(mem model.Memory, cpus, maxIDBits int) (*Redistributors, error) {
	if mem == nil {
		return nil, fmt.Errorf("gicr: no guest memory: %w", model.ErrInvalidArgument)
	}
	if cpus < 1 || cpus > MaxCPUs {
		return nil, fmt.Errorf("gicr: %d CPUs out of range 1..%d: %w", cpus, MaxCPUs, model.ErrInvalidArgument)
	}
	if maxIDBits < 14 || maxIDBits > MaxIDBits {
		return nil, fmt.Errorf("gicr: %d INTID bits out of range 14..%d: %w", maxIDBits, MaxIDBits, model.ErrInvalidArgument)
	}
	r := &Redistributors{mem: mem, maxIDBits: maxIDBits}
	r.dir = make([]atomic.Pointer[lpiPage], ((1<<maxIDBits)-int(model.LPIBase)+(1<<lpiPageShift)-1)>>lpiPageShift)
	r.cpus = make([]*cpuState, cpus)
	for i := range r.cpus {
		r.cpus[i] = &cpuState{
			id:      model.CPU(i),
			pending: newPendingBitmap(1 << maxIDBits),
			errBusy: fmt.Errorf("redistributor %d: LPIs disabled (GICR_CTLR.EnableLPIs = 0): %w", i, model.ErrBusy),
			pmr:     0xFF,
		}
	}
	return r, nil
}

// CPUs returns the number of redistributors.
func (r *Redistributors) CPUs() int { return len(r.cpus) }

// MaxIDBits returns the number of INTID bits the redistributors support.
func (r *Redistributors) MaxIDBits() int { return r.maxIDBits }

func (r *Redistributors) cpu(cpu model.CPU) (*cpuState, error) {
	if uint64(cpu) >= uint64(len(r.cpus)) {
		return nil, fmt.Errorf("gicr: CPU %d out of range 0..%d: %w", cpu, len(r.cpus)-1, model.ErrInvalidArgument)
	}
	return r.cpus[cpu], nil
}

// idBits returns the number of INTID bits in use: min(PROPBASER.IDbits+1,
// maxIDBits).
func (r *Redistributors) idBits() int {
	n := model.PropBaser(r.propbaser.Load()).IDBits()
	return min(n, r.maxIDBits)
}

// LPILimit returns one more than the largest LPI INTID the ITS may map:
// 2^min(GICR_PROPBASER.IDbits+1, maxIDBits). With GICR_PROPBASER unset it is
// 2, so no LPI can be mapped (KVM's max_lpis_propbaser).
func (r *Redistributors) LPILimit() model.INTID { return model.INTID(1) << r.idBits() }

// PropBaserSet reports whether GICR_PROPBASER has been programmed (is not 0).
func (r *Redistributors) PropBaserSet() bool { return r.propbaser.Load() != 0 }

// LPIsEnabled reports GICR_CTLR.EnableLPIs of cpu (false for a CPU out of
// range).
func (r *Redistributors) LPIsEnabled(cpu model.CPU) bool {
	c, err := r.cpu(cpu)
	return err == nil && c.enabled.Load()
}

// page returns the state page of intid, or nil. alloc creates it (under mu).
func (r *Redistributors) page(intid model.INTID, alloc bool) (*lpiPage, uint32) {
	if intid < model.LPIBase || uint64(intid) >= uint64(1)<<r.maxIDBits {
		return nil, 0
	}
	i := uint32(intid - model.LPIBase)
	p := r.dir[i>>lpiPageShift].Load()
	if p == nil && alloc {
		p = new(lpiPage)
		r.dir[i>>lpiPageShift].Store(p)
	}
	return p, i & (1<<lpiPageShift - 1)
}

// state returns the state word of intid (0: no such LPI).
func (r *Redistributors) state(intid model.INTID) uint32 {
	p, i := r.page(intid, false)
	if p == nil {
		return 0
	}
	return p.state[i].Load()
}

// LPI describes one existing LPI.
type LPI struct {
	INTID model.INTID
	// Config is the cached configuration byte.
	Config model.LPIConfig
	// Target is the CPU the LPI is delivered to, when Targeted.
	Target   model.CPU
	Targeted bool
	// Refs is the number of translation entries that map the LPI.
	Refs int
	// Pending reports whether the LPI is pending on its target.
	Pending bool
}

// LookupLPI returns the LPI intid, or false when it does not exist.
func (r *Redistributors) LookupLPI(intid model.INTID) (LPI, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, i := r.page(intid, false)
	if p == nil || p.state[i].Load()&stateExists == 0 {
		return LPI{}, false
	}
	s := p.state[i].Load()
	l := LPI{INTID: intid, Config: model.LPIConfig(s & stateCfgMask), Refs: int(p.refs[i])}
	if s&stateTargeted != 0 {
		l.Targeted = true
		l.Target = model.CPU((s & stateCPUMask) >> stateCPUShift)
		l.Pending = r.cpus[l.Target].pending.test(uint32(intid))
	}
	return l, true
}

// readConfig reads intid's byte of the LPI configuration table.
func (r *Redistributors) readConfig(intid model.INTID) (model.LPIConfig, error) {
	var b [1]byte
	addr := model.PropBaser(r.propbaser.Load()).Addr() + model.GPA(intid-model.LPIBase)
	if err := r.mem.ReadAt(b[:], addr); err != nil {
		return 0, fmt.Errorf("LPI %d: reading its configuration byte: %w", intid, err)
	}
	return model.LPIConfig(b[0]), nil
}

// CheckLPI reports why intid could not be mapped: out of the LPI range, or
// its configuration byte outside guest memory. It changes nothing.
func (r *Redistributors) CheckLPI(intid model.INTID) error {
	if intid < model.LPIBase || intid >= r.LPILimit() {
		return fmt.Errorf("INTID %d is not an LPI below %d (GICR_PROPBASER.IDbits): %w", intid, r.LPILimit(), model.ErrInvalidArgument)
	}
	_, err := r.readConfig(intid)
	return err
}

func pendingTableBit(pendbaser uint64, intid model.INTID) (model.GPA, byte) {
	return model.PendBaser(pendbaser).Addr() + model.GPA(intid/8), byte(1) << (intid % 8)
}

// consumePendingBit reads and clears intid's bit in cpu's pending table.
// A table outside guest memory reads as 0.
func (r *Redistributors) consumePendingBit(c *cpuState, intid model.INTID) bool {
	addr, mask := pendingTableBit(c.pendbaser, intid)
	var b [1]byte
	if r.mem.ReadAt(b[:], addr) != nil || b[0]&mask == 0 {
		return false
	}
	b[0] &^= mask
	_ = r.mem.WriteAt(b[:], addr)
	return true
}

// MapLPI adds a reference to LPI intid, creating it if it does not exist:
// its configuration byte is read and cached, its target set to target (none
// when targeted is false) and, with a target, its pending-table bit
// consumed. An existing LPI keeps its configuration and target. It fails,
// changing nothing, when [Redistributors.CheckLPI] fails.
func (r *Redistributors) MapLPI(intid model.INTID, target model.CPU, targeted bool) error {
	if err := r.CheckLPI(intid); err != nil {
		return err
	}
	if targeted && uint64(target) >= uint64(len(r.cpus)) {
		return fmt.Errorf("LPI %d: target CPU %d out of range: %w", intid, target, model.ErrInvalidArgument)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p, i := r.page(intid, true)
	if p.state[i].Load()&stateExists != 0 {
		p.refs[i]++
		return nil
	}
	cfg, err := r.readConfig(intid)
	if err != nil {
		return err
	}
	s := stateExists | uint32(cfg)
	if targeted {
		s |= stateTargeted | uint32(target)<<stateCPUShift
	}
	p.refs[i] = 1
	p.state[i].Store(s)
	r.live++
	if targeted {
		c := r.cpus[target]
		if r.consumePendingBit(c, intid) {
			c.pending.set(uint32(intid))
		}
	}
	return nil
}

// UnmapLPI drops a reference to LPI intid; the last one frees it, pending
// state included. It reports whether the LPI was freed.
func (r *Redistributors) UnmapLPI(intid model.INTID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, i := r.page(intid, false)
	if p == nil || p.state[i].Load()&stateExists == 0 {
		return false
	}
	if p.refs[i] > 1 {
		p.refs[i]--
		return false
	}
	s := p.state[i].Swap(0)
	p.refs[i] = 0
	r.live--
	if s&stateTargeted != 0 {
		r.cpus[(s&stateCPUMask)>>stateCPUShift].pending.clear(uint32(intid))
	}
	return true
}

// LPIShared reports whether more than one translation maps intid.
func (r *Redistributors) LPIShared(intid model.INTID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, i := r.page(intid, false)
	return p != nil && p.refs[i] > 1
}

// LPITarget returns the target CPU of LPI intid; ok is false when the LPI
// does not exist or has no target.
func (r *Redistributors) LPITarget(intid model.INTID) (cpu model.CPU, ok bool) {
	s := r.state(intid)
	if s&stateExists == 0 || s&stateTargeted == 0 {
		return 0, false
	}
	return model.CPU((s & stateCPUMask) >> stateCPUShift), true
}

// move retargets the LPI in page p slot i to cpu, moving its pending state.
// Called with mu held.
func (r *Redistributors) move(p *lpiPage, i uint32, intid model.INTID, to model.CPU) {
	s := p.state[i].Load()
	if s&stateExists == 0 {
		return
	}
	wasPending := false
	if s&stateTargeted != 0 {
		from := model.CPU((s & stateCPUMask) >> stateCPUShift)
		if from == to {
			return
		}
		wasPending = r.cpus[from].pending.clear(uint32(intid))
	}
	p.state[i].Store(s&^stateCPUMask | stateTargeted | uint32(to)<<stateCPUShift)
	if wasPending {
		r.cpus[to].pending.set(uint32(intid))
	}
}

// MoveLPI retargets LPI intid to cpu; its pending state moves with it
// (MOVI, MAPC of an existing collection).
func (r *Redistributors) MoveLPI(intid model.INTID, cpu model.CPU) error {
	if _, err := r.cpu(cpu); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, i := r.page(intid, false); p != nil {
		r.move(p, i, intid, cpu)
	}
	return nil
}

// eachLPI calls fn for every existing LPI. Called with mu held.
func (r *Redistributors) eachLPI(fn func(p *lpiPage, i uint32, intid model.INTID, s uint32)) {
	for d := range r.dir {
		p := r.dir[d].Load()
		if p == nil {
			continue
		}
		for i := range p.state {
			if s := p.state[i].Load(); s&stateExists != 0 {
				fn(p, uint32(i), model.LPIBase+model.INTID(d<<lpiPageShift+i), s)
			}
		}
	}
}

func targetOf(s uint32) (model.CPU, bool) {
	return model.CPU((s & stateCPUMask) >> stateCPUShift), s&stateTargeted != 0
}

// MoveAll retargets every LPI whose target is from to to, pending state
// included (MOVALL, IHI 0069, 6.3.15: only the LPIs of RDbase1 move).
func (r *Redistributors) MoveAll(from, to model.CPU) error {
	if _, err := r.cpu(from); err != nil {
		return err
	}
	if _, err := r.cpu(to); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if from == to {
		return nil
	}
	r.eachLPI(func(p *lpiPage, i uint32, intid model.INTID, s uint32) {
		if cpu, ok := targetOf(s); ok && cpu == from {
			r.move(p, i, intid, to)
		}
	})
	return nil
}

// SetPending makes LPI intid pending on cpu: the MSI and INT path. It fails
// with an error wrapping [model.ErrBusy] when cpu's LPIs are disabled. It
// takes no lock and does not allocate.
func (r *Redistributors) SetPending(cpu model.CPU, intid model.INTID) error {
	if uint64(cpu) >= uint64(len(r.cpus)) || uint64(intid) >= uint64(1)<<r.maxIDBits {
		return errOutOfRange
	}
	c := r.cpus[cpu]
	if !c.enabled.Load() {
		return c.errBusy
	}
	c.pending.set(uint32(intid))
	return nil
}

var errOutOfRange = fmt.Errorf("gicr: CPU or INTID out of range: %w", model.ErrInvalidArgument)

// ClearPending removes the pending state of LPI intid (CLEAR) and reports
// whether it was pending.
func (r *Redistributors) ClearPending(intid model.INTID) bool {
	if cpu, ok := r.LPITarget(intid); ok {
		return r.cpus[cpu].pending.clear(uint32(intid))
	}
	return false
}

// InvalidateLPI re-reads LPI intid's configuration byte (INV,
// GICR_INVLPIR). A byte outside guest memory leaves the cached one.
func (r *Redistributors) InvalidateLPI(intid model.INTID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reload(intid)
}

func (r *Redistributors) reload(intid model.INTID) {
	p, i := r.page(intid, false)
	if p == nil {
		return
	}
	s := p.state[i].Load()
	if s&stateExists == 0 {
		return
	}
	if cfg, err := r.readConfig(intid); err == nil {
		p.state[i].Store(s&^stateCfgMask | uint32(cfg))
	}
}

// InvalidateAll re-reads the configuration of every LPI targeting cpu
// (INVALL, GICR_INVALLR).
func (r *Redistributors) InvalidateAll(cpu model.CPU) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eachLPI(func(_ *lpiPage, _ uint32, intid model.INTID, s uint32) {
		if c, ok := targetOf(s); ok && c == cpu {
			r.reload(intid)
		}
	})
}

// LiveLPIs returns the number of LPIs that exist.
func (r *Redistributors) LiveLPIs() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.live
}

// ClearAllPending removes every CPU's pending state, leaving the LPIs
// themselves. It is for benchmarks and tests that reuse one set of LPIs;
// it must not run concurrently with MSIs.
func (r *Redistributors) ClearAllPending() {
	for _, c := range r.cpus {
		c.pending.clearAll()
	}
}
