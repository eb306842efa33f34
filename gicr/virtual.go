package gicr

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gicits/gicits/model"
)

// State word of one vLPI of one vPE (vlpiPage.state):
//
//	 63          33   32     31          8 7        0
//	+--------------+-------+--------------+----------+
//	|  generation  |pending|     RES0     |  config  |
//	+--------------+-------+--------------+----------+
//
// config is the cached configuration byte (0 until the vPE is scheduled
// with it, or an INV or VINVALL reads it); the generation works as a
// physical LPI's does. A GICv4.0 per-event doorbell is the event's, not
// the vLPI's (two events may map one vINTID with different doorbells):
// whoever delivers the vLPI names it.
const (
	vCfgMask  = uint64(0xFF)
	vPending  = uint64(1) << 32
	vGenShift = 33
	vGenOne   = uint64(1) << vGenShift
)

// VGenBits is how many bits of a vLPI's translation generation a
// translation cache must keep: [Redistributors.PendVirtualTranslated]
// compares only these.
const VGenBits = 15

const vGenCompare = 1<<VGenBits - 1

type vlpiPage struct {
	state [1 << lpiPageShift]atomic.Uint64
}

// MaxVPEs is the number of distinct vPEs (virtual LPI pending tables) one
// set of redistributors keeps state for: a handle has 16 bits.
const MaxVPEs = 1 << 16

// vpe is the redistributors' state of one vPE, which a GICv4.0
// redistributor knows by the address of its virtual LPI pending table
// (VPT). It lives as long as the Redistributors: descheduled, its state is
// also in the VPT in guest memory.
type vpe struct {
	handle uint32
	vpt    model.GPA
	dir    []atomic.Pointer[vlpiPage] // by (vINTID - LPIBase) >> lpiPageShift
	hints  hintBitmap
	// target is the redistributor each ITS delivers the vPE's vLPIs to,
	// by ITS number (VMAPP, VMOVP): with several ITSes, one may have
	// moved the vPE before another (VMOVP with an ITSList).
	target [model.MaxITSes]atomic.Uint32

	// mu serialises the VPT's writers: deliveries while not scheduled,
	// clears, and the scheduling and descheduling themselves.
	mu sync.Mutex
	// described is set when the VPT's IMPLEMENTATION DEFINED area holds
	// this model's description of it (written at deschedule).
	described bool

	ifMu   sync.Mutex // the virtual CPU interface: pmr, active, vSGI configuration
	pmr    uint8
	active []activeLPI

	// GICv4.1 (virtual41.go): what the VMAPP that mapped the vPE said,
	// written under Redistributors.mu and mu, read under either.
	mapped41 bool
	vpeid    model.VPEID
	vconf    model.GPA // the vLPI configuration table (VCONF_addr)
	vbits    int       // vINTID bits: VPT_size + 1
	ptz      bool      // the VPT is known zero: the next scheduling reads nothing
	// defaultDB is VMAPP's Default_Doorbell (model.NoDoorbell: none);
	// dbArmed is set by a deschedule that asked for it, and cleared by
	// the doorbell it rings, or by scheduling.
	defaultDB atomic.Uint32
	dbArmed   atomic.Bool
	// sgiPending holds the pending vSGIs (bit n: vINTID n); sgiCfg their
	// configuration (VSGI), under ifMu.
	sgiPending atomic.Uint32
	sgiCfg     [16]vsgiConfig
}

// vptMagic marks the IMPLEMENTATION DEFINED area of a VPT (its first 8
// bytes) as described by this model: "gicitsV0", little-endian.
const vptMagic = 0x3056_7374_6963_6967

// EnableVirtual makes the redistributors GICv4.0 ones: GICR_TYPER reads
// VLPIS and Dirty, and the VLPI_base registers GICR_VPROPBASER and
// GICR_VPENDBASER work. Call it before use.
func (r *Redistributors) EnableVirtual() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.virtual = true
	if r.vpes == nil {
		r.vpes = map[model.GPA]*vpe{}
		r.vpeList.Store(&[]*vpe{})
	}
}

