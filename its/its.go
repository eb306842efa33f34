package its

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/gicits/gicits/model"
)

// Redistributors is what the ITS needs from the redistributors: the LPIs
// its translations name. Package gicr implements it.
type Redistributors interface {
	// CPUs returns the number of redistributors (processor numbers
	// 0..CPUs-1, the RDbase of commands with GITS_TYPER.PTA = 0).
	CPUs() int
	// LPILimit returns one more than the largest INTID MAPTI may name
	// (from GICR_PROPBASER.IDbits).
	LPILimit() model.INTID
	// PropBaserSet reports whether GICR_PROPBASER has been programmed.
	PropBaserSet() bool
	// LPIsEnabled reports GICR_CTLR.EnableLPIs of cpu.
	LPIsEnabled(cpu model.CPU) bool
	// CheckLPI reports why intid cannot be mapped, changing nothing.
	CheckLPI(intid model.INTID) error
	// MapLPI adds a reference to LPI intid, creating it (configuration
	// read, pending-table bit consumed when targeted) if needed.
	MapLPI(intid model.INTID, target model.CPU, targeted bool) error
	// UnmapLPI drops a reference to LPI intid, freeing it with the last.
	UnmapLPI(intid model.INTID) bool
	// LPITarget returns the CPU LPI intid is delivered to.
	LPITarget(intid model.INTID) (model.CPU, bool)
	// MoveLPI retargets LPI intid, moving its pending state. It fails
	// only when cpu is not below CPUs().
	MoveLPI(intid model.INTID, cpu model.CPU) error
	// MoveAll retargets every LPI of from to to. It fails only when from
	// or to is not below CPUs().
	MoveAll(from, to model.CPU) error
	// SetPending makes intid pending on its target, or fails wrapping
	// model.ErrBusy when the target's LPIs are disabled. It must not
	// block.
	SetPending(intid model.INTID) error
	// Generation returns the translation generation of LPI intid, kept
	// by a translation cache entry naming it.
	Generation(intid model.INTID) uint32
	// PendTranslated makes intid pending on its target if its
	// generation is still gen (ok false otherwise: translate again). It
	// must not block.
	PendTranslated(intid model.INTID, gen uint32) (ok bool, err error)
	// RevokeTranslations changes LPI intid's generation, so that no
	// PendTranslated with the old one succeeds once it has returned.
	RevokeTranslations(intid model.INTID)
	// RevokeAllTranslations changes every LPI's generation.
	RevokeAllTranslations()
	// ClearPending removes LPI intid's pending state.
	ClearPending(intid model.INTID) bool
	// InvalidateLPI re-reads LPI intid's configuration.
	InvalidateLPI(intid model.INTID)
	// InvalidateAll re-reads the configuration of every LPI targeting cpu.
	InvalidateAll(cpu model.CPU)
}

// Config says how to build an ITS.
type Config struct {
	// Typer is GITS_TYPER; 0 means model.KVMITSTyper. The ITT entry size
	// (ITT_entry_size + 1) must be at least 8 bytes, to hold the ABI
	// revision 0 ITE (KVM's is 8, QEMU's emulated ITS 12), and PTA must
	// be 0.
	Typer model.ITSTyper
	// ErrorPolicy is what the command queue does on a failing command.
	ErrorPolicy model.ErrorPolicy
	// NoTranslationCache makes every MSI walk the tables in guest memory.
	NoTranslationCache bool
	// Number is the ITS's number among the ITSes sharing the
	// redistributors, 0..model.MaxITSes-1: GITS_CTLR.ITS_Number, the bit
	// of VMOVP's ITSList naming it.
	Number int
}

// Collection states in ITS.colls: a CPU number (mapped) or one of these.
const (
	collAbsent   int32 = -2
	collUnmapped int32 = -1
)

// iteRec is the ITS's own record of one mapped event. A virtual event
// (VMAPTI, VMAPI) has intid its vINTID, vpeid its vPE and doorbell its
// GICv4.0 per-event doorbell; icid and orphan mean nothing for it.
type iteRec struct {
	intid    model.INTID
	icid     model.ICID
	valid    bool
	orphan   bool // its collection was unmapped by MAPC V=0 (KVM: ite->collection = NULL)
	virtual  bool
	vpeid    model.VPEID
	doorbell model.INTID
}

