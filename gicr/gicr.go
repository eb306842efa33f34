package gicr

import (
	"errors"
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
//	 63         33   32      31     30       29:24  23        8 7        0
//	+-------------+-------+------+--------+------+-----------+----------+
//	| generation  |pending|exists|targeted| RES0 |  target   |  config  |
//	+-------------+-------+------+--------+------+-----------+----------+
//
// The word is the truth about an LPI: whether it exists, where it is
// delivered, its cached configuration byte and whether it is pending. The
// generation counts revocations of the translations naming the LPI (see
// [Redistributors.RevokeTranslations]); a translation cache keeps the
// generation it saw, and [Redistributors.PendTranslated] makes the LPI
// pending only with a compare-and-swap that also checks it, so a stale
// translation can never make an LPI pending once it has been revoked. The
// generation has 31 bits and wraps: a translation could pass again only if
// an MSI holding it stayed in flight through 2^31 revocations of its LPI
// (every revocation also removes the cache entry, so no new MSI finds it).
const (
	stateExists   = uint64(1) << 31
	stateTargeted = uint64(1) << 30
	stateCPUShift = 8
	stateCPUMask  = uint64(0xFFFF) << stateCPUShift
	stateCfgMask  = uint64(0xFF)
	statePending  = uint64(1) << 32
	stateGenShift = 33
	stateGenOne   = uint64(1) << stateGenShift
	stateGenMask  = ^(stateGenOne - 1)
)

// genOf returns the translation generation in state word s (31 bits,
// wrapping): it changes whenever the translations naming the LPI are
// revoked.
func genOf(s uint64) uint32 { return uint32(s >> stateGenShift) }

// groupShift sets how many LPIs share one hint bit: 64, one lpiPage word
// run of 512 bytes.
const groupShift = 6

type lpiPage struct {
	state [1 << lpiPageShift]atomic.Uint64
	refs  [1 << lpiPageShift]uint32 // under Redistributors.mu
}

// cpuState is one redistributor and its CPU interface.
type cpuState struct {
	id        model.CPU
	enabled   atomic.Bool // GICR_CTLR.EnableLPIs
	pendbaser uint64      // as written, PTZ included; under Redistributors.mu
	// hints has one bit per group of 64 INTIDs that may hold an LPI
	// pending on this CPU. Whoever makes an LPI pending sets its group's
	// bit after the LPI's state word; a scan clears a bit only when it
	// found nothing, then looks again (see scanGroup).
	hints   hintBitmap
	errBusy error // preallocated: the MSI path must not allocate

	ifMu   sync.Mutex // CPU interface: pmr, active
	pmr    uint8
	active []activeLPI

	// GICv4.0 (EnableVirtual): the VLPI_base registers, as written and
	// sanitised, under Redistributors.mu; the vPE scheduled here.
	vpropbaser, vpendbaser uint64
	resident               atomic.Pointer[vpe]
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

	// GICv4.0 (EnableVirtual): vPE state by VPT address and by handle,
	// under mu; vpeList is replaced whole, so it is read without a lock.
	virtual bool
	vpes    map[model.GPA]*vpe
	vpeList atomic.Pointer[[]*vpe]
	// GICv4.1 (EnableGICv41, virtual41.go); nil on GICv4.0.
	v41 atomic.Pointer[gicv41]
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
			hints:   newHintBitmap(1 << (maxIDBits - groupShift)),
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
func (r *Redistributors) state(intid model.INTID) uint64 {
	p, i := r.page(intid, false)
	if p == nil {
		return 0
	}
	return p.state[i].Load()
}

// update applies fn to the state word of page p slot i with a
// compare-and-swap loop (MSIs set the pending bit concurrently) and
// returns the old and new words.
func update(p *lpiPage, i uint32, fn func(s uint64) uint64) (old, new uint64) {
	for {
		old = p.state[i].Load()
		new = fn(old)
		if old == new || p.state[i].CompareAndSwap(old, new) {
			return old, new
		}
	}
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
	// Pending reports whether the LPI is pending (on its target, when it
	// has one).
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
	l := LPI{INTID: intid, Config: model.LPIConfig(s & stateCfgMask), Refs: int(p.refs[i]), Pending: s&statePending != 0}
	l.Target, l.Targeted = targetOf(s)
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

// hint sets the hint bit of intid's group on c, after the LPI's state word
// says pending.
func (c *cpuState) hint(intid model.INTID) {
	c.hints.set(uint32(intid) >> groupShift)
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
	s := stateExists | uint64(cfg)
	if targeted {
		s |= stateTargeted | uint64(target)<<stateCPUShift
		if r.consumePendingBit(r.cpus[target], intid) {
			s |= statePending
		}
	}
	p.refs[i] = 1
	update(p, i, func(old uint64) uint64 { return old&stateGenMask | s })
	r.live++
	if s&statePending != 0 {
		r.cpus[target].hint(intid)
	}
	return nil
}

// UnmapLPI drops a reference to LPI intid; the last one frees it, pending
// state included, and revokes its translations. It reports whether the LPI
// was freed.
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
	update(p, i, func(old uint64) uint64 { return old&stateGenMask + stateGenOne })
	p.refs[i] = 0
	r.live--
	return true
}

// LPITarget returns the target CPU of LPI intid; ok is false when the LPI
// does not exist or has no target.
func (r *Redistributors) LPITarget(intid model.INTID) (cpu model.CPU, ok bool) {
	s := r.state(intid)
	if s&stateExists == 0 {
		return 0, false
	}
	return targetOf(s)
}

// move retargets the LPI in page p slot i to cpu; its pending state goes
// with it. Called with mu held.
func (r *Redistributors) move(p *lpiPage, i uint32, intid model.INTID, to model.CPU) {
	_, s := update(p, i, func(old uint64) uint64 {
		if old&stateExists == 0 {
			return old
		}
		return old&^stateCPUMask | stateTargeted | uint64(to)<<stateCPUShift
	})
	if s&stateExists != 0 && s&statePending != 0 {
		r.cpus[to].hint(intid)
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
func (r *Redistributors) eachLPI(fn func(p *lpiPage, i uint32, intid model.INTID, s uint64)) {
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

func targetOf(s uint64) (model.CPU, bool) {
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
	r.eachLPI(func(p *lpiPage, i uint32, intid model.INTID, s uint64) {
		if cpu, ok := targetOf(s); ok && cpu == from {
			r.move(p, i, intid, to)
		}
	})
	return nil
}

// SetPending makes LPI intid pending on its target: the MSI slow path and
// the INT command. It fails with an error wrapping [model.ErrBusy] when
// the target's LPIs are disabled, and with one wrapping
// [model.ErrInvalidArgument] when the LPI does not exist or has no target.
// It takes no lock and does not allocate.
func (r *Redistributors) SetPending(intid model.INTID) error {
	p, i := r.page(intid, false)
	if p == nil {
		return errNoLPI
	}
	for {
		s := p.state[i].Load()
		if s&stateExists == 0 || s&stateTargeted == 0 {
			return errNoLPI
		}
		if err := r.pend(p, i, intid, s); err != errRetry {
			return err
		}
	}
}

// errRetry says the state word changed under pend; it never leaves the
// package.
var errRetry = errors.New("gicr: retry")

// pend makes the existing, targeted LPI whose state word was s pending,
// unless the word changed meanwhile (errRetry).
func (r *Redistributors) pend(p *lpiPage, i uint32, intid model.INTID, s uint64) error {
	c := r.cpus[(s&stateCPUMask)>>stateCPUShift]
	if !c.enabled.Load() {
		return c.errBusy
	}
	if s&statePending != 0 {
		return nil // coalesced: nothing to write
	}
	if !p.state[i].CompareAndSwap(s, s|statePending) {
		return errRetry
	}
	c.hint(intid)
	return nil
}

// PendTranslated is the MSI fast path of a translation cache: it makes LPI
// intid pending on its target only if the LPI's generation is still gen,
// the one [Redistributors.Generation] returned when the translation was
// cached. ok is false when the generation moved on (the translation was
// revoked: the caller must translate again) or the LPI has no target; err
// wraps [model.ErrBusy] when the target's LPIs are disabled. The check and
// the pending bit are one compare-and-swap, so no MSI can make the LPI
// pending after [Redistributors.RevokeTranslations] has returned. It takes
// no lock and does not allocate.
func (r *Redistributors) PendTranslated(intid model.INTID, gen uint32) (ok bool, err error) {
	// page and pend, spelled out: this is the MSI fast path.
	i := uint32(intid - model.LPIBase) // INTIDs below 8192 wrap to large values
	if uint64(i) >= uint64(len(r.dir))<<lpiPageShift {
		return false, nil
	}
	p := r.dir[i>>lpiPageShift].Load()
	if p == nil {
		return false, nil
	}
	w := &p.state[i&(1<<lpiPageShift-1)]
	for {
		s := w.Load()
		if genOf(s) != gen || s&(stateExists|stateTargeted) != stateExists|stateTargeted {
			return false, nil
		}
		c := r.cpus[(s&stateCPUMask)>>stateCPUShift]
		if !c.enabled.Load() {
			return true, c.errBusy
		}
		if s&statePending != 0 {
			return true, nil // coalesced: nothing to write
		}
		if w.CompareAndSwap(s, s|statePending) {
			c.hint(intid)
			return true, nil
		}
	}
}

// Generation returns the translation generation of LPI intid, for a
// translation cache entry naming it.
func (r *Redistributors) Generation(intid model.INTID) uint32 {
	return genOf(r.state(intid))
}

// RevokeTranslations advances the generation of LPI intid: every
// translation cached with the old one stops working
// ([Redistributors.PendTranslated] refuses it).
func (r *Redistributors) RevokeTranslations(intid model.INTID) {
	if p, i := r.page(intid, false); p != nil {
		p.state[i].Add(stateGenOne)
	}
}

// RevokeAllTranslations advances the generation of every LPI.
func (r *Redistributors) RevokeAllTranslations() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for d := range r.dir {
		if p := r.dir[d].Load(); p != nil {
			for i := range p.state {
				p.state[i].Add(stateGenOne)
			}
		}
	}
}

var errNoLPI = fmt.Errorf("gicr: no such LPI, or it has no target: %w", model.ErrInvalidArgument)

// ClearPending removes the pending state of LPI intid (CLEAR) and reports
// whether it was pending.
func (r *Redistributors) ClearPending(intid model.INTID) bool {
	p, i := r.page(intid, false)
	if p == nil {
		return false
	}
	return p.state[i].And(^statePending)&statePending != 0
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
	if p == nil || p.state[i].Load()&stateExists == 0 {
		return
	}
	cfg, err := r.readConfig(intid)
	if err != nil {
		return
	}
	update(p, i, func(s uint64) uint64 { return s&^stateCfgMask | uint64(cfg) })
}

// InvalidateAll re-reads the configuration of every LPI targeting cpu
// (INVALL, GICR_INVALLR).
func (r *Redistributors) InvalidateAll(cpu model.CPU) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eachLPI(func(_ *lpiPage, _ uint32, intid model.INTID, s uint64) {
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
	r.mu.Lock()
	defer r.mu.Unlock()
	r.eachLPI(func(p *lpiPage, i uint32, _ model.INTID, s uint64) {
		if s&statePending != 0 {
			p.state[i].And(^statePending)
		}
	})
	for _, c := range r.cpus {
		c.hints.clearAll()
	}
}