// Virtual reports whether [Redistributors.EnableVirtual] was called.
func (r *Redistributors) Virtual() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.virtual
}

// VPEHandle returns the handle of the vPE whose virtual LPI pending table
// is at vpt (64 KiB aligned), creating its state on first use.
func (r *Redistributors) VPEHandle(vpt model.GPA) (uint32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.vpeLocked(vpt)
	if err != nil {
		return 0, err
	}
	return v.handle, nil
}

func (r *Redistributors) vpeLocked(vpt model.GPA) (*vpe, error) {
	if !r.virtual {
		return nil, fmt.Errorf("gicr: no virtual LPIs (GICR_TYPER.VLPIS = 0): %w", model.ErrNotSupported)
	}
	if v := r.vpes[vpt]; v != nil {
		return v, nil
	}
	if !vpt.IsAligned(64<<10) || uint64(vpt) >= 1<<52 {
		return nil, fmt.Errorf("gicr: virtual LPI pending table %v must be 64 KiB aligned and below 2^52: %w", vpt, model.ErrInvalidArgument)
	}
	list := *r.vpeList.Load()
	if len(list) >= MaxVPEs {
		return nil, fmt.Errorf("gicr: %d vPEs already have state; at most %d are modelled: %w", len(list), MaxVPEs, model.ErrNotSupported)
	}
	v := &vpe{
		handle: uint32(len(list)),
		vpt:    vpt,
		dir:    make([]atomic.Pointer[vlpiPage], len(r.dir)),
		hints:  newHintBitmap(1 << (r.maxIDBits - groupShift)),
		pmr:    0xFF,
	}
	r.vpes[vpt] = v
	next := append(list[:len(list):len(list)], v) // a copy: readers keep the old slice
	r.vpeList.Store(&next)
	return v, nil
}

// vpeOf returns the vPE of handle h, or nil. It takes no lock.
func (r *Redistributors) vpeOf(h uint32) *vpe {
	l := r.vpeList.Load()
	if l == nil || uint64(h) >= uint64(len(*l)) {
		return nil
	}
	return (*l)[h]
}

// page returns the state page of vintid, or nil; alloc creates it (the
// caller holds r.mu).
func (v *vpe) page(vintid model.INTID, alloc bool) (*vlpiPage, uint32) {
	if vintid < model.LPIBase {
		return nil, 0
	}
	i := uint32(vintid - model.LPIBase)
	if uint64(i>>lpiPageShift) >= uint64(len(v.dir)) {
		return nil, 0
	}
	p := v.dir[i>>lpiPageShift].Load()
	if p == nil && alloc {
		p = new(vlpiPage)
		v.dir[i>>lpiPageShift].Store(p)
	}
	return p, i & (1<<lpiPageShift - 1)
}

// each calls fn for every vLPI state word of v. Called with r.mu held.
func (v *vpe) each(fn func(w *atomic.Uint64, vintid model.INTID)) {
	for d := range v.dir {
		p := v.dir[d].Load()
		if p == nil {
			continue
		}
		for i := range p.state {
			fn(&p.state[i], model.LPIBase+model.INTID(d<<lpiPageShift+i))
		}
	}
}

// residentOn returns the redistributor v is scheduled on, if any. Called
// with r.mu held.
func (r *Redistributors) residentOn(v *vpe) (*cpuState, bool) {
	for _, c := range r.cpus {
		if c.resident.Load() == v {
			return c, true
		}
	}
	return nil, false
}