const itePageShift = 8

type itePage [1 << itePageShift]iteRec

// device is the ITS's record of one mapped device.
type device struct {
	itt    model.GPA
	size   uint8 // MAPD Size: EventID bits - 1
	pages  map[uint32]*itePage
	events int
}

func newDevice(itt model.GPA, size uint8) *device {
	return &device{itt: itt, size: size, pages: map[uint32]*itePage{}}
}

func (d *device) get(ev model.EventID) (iteRec, bool) {
	p := d.pages[uint32(ev)>>itePageShift]
	if p == nil {
		return iteRec{}, false
	}
	r := p[uint32(ev)&(1<<itePageShift-1)]
	return r, r.valid
}

func (d *device) put(ev model.EventID, r iteRec) {
	k := uint32(ev) >> itePageShift
	p := d.pages[k]
	if p == nil {
		p = new(itePage)
		d.pages[k] = p
	}
	slot := &p[uint32(ev)&(1<<itePageShift-1)]
	if !slot.valid {
		d.events++
	}
	r.valid = true
	*slot = r
}

func (d *device) del(ev model.EventID) {
	k := uint32(ev) >> itePageShift
	p := d.pages[k]
	if p == nil {
		return
	}
	slot := &p[uint32(ev)&(1<<itePageShift-1)]
	if slot.valid {
		*slot = iteRec{}
		d.events--
		if d.events == 0 {
			clear(d.pages)
		}
	}
}

// each calls fn for every mapped event in ascending EventID order.
func (d *device) each(fn func(ev model.EventID, r *iteRec)) {
	for _, k := range slices.Sorted(maps.Keys(d.pages)) {
		p := d.pages[k]
		for i := range p {
			if p[i].valid {
				fn(model.EventID(k<<itePageShift|uint32(i)), &p[i])
			}
		}
	}
}

func (d *device) eventIDBits() int { return int(d.size) + 1 }

// ITS is one Interrupt Translation Service.
//
// Methods are safe for concurrent use.
type ITS struct {
	mem    model.Memory
	ram    *model.RAM // mem, when it is a *model.RAM: walks read it without copying
	rd     Redistributors
	typer  model.ITSTyper
	policy model.ErrorPolicy
	number int // GITS_CTLR.ITS_Number (Config.Number)
	// iteSize is the size in bytes of an ITT entry,
	// GITS_TYPER.ITT_entry_size + 1: the stride of every ITT.
	iteSize uint64

	mu      sync.RWMutex
	enabled bool
	cbaser  model.CBASER
	cwriter uint64
	creadr  uint64
	stalled bool
	baser   [3]model.Baser // devices, collections, vPEs (GICv4: GITS_BASER2)
	devices map[model.DeviceID]*device
	colls   []int32 // by ICID

	// GICv4.0 (GITS_TYPER.Virtual): the redistributors' virtual side and
	// the mapped vPEs (VMAPP), under mu.
	vrd  VirtualRedistributors
	vpes map[model.VPEID]*vpeRec

	// Several ITSes (Link): the others, the board of VMOVPs that need
	// several, and what this ITS's commands left for the others to do
	// once mu is released (tellPeers).
	peers    []*ITS
	board    *moveBoard
	deferred []func()

	cache *translationCache // nil when turned off

	errDisabled error // preallocated for the MSI path
}

// IIDR is the value GITS_IIDR reads: KVM's, with ABI revision 0.
const IIDR = 0x4B00043B

// PIDR2 is the value GITS_PIDR2 reads: ArchRev 3 (GICv3).
const PIDR2 = 0x3B

// baserAttrs are the attribute bits KVM's GITS_BASER<n> reset values hold:
// InnerCache 3 (bits 61:59), Shareability Inner (11:10), PageSize 64 KiB
// (9:8).
const baserAttrs = model.Baser(3<<59 | 1<<10 | 2<<8)

// Reset values of GITS_BASER0 and GITS_BASER1, as KVM's
// (0x1907000000000600 and 0x1C07000000000600): device and collection tables
// of 8-byte entries, 64 KiB pages, not valid.
var (
	DeviceBaserReset     = model.MakeBaser(model.BaserDevices, model.TableEntrySize) | baserAttrs
	CollectionBaserReset = model.MakeBaser(model.BaserCollections, model.TableEntrySize) | baserAttrs
)