// MapVLPI prepares vLPI vintid of vPE h for a translation (VMAPTI, VMAPI,
// VMOVI): its state is created if needed, and its configuration read from
// the vPE's configuration table when it has one now (scheduled, or
// GICv4.1's VCONF).
func (r *Redistributors) MapVLPI(h uint32, vintid model.INTID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vpeOf(h)
	if v == nil {
		return fmt.Errorf("gicr: no vPE with handle %d: %w", h, model.ErrInvalidArgument)
	}
	p, i := v.page(vintid, true)
	if p == nil {
		return fmt.Errorf("gicr: vINTID %d is not a vLPI below 2^%d: %w", vintid, r.maxIDBits, model.ErrInvalidArgument)
	}
	cfg, reload := uint64(0), false
	if c, ok := r.residentOn(v); ok || v.mapped41 {
		if b, err := r.readVConfig(c, v, vintid); err == nil {
			cfg, reload = uint64(b), true
		}
	}
	if reload {
		vupdate(&p.state[i], func(s uint64) uint64 { return s&^vCfgMask | cfg })
	}
	return nil
}

// vupdate applies fn to state word w with a compare-and-swap loop.
func vupdate(w *atomic.Uint64, fn func(s uint64) uint64) {
	for {
		old := w.Load()
		if w.CompareAndSwap(old, fn(old)) {
			return
		}
	}
}

// SetVPETarget records the redistributor ITS its delivers vPE h's vLPIs
// to (VMAPP, VMOVP): where a doorbell rings when the vPE is not scheduled
// there.
func (r *Redistributors) SetVPETarget(h uint32, its int, cpu model.CPU) error {
	if _, err := r.cpu(cpu); err != nil {
		return err
	}
	if its < 0 || its >= model.MaxITSes {
		return fmt.Errorf("gicr: ITS %d out of range 0..%d: %w", its, model.MaxITSes-1, model.ErrInvalidArgument)
	}
	v := r.vpeOf(h)
	if v == nil {
		return fmt.Errorf("gicr: no vPE with handle %d: %w", h, model.ErrInvalidArgument)
	}
	v.target[its].Store(uint32(cpu))
	return nil
}

// SetVPETargetAll makes every ITS deliver vPE h's vLPIs to cpu at once: a
// VMOVP on an ITS with GITS_TYPER.VMOVP = 1, which moves the vPE on every
// ITS itself.
func (r *Redistributors) SetVPETargetAll(h uint32, cpu model.CPU) error {
	if _, err := r.cpu(cpu); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vpeOf(h)
	if v == nil {
		return fmt.Errorf("gicr: no vPE with handle %d: %w", h, model.ErrInvalidArgument)
	}
	for i := range v.target {
		v.target[i].Store(uint32(cpu))
	}
	return nil
}

// VPETarget returns the redistributor ITS its delivers vPE h's vLPIs to.
func (r *Redistributors) VPETarget(h uint32, its int) (model.CPU, bool) {
	v := r.vpeOf(h)
	if v == nil || its < 0 || its >= len(v.target) {
		return 0, false
	}
	return model.CPU(v.target[its].Load()), true
}

// VirtualGeneration returns the translation generation of vLPI vintid of
// vPE h, for a translation cache entry naming it.
func (r *Redistributors) VirtualGeneration(h uint32, vintid model.INTID) uint32 {
	if v := r.vpeOf(h); v != nil {
		if p, i := v.page(vintid, false); p != nil {
			return genOf(p.state[i].Load()) & vGenCompare
		}
	}
	return 0
}

// RevokeVirtualTranslations advances the generation of vLPI vintid of
// vPE h: translations cached with the old one stop working.
func (r *Redistributors) RevokeVirtualTranslations(h uint32, vintid model.INTID) {
	if v := r.vpeOf(h); v != nil {
		if p, i := v.page(vintid, false); p != nil {
			p.state[i].Add(vGenOne)
		}
	}
}

// RevokeAllVirtualTranslations advances the generation of every vLPI of
// every vPE.
func (r *Redistributors) RevokeAllVirtualTranslations() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.vpeList.Load(); l != nil {
		for _, v := range *l {
			v.each(func(w *atomic.Uint64, _ model.INTID) { w.Add(vGenOne) })
		}
	}
}