// The ITT entry sizes a GITS_TYPER may give [New]: the ABI revision 0 ITE
// is 8 bytes, and GITS_TYPER.ITT_entry_size (4 bits, the size minus one)
// holds at most 16. An entry larger than 8 bytes holds the ITE in its first
// 8 bytes and zeros after them.
const (
	MinITTEntrySize = model.TableEntrySize
	MaxITTEntrySize = 16
)

// New returns a disabled ITS over guest memory mem whose translations
// target the LPIs of rd. mem's extent must stay fixed while the ITS uses
// it (a [*model.RAM] is).
func New(mem model.Memory, rd Redistributors, cfg Config) (*ITS, error) {
	if mem == nil || rd == nil {
		return nil, fmt.Errorf("its: guest memory and redistributors are required: %w", model.ErrInvalidArgument)
	}
	typer := cfg.Typer
	if typer == 0 {
		typer = model.KVMITSTyper
	}
	switch {
	case !typer.Physical():
		return nil, fmt.Errorf("its: GITS_TYPER %#x: Physical (bit 0) must be set: %w", uint64(typer), model.ErrNotSupported)
	case typer.Virtual() && typer.ITTEntrySize() < model.VirtualITESize:
		return nil, fmt.Errorf("its: GITS_TYPER %#x: Virtual with %d-byte ITT entries; a virtual ITE needs %d (ITT_entry_size, bits 7:4, >= %d): %w", uint64(typer), typer.ITTEntrySize(), model.VirtualITESize, model.VirtualITESize-1, model.ErrNotSupported)
	case typer.ITTEntrySize() < MinITTEntrySize:
		return nil, fmt.Errorf("its: GITS_TYPER %#x: ITT entry size %d bytes (ITT_entry_size, bits 7:4, = %d) cannot hold the %d-byte ABI revision 0 ITE; want %d..%d: %w", uint64(typer), typer.ITTEntrySize(), typer.ITTEntrySize()-1, model.TableEntrySize, MinITTEntrySize, MaxITTEntrySize, model.ErrNotSupported)
	case typer.PTA():
		return nil, fmt.Errorf("its: GITS_TYPER %#x: PTA = 1 (RDbase as physical address) is not modelled; RDbase is a processor number: %w", uint64(typer), model.ErrNotSupported)
	case typer.EventIDBits() > 31:
		return nil, fmt.Errorf("its: GITS_TYPER %#x: %d EventID bits; at most 31 are modelled (MAPD Size holds 1..32 but the ABI revision 0 DTE Size check caps it): %w", uint64(typer), typer.EventIDBits(), model.ErrNotSupported)
	}
	if cfg.Number < 0 || cfg.Number >= model.MaxITSes {
		return nil, fmt.Errorf("its: ITS number %d out of range 0..%d: %w", cfg.Number, model.MaxITSes-1, model.ErrInvalidArgument)
	}
	if cfg.ErrorPolicy != model.ContinueOnError && cfg.ErrorPolicy != model.StallOnError {
		return nil, fmt.Errorf("its: unknown error policy %d: %w", int(cfg.ErrorPolicy), model.ErrInvalidArgument)
	}
	ram, _ := mem.(*model.RAM)
	t := &ITS{
		mem:         mem,
		ram:         ram,
		rd:          rd,
		typer:       typer,
		policy:      cfg.ErrorPolicy,
		number:      cfg.Number,
		iteSize:     uint64(typer.ITTEntrySize()),
		baser:       [3]model.Baser{DeviceBaserReset, CollectionBaserReset},
		devices:     map[model.DeviceID]*device{},
		colls:       make([]int32, 1<<typer.ICIDBits()),
		errDisabled: fmt.Errorf("its: GITS_CTLR.Enabled = 0: %w", model.ErrBusy),
	}
	for i := range t.colls {
		t.colls[i] = collAbsent
	}
	if typer.Virtual() {
		vrd, ok := rd.(VirtualRedistributors)
		if !ok {
			return nil, fmt.Errorf("its: GITS_TYPER %#x: Virtual, but the redistributors have no virtual LPIs: %w", uint64(typer), model.ErrNotSupported)
		}
		t.vrd, t.vpes, t.baser[2] = vrd, map[model.VPEID]*vpeRec{}, VPEBaserReset
		if err := enableGICv41(vrd, typer); err != nil {
			return nil, err
		}
	}
	if !cfg.NoTranslationCache {
		t.cache = newTranslationCache()
	}
	return t, nil
}

// Typer returns GITS_TYPER.
func (t *ITS) Typer() model.ITSTyper { return t.typer }

// ErrorPolicy returns the command queue's error policy.
func (t *ITS) ErrorPolicy() model.ErrorPolicy { return t.policy }

// TranslationCacheLen returns the number of cached translations (0 with the
// cache turned off).
func (t *ITS) TranslationCacheLen() int {
	if t.cache == nil {
		return 0
	}
	return t.cache.len()
}

// StopTranslations runs fn with every MSI held off (the ITS mutex held for
// writing, so no MSI can walk, and every cached translation revoked, so
// none can hit) and empties the translation cache. Backends wrap a
// GICR_CTLR write that clears EnableLPIs in it (package gicr cannot call
// it), so no MSI that passed its EnableLPIs check can make an LPI pending
// after fn.
func (t *ITS) StopTranslations(fn func() error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flushCache()
	return fn()
}

// EventState is one mapped event, as [ITS.State] reports it.
type EventState struct {
	EventID model.EventID
	INTID   model.INTID
	ICID    model.ICID
	// Orphaned: the event's collection was unmapped (MAPC V=0) after it
	// was mapped; it cannot fire.
	Orphaned bool
	// Virtual: the event maps vLPI INTID of vPE VPEID (VMAPTI, VMAPI),
	// with Doorbell its GICv4.0 doorbell (model.NoDoorbell: none); ICID
	// and Orphaned mean nothing then.
	Virtual  bool
	VPEID    model.VPEID
	Doorbell model.INTID
}

// VPEState is one mapped vPE (VMAPP), as [ITS.State] reports it.
type VPEState struct {
	VPEID model.VPEID
	// RDbase is the redistributor its vLPIs are delivered to.
	RDbase model.CPU
	// VPTAddr is its virtual LPI pending table, of 2^VINTIDBits bits.
	VPTAddr    model.GPA
	VINTIDBits int
	// MoveWaiting lists the ITS numbers a VMOVP of the vPE still waits
	// for (GITS_TYPER.VMOVP = 0, ITSList), ascending; nil when none.
	MoveWaiting []int
}

// DeviceState is one mapped device, as [ITS.State] reports it.
type DeviceState struct {
	DeviceID    model.DeviceID
	ITTAddr     model.GPA
	EventIDBits int
	Events      []EventState
}

// CollectionState is one existing collection, as [ITS.State] reports it.
type CollectionState struct {
	ICID   model.ICID
	Mapped bool
	CPU    model.CPU
}

// State is a snapshot of the ITS's translation state, sorted by ID.
type State struct {
	Enabled     bool
	Devices     []DeviceState
	Collections []CollectionState
	VPEs        []VPEState // GICv4.0 only
}

// State returns a snapshot of the ITS's devices, events and collections.
func (t *ITS) State() State {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s := State{Enabled: t.enabled}
	for _, id := range slices.Sorted(maps.Keys(t.devices)) {
		d := t.devices[id]
		ds := DeviceState{DeviceID: id, ITTAddr: d.itt, EventIDBits: d.eventIDBits()}
		d.each(func(ev model.EventID, r *iteRec) {
			es := EventState{EventID: ev, INTID: r.intid, ICID: r.icid, Orphaned: r.orphan}
			if r.virtual {
				es = EventState{EventID: ev, INTID: r.intid, Virtual: true, VPEID: r.vpeid, Doorbell: r.doorbell}
			}
			ds.Events = append(ds.Events, es)
		})
		s.Devices = append(s.Devices, ds)
	}
	for icid, c := range t.colls {
		if c != collAbsent {
			s.Collections = append(s.Collections, CollectionState{ICID: model.ICID(icid), Mapped: c >= 0, CPU: model.CPU(max(c, 0))})
		}
	}
	for _, id := range slices.Sorted(maps.Keys(t.vpes)) {
		v := t.vpes[id]
		s.VPEs = append(s.VPEs, VPEState{VPEID: id, RDbase: v.rdbase, VPTAddr: v.vpt, VINTIDBits: v.vintidBits(), MoveWaiting: t.board.waiting(id)})
	}
	return s
}