// PendVirtualTranslated is the vLPI fast path of a translation cache: it
// makes vLPI vintid of vPE h pending if its generation is still gen
// ([Redistributors.VirtualGeneration], VGenBits of it). Scheduled on the
// vPE's target redistributor, the vPE sees it at once; otherwise the bit
// is set in its virtual pending table and its doorbell, if any, is made
// pending on the target. ok is false when the generation moved on;
// ringEvent says the vPE was not scheduled there and GICv4.0 per-event
// doorbells ring: the caller, which knows the event, rings its doorbell
// ([Redistributors.RingVPEDoorbell]). err wraps [model.ErrBusy] when the
// target's LPIs are disabled. A vPE scheduled where the vLPI is delivered
// takes no lock and allocates nothing.
func (r *Redistributors) PendVirtualTranslated(h uint32, its int, vintid model.INTID, gen uint32) (ok, ringEvent bool, err error) {
	v := r.vpeOf(h)
	if v == nil {
		return false, false, nil
	}
	p, i := v.page(vintid, false)
	if p == nil {
		return false, false, nil
	}
	w := &p.state[i]
	c := r.cpus[v.target[its].Load()]
	for {
		s := w.Load()
		if genOf(s)&vGenCompare != gen {
			return false, false, nil
		}
		if !c.enabled.Load() {
			return true, false, c.errBusy
		}
		if s&vPending != 0 {
			return true, false, nil // coalesced
		}
		if w.CompareAndSwap(s, s|vPending) {
			return true, r.deliverVirtual(c, v, w, vintid, askEvent), nil
		}
	}
}

// askEvent is the doorbell deliverVirtual is given when the caller does
// not know the event's: it then reports that one should ring.
const askEvent = model.INTID(1<<32 - 1)

// RingVPEDoorbell rings doorbell, a GICv4.0 per-event doorbell, on the
// redistributor vPE h's vLPIs go to (after PendVirtualTranslated asked
// for it). model.NoDoorbell rings nothing.
func (r *Redistributors) RingVPEDoorbell(h uint32, its int, doorbell model.INTID) {
	v := r.vpeOf(h)
	if v == nil || doorbell == model.NoDoorbell || !r.individualDoorbells() {
		return
	}
	r.ringDoorbell(r.cpus[v.target[its].Load()], doorbell)
}

// deliverVirtual completes making vintid pending for v: the scheduled vPE
// is told; a vPE not scheduled on c gets the bit in its VPT and its
// doorbells rung on c: GICv4.1's default one, and the event's doorbell.
// Given askEvent for that, it rings none and reports whether one should
// ring.
//
// The order (pending bit, then the residency check) pairs with
// descheduling (residency cleared, then the pending bits written to the
// VPT): either this sees the vPE not scheduled and writes the VPT itself,
// or the deschedule that follows sees the pending bit.
func (r *Redistributors) deliverVirtual(c *cpuState, v *vpe, w *atomic.Uint64, vintid, doorbell model.INTID) (ringEvent bool) {
	if c.resident.Load() == v {
		v.hints.set(uint32(vintid) >> groupShift)
		return false
	}
	v.mu.Lock()
	if w.Load()&vPending == 0 {
		// A CLEAR, DISCARD or VMOVI took it meanwhile (they clear under
		// v.mu): this delivery happened before them, and nothing of it
		// may show after they returned.
		v.mu.Unlock()
		return false
	}
	r.writeVPTBit(v, vintid, true)
	ring := r.takeDefaultDoorbell(v, vintid)
	v.mu.Unlock()
	v.hints.set(uint32(vintid) >> groupShift)
	if ring != model.NoDoorbell {
		r.ringDoorbell(c, ring)
	}
	switch {
	case doorbell == model.NoDoorbell || !r.individualDoorbells():
	case doorbell == askEvent:
		return true
	default:
		r.ringDoorbell(c, doorbell)
	}
	return false
}