// collMapped returns the CPU collection icid is mapped to.
func (t *ITS) collMapped(icid model.ICID) (model.CPU, bool) {
	if int(icid) >= len(t.colls) || t.colls[icid] < 0 {
		return 0, false
	}
	return model.CPU(t.colls[icid]), true
}

// collExists reports whether collection icid exists, mapped or not.
func (t *ITS) collExists(icid model.ICID) bool {
	return int(icid) < len(t.colls) && t.colls[icid] != collAbsent
}

// collInRange reports whether icid fits GITS_TYPER and the collection table
// (KVM's vgic_its_check_id on GITS_BASER1).
func (t *ITS) collInRange(icid model.ICID) bool {
	return int(icid) < len(t.colls) && uint64(icid) < t.baser[1].SizeBytes()/model.TableEntrySize
}

// dteFault says why a DeviceID has no DTE; the zero value means it has
// one. It is a value, not a string, so the MSI table walk does not allocate
// when a translation fails.
type dteFault struct {
	kind  dteFaultKind
	dev   model.DeviceID
	baser model.Baser
	n     uint64    // entries of the flat table or L1 entries
	l1    uint64    // L1 index
	addr  model.GPA // L1 entry or DTE address
}

type dteFaultKind uint8

const (
	dteOK dteFaultKind = iota
	dteDevbits
	dteFlatRange
	dteL1Range
	dteL1Memory
	dteL1Invalid
	dteMemory
)

func (f dteFault) ok() bool { return f.kind == dteOK }

// outOfRange reports whether the DeviceID is beyond GITS_TYPER.Devbits or
// the device table (not merely without a DTE).
func (f dteFault) outOfRange() bool {
	return f.kind == dteDevbits || f.kind == dteFlatRange || f.kind == dteL1Range
}

func (f dteFault) String() string {
	dev, b := uint32(f.dev), uint64(f.baser)
	switch f.kind {
	case dteDevbits:
		return fmt.Sprintf("DeviceID %#x does not fit GITS_TYPER.Devbits (%d bits)", dev, f.n)
	case dteFlatRange:
		return fmt.Sprintf("DeviceID %#x is outside the flat device table of %d entries (GITS_BASER0 %#x)", dev, f.n, b)
	case dteL1Range:
		return fmt.Sprintf("DeviceID %#x needs L1 entry %d of a two-level device table of %d L1 entries (GITS_BASER0 %#x)", dev, f.l1, f.n, b)
	case dteL1Memory:
		return fmt.Sprintf("L1 entry %d of DeviceID %#x at %v is outside guest memory (GITS_BASER0 %#x)", f.l1, dev, f.addr, b)
	case dteL1Invalid:
		return fmt.Sprintf("L1 entry %d of DeviceID %#x at %v is not valid: no second-level page (GITS_BASER0 %#x)", f.l1, dev, f.addr, b)
	case dteMemory:
		return fmt.Sprintf("the DTE of DeviceID %#x at %v is outside guest memory (GITS_BASER0 %#x)", dev, f.addr, b)
	}
	return "ok"
}

// dteAddr returns where device dev's DTE is in guest memory, or why dev
// has none: beyond GITS_TYPER.Devbits or the device table, its L1 entry
// invalid or unreadable, or its DTE outside guest memory. KVM reports every
// one of these as E_ITS_MAPD_DEVICE_OOR; the fault says which it was.
func (t *ITS) dteAddr(dev model.DeviceID) (model.GPA, dteFault) {
	b := t.baser[0]
	f := dteFault{dev: dev, baser: b}
	if bits := t.typer.DeviceIDBits(); uint64(dev) >= uint64(1)<<bits {
		f.kind, f.n = dteDevbits, uint64(bits)
		return 0, f
	}
	var addr model.GPA
	if !b.Indirect() {
		if n := b.SizeBytes() / model.TableEntrySize; uint64(dev) >= n {
			f.kind, f.n = dteFlatRange, n
			return 0, f
		}
		addr = b.Addr() + model.GPA(uint64(dev)*model.TableEntrySize)
	} else {
		perPage := uint64(b.PageSize()) / model.TableEntrySize
		f.l1 = uint64(dev) / perPage
		if n := b.SizeBytes() / model.TableEntrySize; f.l1 >= n {
			f.kind, f.n = dteL1Range, n
			return 0, f
		}
		f.addr = b.Addr() + model.GPA(f.l1*model.TableEntrySize)
		v, err := t.read64(f.addr)
		if err != nil {
			f.kind = dteL1Memory
			return 0, f
		}
		e := model.DecodeL1Entry(v)
		if !e.Valid {
			f.kind = dteL1Invalid
			return 0, f
		}
		l2 := e.Addr &^ model.GPA(b.PageSize()-1)
		addr = l2 + model.GPA(uint64(dev)%perPage*model.TableEntrySize)
	}
	if _, err := t.read64(addr); err != nil {
		f.kind, f.addr = dteMemory, addr
		return 0, f
	}
	return addr, dteFault{}
}

// read64 reads a little-endian doubleword of guest memory.
func (t *ITS) read64(addr model.GPA) (uint64, error) {
	if t.ram != nil {
		b, err := t.ram.Slice(addr, 8)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	return model.ReadUint64(t.mem, addr)
}

// iteAddr returns where EventID ev's entry is in the ITT at itt: entries
// are GITS_TYPER.ITT_entry_size + 1 bytes apart (IHI 0069, 5.2 and
// 12.19.19), the ABI revision 0 ITE in the first 8 bytes of each.
func (t *ITS) iteAddr(itt model.GPA, ev model.EventID) model.GPA {
	return itt + model.GPA(uint64(ev)*t.iteSize)
}

// ittEntry returns the ITT entry holding ITE v: v in the first 8 bytes,
// little-endian, zeros in the rest of the entry.
func (t *ITS) ittEntry(v uint64) []byte {
	b := make([]byte, t.iteSize)
	binary.LittleEndian.PutUint64(b, v)
	return b
}

// readITE reads the ITE of EventID ev of the ITT at itt: the first 8
// bytes of its entry. The whole entry must be in guest memory; the bytes
// after the ITE are not looked at.
func (t *ITS) readITE(itt model.GPA, ev model.EventID) (uint64, error) {
	var b [MaxITTEntrySize]byte
	if err := t.mem.ReadAt(b[:t.iteSize], t.iteAddr(itt, ev)); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// writeITE writes the whole ITT entry of EventID ev of the ITT at itt:
// ITE v, then zeros to the end of the entry. Over a [*model.RAM] it
// writes in place, allocating nothing (commands run it for every MAPTI,
// MOVI and DISCARD).
func (t *ITS) writeITE(itt model.GPA, ev model.EventID, v uint64) error {
	addr := t.iteAddr(itt, ev)
	if t.ram == nil {
		return t.mem.WriteAt(t.ittEntry(v), addr)
	}
	b, err := t.ram.Slice(addr, int(t.iteSize))
	if err != nil {
		return err
	}
	binary.LittleEndian.PutUint64(b, v)
	clear(b[model.TableEntrySize:])
	return nil
}

// writeBack writes a DTE that a command changed through to guest memory,
// and [ITS.writeBackITE] an ITE (see "Where state lives" in the package
// doc). They cannot fail, so they return nothing: every caller writes an
// entry the ITS has read successfully before (dteAddr reads the DTE; MAPTI
// reads the whole ITT entry before it maps the event and RestoreTables
// reads the entry of every event it restores, so the whole entry of every
// live event has been read), and a
// [model.Memory] access fails only when its range is not wholly inside
// guest memory, whose extent is fixed for the ITS's life.
//
// Were it to fail anyway, there would be nothing to report it as: the
// contents of the device table and the ITTs are IMPLEMENTATION DEFINED,
// and no command error encoding names a failed table write (IHI 0069,
// 6.3). KVM, which writes back the zero DTE of MAPD V=0 and the zero ITE
// of DISCARD (since 6.13) and every live entry only at ITS_SAVE_TABLES,
// drops the result of each command, a failed write included.
func (t *ITS) writeBack(addr model.GPA, entry uint64) {
	_ = model.WriteUint64(t.mem, addr, entry)
}

// writeBackITE is [ITS.writeBack] for an ITE: the whole ITT entry of
// EventID ev of device d, ITE v then zeros (read before, so it cannot
// fail).
func (t *ITS) writeBackITE(d *device, ev model.EventID, v uint64) {
	_ = t.writeITE(d.itt, ev, v)
}

// writeDTE writes device d's live DTE (next 0) at addr.
func (t *ITS) writeDTE(addr model.GPA, d *device) error {
	v, err := model.DTE{Valid: true, ITTAddr: d.itt, Size: d.size}.Encode()
	if err != nil {
		return err
	}
	return model.WriteUint64(t.mem, addr, v)
}

// freeDevice removes device dev: its cached translations, its events (a
// zero ITE written over each) and their LPIs. A vLPI's pending state
// belongs to its vPE and stays.
func (t *ITS) freeDevice(id model.DeviceID, d *device, zero bool) {
	d.each(func(ev model.EventID, r *iteRec) {
		t.invalidateEvent(id, ev, r)
	})
	d.each(func(ev model.EventID, r *iteRec) {
		if zero {
			t.writeBackITE(d, ev, 0)
		}
		if !r.virtual {
			t.rd.UnmapLPI(r.intid)
		}
	})
	delete(t.devices, id)
}

// freeAllDevices discards every device (GITS_BASER0 written with Valid 0),
// writing a zero ITE over each of their events as MAPD V=0 does: a later
// device given the same ITT must not find them at a save.
func (t *ITS) freeAllDevices() {
	t.flushCache()
	for id, d := range t.devices {
		t.freeDevice(id, d, true)
	}
}

// freeAllCollections discards every collection, orphaning every event
// (GITS_BASER1 written with Valid 0).
func (t *ITS) freeAllCollections() {
	t.flushCache()
	for _, d := range t.devices {
		d.each(func(_ model.EventID, r *iteRec) { r.orphan = true })
	}
	for i := range t.colls {
		t.colls[i] = collAbsent
	}
}

// invalidate ends the translation of (dev, ev) to intid: its cache entry
// goes, and intid's generation moves on, so an MSI that looked the entry
// up before cannot make intid pending after this returns.
func (t *ITS) invalidate(dev model.DeviceID, ev model.EventID, intid model.INTID) {
	if t.cache != nil {
		t.cache.remove(dev, ev)
		t.rd.RevokeTranslations(intid)
	}
}

// invalidateEvent is [ITS.invalidate] for the event whose record is r,
// physical or virtual.
func (t *ITS) invalidateEvent(dev model.DeviceID, ev model.EventID, r *iteRec) {
	if !r.virtual {
		t.invalidate(dev, ev, r.intid)
		return
	}
	if t.cache != nil {
		t.cache.remove(dev, ev)
		if v := t.vpes[r.vpeid]; v != nil && v.valid {
			t.vrd.RevokeVirtualTranslations(v.handle, r.intid)
		}
	}
}

// flushCache ends every cached translation.
func (t *ITS) flushCache() {
	if t.cache != nil {
		t.cache.flush()
		t.rd.RevokeAllTranslations()
		if t.vrd != nil {
			t.vrd.RevokeAllVirtualTranslations()
		}
	}
}

// sortedDeviceIDs returns the mapped DeviceIDs, ascending.
func (t *ITS) sortedDeviceIDs() []model.DeviceID {
	ids := slices.Collect(maps.Keys(t.devices))
	slices.SortFunc(ids, cmp.Compare)
	return ids
}

// TableError reports a bad entry found by [ITS.RestoreTables] (or a table
// [ITS.SaveTables] could not write): which table, which entry, which field.
type TableError struct {
	// Table names the table: "collection table", "device table",
	// "ITT of device 0x10".
	Table string
	// Index is the entry's index: the DeviceID, EventID or CTE position.
	Index uint64
	// Field names the field at fault ("ICID", "pINTID", "Size", ...), or
	// is empty when the entry could not be accessed at all.
	Field string
	// Err says why; it wraps model.ErrInvalidArgument or a
	// *model.MemoryError.
	Err error
}

func (e *TableError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("its: %s entry %#x: %v", e.Table, e.Index, e.Err)
	}
	return fmt.Sprintf("its: %s entry %#x: %s: %v", e.Table, e.Index, e.Field, e.Err)
}

func (e *TableError) Unwrap() error { return e.Err }

var errInvalid = model.ErrInvalidArgument

func invalidf(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, errInvalid)...)
}