// ringDoorbell makes physical LPI db pending on c: a doorbell is sent by
// the redistributor to itself, whether or not an ITS maps the INTID. An
// LPI no translation maps is created for it, targeting c, with no
// reference (so no DISCARD frees it), and moves, pending state included,
// to whichever redistributor rings it next; one that a translation maps
// stays where that targets it. A redistributor whose LPIs are disabled,
// or an INTID beyond the LPI configuration table, rings nothing.
func (r *Redistributors) ringDoorbell(c *cpuState, db model.INTID) {
	if !c.enabled.Load() || r.CheckLPI(db) != nil {
		return
	}
	r.mu.Lock()
	p, i := r.page(db, true)
	switch s := p.state[i].Load(); {
	case s&stateExists == 0:
		if cfg, err := r.readConfig(db); err == nil {
			update(p, i, func(old uint64) uint64 {
				return old&stateGenMask | stateExists | stateTargeted | uint64(c.id)<<stateCPUShift | uint64(cfg)
			})
			r.live++
		}
	case p.refs[i] == 0:
		r.move(p, i, db, c.id)
	}
	r.mu.Unlock()
	_ = r.SetPending(db)
}

// writeVPTBit sets or clears vintid's bit in v's VPT. A table outside
// guest memory is left alone. Called with v.mu held.
func (r *Redistributors) writeVPTBit(v *vpe, vintid model.INTID, set bool) {
	addr := v.vpt + model.GPA(vintid/8)
	var b [1]byte
	if r.mem.ReadAt(b[:], addr) != nil {
		return
	}
	if set {
		b[0] |= 1 << (vintid % 8)
	} else {
		b[0] &^= 1 << (vintid % 8)
	}
	_ = r.mem.WriteAt(b[:], addr)
}

// SetVirtualPending makes vLPI vintid of vPE h pending as a delivery does
// (INT, and the MSI path without a cache), with doorbell the GICv4.0
// doorbell of the event delivering it (model.NoDoorbell: none). It fails
// wrapping [model.ErrBusy] when the target's LPIs are disabled.
func (r *Redistributors) SetVirtualPending(h uint32, its int, vintid, doorbell model.INTID) error {
	v := r.vpeOf(h)
	if v == nil {
		return errNoVLPI
	}
	p, i := v.page(vintid, false)
	if p == nil {
		return errNoVLPI
	}
	c := r.cpus[v.target[its].Load()]
	for {
		s := p.state[i].Load()
		if !c.enabled.Load() {
			return c.errBusy
		}
		if s&vPending != 0 {
			return nil
		}
		if p.state[i].CompareAndSwap(s, s|vPending) {
			r.deliverVirtual(c, v, &p.state[i], vintid, doorbell)
			return nil
		}
	}
}

var errNoVLPI = fmt.Errorf("gicr: no such vPE or vLPI: %w", model.ErrInvalidArgument)

// ClearVirtualPending removes the pending state of vLPI vintid of vPE h,
// in its VPT too when the vPE is not scheduled (CLEAR, DISCARD), and
// reports whether it was pending.
func (r *Redistributors) ClearVirtualPending(h uint32, vintid model.INTID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vpeOf(h)
	if v == nil {
		return false
	}
	p, i := v.page(vintid, false)
	if p == nil {
		return false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	was := p.state[i].And(^vPending)&vPending != 0
	if _, ok := r.residentOn(v); !ok {
		r.writeVPTBit(v, vintid, false)
	}
	return was
}

// MoveVLPI moves vLPI vintid from vPE from to vPE to (VMOVI), pending
// state included, with doorbell as its doorbell on to.
func (r *Redistributors) MoveVLPI(from, to uint32, its int, vintid, doorbell model.INTID) error {
	if err := r.MapVLPI(to, vintid); err != nil {
		return err
	}
	if from == to || !r.ClearVirtualPending(from, vintid) {
		return nil
	}
	err := r.SetVirtualPending(to, its, vintid, doorbell)
	if err == nil || !errors.Is(err, model.ErrBusy) {
		return err
	}
	// The new target's LPIs are disabled: keep the state in its VPT.
	v := r.vpeOf(to)
	p, i := v.page(vintid, false)
	p.state[i].Or(vPending)
	v.hints.set(uint32(vintid) >> groupShift)
	v.mu.Lock()
	r.writeVPTBit(v, vintid, true)
	v.mu.Unlock()
	return nil
}

// InvalidateVLPI re-reads the configuration byte of vLPI vintid of vPE h
// from the table of the redistributor it is scheduled on (INV on a
// virtual event). Not scheduled, it does nothing: scheduling reads every
// configuration byte.
func (r *Redistributors) InvalidateVLPI(h uint32, vintid model.INTID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vpeOf(h)
	if v == nil {
		return
	}
	if c, ok := r.residentOn(v); ok || v.mapped41 {
		r.reloadVConfig(c, v, vintid)
	}
}

// InvalidateAllVLPIs re-reads the configuration of every vLPI of vPE h
// (VINVALL), as [Redistributors.InvalidateVLPI] does one.
func (r *Redistributors) InvalidateAllVLPIs(h uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.vpeOf(h)
	if v == nil {
		return
	}
	if c, ok := r.residentOn(v); ok || v.mapped41 {
		r.reloadAllVConfig(c, v)
	}
}

// readVConfig reads vintid's byte of v's virtual LPI configuration
// table: on GICv4.0 the one of c's GICR_VPROPBASER, on GICv4.1 the one
// VMAPP named (VCONF_addr; c may then be nil).
func (r *Redistributors) readVConfig(c *cpuState, v *vpe, vintid model.INTID) (model.LPIConfig, error) {
	table, bits := v.vconf, v.vbits
	if !v.mapped41 {
		prop := model.VPropBaser(c.vpropbaser)
		table, bits = prop.Addr(), prop.IDBits()
	}
	if vintid < model.LPIBase || uint64(vintid) >= uint64(1)<<bits {
		return 0, fmt.Errorf("vINTID %d is beyond the vLPI configuration table's %d bits: %w", vintid, bits, model.ErrInvalidArgument)
	}
	var b [1]byte
	if err := r.mem.ReadAt(b[:], table+model.GPA(vintid-model.LPIBase)); err != nil {
		return 0, err
	}
	return model.LPIConfig(b[0]), nil
}

func (r *Redistributors) reloadVConfig(c *cpuState, v *vpe, vintid model.INTID) {
	p, i := v.page(vintid, false)
	if p == nil {
		return
	}
	cfg, err := r.readVConfig(c, v, vintid)
	if err != nil {
		cfg = 0 // beyond the table: no such vLPI to deliver
	}
	vupdate(&p.state[i], func(s uint64) uint64 { return s&^vCfgMask | uint64(cfg) })
}

// reloadAllVConfig reads the configuration of every vLPI v has state for
// from c's table. Called with r.mu held.
func (r *Redistributors) reloadAllVConfig(c *cpuState, v *vpe) {
	v.each(func(w *atomic.Uint64, vintid model.INTID) {
		cfg, err := r.readVConfig(c, v, vintid)
		if err != nil {
			cfg = 0
		}
		vupdate(w, func(s uint64) uint64 { return s&^vCfgMask | uint64(cfg) })
	})
}

// vptBytes returns the byte range of v's VPT in use: from vINTID 8192 up
// to 2^IDbits of c's GICR_VPROPBASER (GICv4.0) or of VMAPP's VPT_size
// (GICv4.1), bounded by the model's.
func (r *Redistributors) vptBytes(c *cpuState, v *vpe) (first, end uint64) {
	bits := v.vbits
	if !v.mapped41 {
		bits = model.VPropBaser(c.vpropbaser).IDBits()
	}
	return uint64(model.LPIBase) / 8, (uint64(1) << min(bits, r.maxIDBits)) / 8
}

// schedule makes the vPE whose VPT is at vpt resident on c
// (GICR_VPENDBASER.Valid 0 to 1). Its pending state comes from the VPT
// unless the IMPLEMENTATION DEFINED area describes the table (written when
// the vPE was last descheduled) and IDAI is 0: then the redistributor's
// own record stands, and a bit written into the table behind its back is
// not seen. Every configuration byte is read. Called with r.mu held.
func (r *Redistributors) schedule(c *cpuState, vpt model.GPA, idai bool) error {
	v, err := r.vpeLocked(vpt)
	if err != nil {
		return err
	}
	return r.scheduleVPE(c, v, idai)
}

// scheduleVPE makes v resident on c, as [Redistributors.schedule] says; a
// GICv4.1 vPE whose VMAPP said PTZ (with Alloc) has its pending table
// known zero: nothing is read at its first scheduling, and it has pending
// what was delivered since the VMAPP. Called with r.mu held.
func (r *Redistributors) scheduleVPE(c *cpuState, v *vpe, idai bool) error {
	for _, o := range r.cpus {
		if o.resident.Load() == v {
			return fmt.Errorf("redistributor %d: the vPE with VPT %v is already scheduled on redistributor %d: %w", c.id, v.vpt, o.id, model.ErrInvalidArgument)
		}
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.dbArmed.Store(false)
	switch {
	case v.ptz:
		v.ptz = false
	case idai || !v.described || !r.vptDescribed(v):
		r.loadVPT(c, v)
	}
	r.reloadAllVConfig(c, v)
	c.resident.Store(v)
	return nil
}

// vptDescribed reports whether v's VPT still holds this model's mark.
func (r *Redistributors) vptDescribed(v *vpe) bool {
	var b [8]byte
	return r.mem.ReadAt(b[:], v.vpt) == nil && binary.LittleEndian.Uint64(b[:]) == vptMagic
}

// loadVPT adds its VPT's pending bits to v's pending state. It only adds:
// a vLPI made pending while the vPE was being scheduled has its bit set
// in the record before its VPT bit is written (deliverVirtual), and must
// not be lost to a table read in between; and while a vPE is not
// scheduled its record and its VPT agree, but for a bit written behind
// the redistributor's back. Called with r.mu and v.mu held.
func (r *Redistributors) loadVPT(c *cpuState, v *vpe) {
	first, end := r.vptBytes(c, v)
	if end <= first {
		return
	}
	buf := make([]byte, end-first)
	if r.mem.ReadAt(buf, v.vpt+model.GPA(first)) != nil {
		return
	}
	for k, b := range buf {
		for bit := range 8 {
			vintid := model.INTID((first+uint64(k))*8 + uint64(bit))
			if b>>bit&1 == 0 {
				continue
			}
			if p, i := v.page(vintid, true); p != nil {
				p.state[i].Or(vPending)
				v.hints.set(uint32(vintid) >> groupShift)
			}
		}
	}
}

// deschedule ends c's vPE's residency (GICR_VPENDBASER.Valid 1 to 0): its
// pending state is written to its VPT, the IMPLEMENTATION DEFINED area
// marked, and PendingLast returned: whether a pending vLPI (or, GICv4.1,
// vSGI) is enabled. requestDB (GICv4.1 Doorbell) arms the vPE's default
// doorbell, which stays armed only when PendingLast is 0. Called with r.mu
// held.
func (r *Redistributors) deschedule(c *cpuState, requestDB bool) (pendingLast bool) {
	v := c.resident.Load()
	if v == nil {
		return false
	}
	if requestDB {
		v.dbArmed.Store(true) // before residency ends: no vLPI misses it
	}
	c.resident.Store(nil)
	v.mu.Lock()
	defer v.mu.Unlock()
	first, end := r.vptBytes(c, v)
	if end > first {
		buf := make([]byte, end-first)
		v.each(func(w *atomic.Uint64, vintid model.INTID) {
			s := w.Load()
			if s&vPending == 0 || uint64(vintid)/8 >= end {
				return
			}
			buf[uint64(vintid)/8-first] |= 1 << (vintid % 8)
			if model.LPIConfig(s & vCfgMask).Enabled() {
				pendingLast = true
			}
		})
		_ = r.mem.WriteAt(buf, v.vpt+model.GPA(first))
	}
	if v.enabledVSGIPending() {
		pendingLast = true
	}
	if pendingLast {
		v.dbArmed.Store(false) // Doorbell is treated as 0
	}
	var mark [8]byte
	binary.LittleEndian.PutUint64(mark[:], vptMagic)
	v.described = r.mem.WriteAt(mark[:], v.vpt) == nil
	return pendingLast
}

// Writable bits of GICR_VPROPBASER (GICv4.0): OuterCache 58:56,
// Physical_Address 51:12, Shareability 11:10, InnerCache 9:7, IDbits 4:0.
const vpropBaserMask = propBaserMask

// Writable bits of GICR_VPENDBASER (GICv4.0): Valid 63, IDAI 62,
// OuterCache 58:56, Physical_Address 51:16, Shareability 11:10,
// InnerCache 9:7. PendingLast is the redistributor's to set, Dirty reads 0.
const vpendBaserMask = model.GICR_VPENDBASER_Valid | model.GICR_VPENDBASER_IDAI | uint64(7)<<56 | (uint64(1)<<52-1)&^(uint64(1)<<16-1) | 0xF80

// readVirtualRegister reads a VLPI_base register: GICR_VPROPBASER or
// GICR_VPENDBASER, and on GICv4.1 GICR_VSGIR and GICR_VSGIPENDR.
func (r *Redistributors) readVirtualRegister(c *cpuState, reg model.GICRRegister) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.v41.Load(); g != nil {
		return r.readVirtualRegister41(g, c, reg)
	}
	if reg == model.GICR_VPROPBASER {
		return c.vpropbaser
	}
	return c.vpendbaser
}

// writeVirtualRegister writes GICR_VPROPBASER or GICR_VPENDBASER. While
// GICR_VPENDBASER.Valid is 1, writing either is UNPREDICTABLE unless the
// write clears Valid; the model ignores such writes. Setting Valid
// schedules the vPE whose VPT the value names; clearing it deschedules
// and sets PendingLast.
func (r *Redistributors) writeVirtualRegister(c *cpuState, reg model.GICRRegister, v uint64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if g := r.v41.Load(); g != nil {
		return r.writeVirtualRegister41(g, c, reg, v)
	}
	valid := model.VPendBaser(c.vpendbaser).Valid()
	if reg == model.GICR_VPROPBASER {
		if !valid {
			c.vpropbaser = model.SanitiseCacheability(v&vpropBaserMask, model.RedistCacheFields)
		}
		return nil
	}
	v = model.SanitiseCacheability(v&vpendBaserMask, model.RedistCacheFields)
	nv := model.VPendBaser(v)
	switch {
	case valid && !nv.Valid():
		last := r.deschedule(c, false)
		c.vpendbaser = c.vpendbaser &^ (model.GICR_VPENDBASER_Valid | model.GICR_VPENDBASER_PendingLast)
		if last {
			c.vpendbaser |= model.GICR_VPENDBASER_PendingLast
		}
	case valid:
		// UNPREDICTABLE: ignored.
	case nv.Valid():
		if err := r.schedule(c, nv.Addr(), nv.IDAI()); err != nil {
			return err
		}
		c.vpendbaser = v
	default:
		c.vpendbaser = v
	}
	return nil
}

// ClearAllVirtualPending removes every vPE's pending state, in-core only
// (the VPTs are not written). It is for benchmarks and tests that reuse
// one set of vLPIs; it must not run concurrently with MSIs.
func (r *Redistributors) ClearAllVirtualPending() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.vpeList.Load(); l != nil {
		for _, v := range *l {
			v.each(func(w *atomic.Uint64, _ model.INTID) { w.And(^vPending) })
			v.hints.clearAll()
		}
	}
}
