package difftest

import (
	"math/rand/v2"
	"slices"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// Generator parameters.
const (
	genDevices  = 6  // DeviceIDs 0x10..0x15
	genEvents   = 8  // EventIDs 0..7 per device (3 bits)
	genLPIs     = 31 // INTIDs 8192..8222 (generator.priority)
	genMaxCPUs  = 4
	genITTBits  = 3
	genFirstDev = 0x10
)

// generatedFile is the file name of a generated stream's positions.
const generatedFile = "generated.its"

// StreamLength is the number of actions in each stream the differential
// tests generate: long enough to map, move and re-map, short enough for a
// few hundred streams on KVM under QEMU.
const StreamLength = 120

// Profile says which behaviours a stream meets where KVM is known to
// depart from the architecture (docs/fidelity.md), and whether it carries
// failing commands. [Generate] draws one per seed; a profile with nothing
// set makes a stream on which every backend that follows the architecture
// agrees with the simulator.
type Profile struct {
	MOVALL         bool // MOVALL commands (class movall)
	EqualPriority  bool // LPIs of equal priority, and of priorities 0xF8 and up (ack-equal-priority, priority-bits)
	DiscardPending bool // DISCARD and re-MAPD of events whose LPI may be pending (discard-pending)
	Errors         bool // failing commands, each followed by its expect error
	// GICv4 makes a GICv4.0 stream (gen_gicv4.go): the gicv4 setting,
	// vPEs and vLPIs mixed with the physical actions. ProfileOf never
	// draws it: no backend but the simulator models vPEs, and kvm skips
	// such a stream whole.
	GICv4 bool
	// ITSes, 2..4, makes a stream for that many ITSes (gen_itses.go):
	// the itses setting, per-ITS devices, collections and events, its
	// switches, LPIs shared by events of two ITSes, and per-ITS save and
	// restore (in place and by migration). 0 or 1 is one ITS, as before.
	// ProfileOf never draws it, so the streams of the pinned seeds stay
	// as they were; GenerateProfile panics when it is set with GICv4.
	ITSes int
}

// ProfileOf returns the profile Generate draws for seed: each behaviour
// is met by about one stream in three, independently.
func ProfileOf(seed uint64) Profile {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	return Profile{MOVALL: r.IntN(3) == 0, EqualPriority: r.IntN(3) == 0, DiscardPending: r.IntN(3) == 0, Errors: r.IntN(3) == 0}
}

// Generate returns a random stream of n actions, reproducible from seed,
// with the profile ProfileOf(seed) draws: mapping and re-mapping devices
// (INTIDs are reused as soon as they are free), mapping, moving,
// discarding and clearing events, retargeting collections, toggling LPI
// configuration with INV or INVALL, injecting MSIs and INTs, and
// acknowledging. Every command succeeds on a backend that follows the
// architecture, except the failing commands of an Errors profile, each
// followed by the expect error it must raise. The statements after the
// set-up carry line numbers as if printed.
func Generate(seed uint64, n int) *script.Script {
	return GenerateProfile(seed, n, ProfileOf(seed))
}

// GenerateProfile is [Generate] with the profile given.
func GenerateProfile(seed uint64, n int, p Profile) *script.Script {
	g := &generator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		p:      p,
		s:      script.Script{File: generatedFile},
		events: map[model.DeviceID]map[model.EventID]model.INTID{},
		prio:   map[model.INTID]uint8{},
		refs:   map[model.INTID]int{},
	}
	g.itsEvents = []map[model.DeviceID]map[model.EventID]model.INTID{g.events}
	g.cpus = 2 + g.rng.IntN(genMaxCPUs-1)
	if p.GICv4 {
		g.gicv4Settings()
	}
	g.emit(&script.CPUsStmt{At: g.at(), N: g.cpus})
	if g.several() {
		g.itsesSettings()
	}
	for i := range genLPIs {
		lpi := model.LPIBase + model.INTID(i)
		g.prio[lpi] = g.priority(i)
		g.emit(&script.LPIStmt{At: g.at(), First: lpi, Last: lpi, Config: model.MakeLPIConfig(g.prio[lpi], true)})
		g.free = append(g.free, lpi)
	}
	g.emit(&script.EnableLPIsStmt{At: g.at(), All: true})
	for c := range g.cpus {
		g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPC{ICID: model.ICID(c), RDbase: uint64(c), Valid: true}})
	}
	if g.several() {
		g.itsesSetUp()
	}
	if p.GICv4 {
		g.gicv4SetUp()
	}
	for setUp := len(g.s.Stmts); len(g.s.Stmts) < setUp+n; {
		g.step()
	}
	g.emit(&script.SaveStmt{At: g.at()})
	return &g.s
}

// priority returns the priority of the i-th LPI. Without EqualPriority
// they are 0x00, 0x08, ... 0xf0: distinct in bits [7:3], the 5 priority
// bits KVM's virtual CPU interface implements, and below the default
// priority mask as such an interface holds it (0xF8). With it they come
// from a few values, two of which differ only in bits [2:0], and two of
// which a 5-bit interface masks.
func (g *generator) priority(i int) uint8 {
	if !g.p.EqualPriority {
		return uint8(8 * i)
	}
	return [...]uint8{0x40, 0x80, 0x84, 0xa0, 0xa0, 0xf8, 0xfc}[g.rng.IntN(7)]
}

type generator struct {
	rng    *rand.Rand
	p      Profile
	s      script.Script
	prio   map[model.INTID]uint8
	cpus   int
	events map[model.DeviceID]map[model.EventID]model.INTID // the addressed ITS's mapped devices and their events
	free   []model.INTID                                    // the INTIDs no event of any ITS maps
	refs   map[model.INTID]int                              // how many events map each INTID (one per ITS at most)
	// Several-ITS streams only (gen_itses.go): which ITS the statements
	// address, every ITS's events (itsEvents[its] is events), and which
	// ITSes ran a command that changes their tables since they last saved
	// them.
	its       int
	itsEvents []map[model.DeviceID]map[model.EventID]model.INTID
	dirty     []bool
	v         vstate // GICv4 streams only
}

// at is the position of the next statement emitted, as if the stream were
// printed: the statement built with it must be the next one emitted.
func (g *generator) at() script.At {
	return script.At{Pos: script.Pos{File: generatedFile, Line: len(g.s.Stmts) + 1}}
}

func (g *generator) emit(st script.Stmt) {
	g.s.Stmts = append(g.s.Stmts, st)
	if g.several() {
		g.noteTableChange(st)
	}
}

func (g *generator) cmd(c model.Command) { g.emit(&script.CommandStmt{At: g.at(), Cmd: c}) }

func (g *generator) mappedDevices() []model.DeviceID {
	var out []model.DeviceID
	for d := range g.events {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// mappedEvent picks a mapped event, if there is one.
func (g *generator) mappedEvent() (model.DeviceID, model.EventID, bool) {
	type de struct {
		d model.DeviceID
		e model.EventID
	}
	var all []de
	for _, d := range g.mappedDevices() {
		evs := make([]model.EventID, 0, len(g.events[d]))
		for e := range g.events[d] {
			evs = append(evs, e)
		}
		slices.Sort(evs)
		for _, e := range evs {
			all = append(all, de{d, e})
		}
	}
	if len(all) == 0 {
		return 0, 0, false
	}
	p := all[g.rng.IntN(len(all))]
	return p.d, p.e, true
}

func (g *generator) icid() model.ICID { return model.ICID(g.rng.IntN(g.cpus)) }
func (g *generator) cpu() model.CPU   { return model.CPU(g.rng.IntN(g.cpus)) }

func (g *generator) step() {
	if g.p.GICv4 && g.rng.IntN(2) == 0 {
		g.vstep()
		return
	}
	if g.several() && g.rng.IntN(6) == 0 {
		g.itsStep()
		return
	}
	switch k := g.rng.IntN(100); {
	case k < 10: // map a device
		d := model.DeviceID(genFirstDev + g.rng.IntN(genDevices))
		if _, ok := g.events[d]; ok {
			g.remap(d)
			return
		}
		g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPD{DeviceID: d, Size: genITTBits - 1, Valid: true}, AutoITT: true})
		g.events[d] = map[model.EventID]model.INTID{}
	case k < 28:
		g.mapEvent()
	case k < 52:
		g.msi()
	case k < 57:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.INT{DeviceID: d, EventID: e})
		}
	case k < 64:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.MOVI{DeviceID: d, EventID: e, ICID: g.icid()})
		}
	case k < 68:
		g.discard()
	case k < 71:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.CLEAR{DeviceID: d, EventID: e})
		}
	case k < 75:
		g.cmd(model.MAPC{ICID: g.icid(), RDbase: uint64(g.cpu()), Valid: true})
	case k < 79:
		g.toggle()
	case k < 83 && g.p.MOVALL:
		g.cmd(model.MOVALL{RDbase1: uint64(g.cpu()), RDbase2: uint64(g.cpu())})
	case k < 89 && g.p.Errors:
		g.failing()
	default: // acknowledge and EOI
		c := g.cpu()
		g.emit(&script.AckStmt{At: g.at(), CPU: c})
		g.emit(&script.EOIStmt{At: g.at(), CPU: c})
	}
}

// mapEvent maps a free event of a mapped device to a free INTID, or, in
// a several-ITS stream, sometimes to one another ITS maps (takeLPI).
func (g *generator) mapEvent() {
	devs := g.mappedDevices()
	if len(devs) == 0 || len(g.free) == 0 && !g.several() {
		return
	}
	d := devs[g.rng.IntN(len(devs))]
	e := model.EventID(g.rng.IntN(genEvents))
	if _, ok := g.events[d][e]; ok {
		return
	}
	if _, ok := g.v.events[d][e]; ok { // a GICv4 stream's virtual event
		return
	}
	lpi, ok := g.takeLPI()
	if !ok {
		return
	}
	g.events[d][e] = lpi
	g.cmd(model.MAPTI{DeviceID: d, EventID: e, INTID: lpi, ICID: g.icid()})
}

// msi signals an MSI, sometimes to an event that is not mapped.
func (g *generator) msi() {
	d := model.DeviceID(genFirstDev + g.rng.IntN(genDevices))
	e := model.EventID(g.rng.IntN(genEvents))
	if g.rng.IntN(4) != 0 {
		if dd, ee, ok := g.mappedEvent(); ok {
			d, e = dd, ee
		}
	}
	g.emit(&script.MSIStmt{At: g.at(), Dev: d, Ev: e})
}

// discard discards a mapped event, CLEARing it first unless the profile
// meets discard-pending.
func (g *generator) discard() {
	d, e, ok := g.mappedEvent()
	if !ok {
		return
	}
	if !g.p.DiscardPending || g.rng.IntN(2) == 0 {
		g.cmd(model.CLEAR{DeviceID: d, EventID: e})
	}
	g.cmd(model.DISCARD{DeviceID: d, EventID: e})
	g.release(g.events[d][e])
	delete(g.events[d], e)
}

// toggle flips a mapped LPI's enable bit and makes it visible with INV or
// INVALL.
func (g *generator) toggle() {
	d, e, ok := g.mappedEvent()
	if !ok {
		return
	}
	lpi := g.events[d][e]
	g.emit(&script.LPIStmt{At: g.at(), First: lpi, Last: lpi, Config: model.MakeLPIConfig(g.prio[lpi], g.rng.IntN(2) == 0)})
	if g.rng.IntN(2) == 0 {
		g.cmd(model.INV{DeviceID: d, EventID: e})
	} else {
		g.cmd(model.INVALL{ICID: g.icid()})
	}
}

// remap clears every event of d (unless the profile meets
// discard-pending), then re-maps (V=1) or unmaps (V=0) it.
func (g *generator) remap(d model.DeviceID) {
	evs := make([]model.EventID, 0, len(g.events[d]))
	for e := range g.events[d] {
		evs = append(evs, e)
	}
	slices.Sort(evs)
	clearFirst := !g.p.DiscardPending || g.rng.IntN(2) == 0
	for _, e := range evs {
		if clearFirst {
			g.cmd(model.CLEAR{DeviceID: d, EventID: e})
		}
		g.release(g.events[d][e])
	}
	g.forgetVirtualEvents(d)
	if g.rng.IntN(2) == 0 {
		g.cmd(model.MAPD{DeviceID: d})
		delete(g.events, d)
		return
	}
	g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPD{DeviceID: d, Size: genITTBits - 1, Valid: true}, AutoITT: true})
	g.events[d] = map[model.EventID]model.INTID{}
}

// takeLPI takes an INTID for a new mapping on the addressed ITS: a free
// one, or, in a several-ITS stream, one in three times (when there is
// one) an INTID another ITS maps and this one does not, which makes it
// one LPI shared by two ITSes.
func (g *generator) takeLPI() (model.INTID, bool) {
	if g.several() && g.rng.IntN(3) == 0 {
		if shared := g.shareable(); len(shared) > 0 {
			lpi := shared[g.rng.IntN(len(shared))]
			g.refs[lpi]++
			return lpi, true
		}
	}
	if len(g.free) == 0 {
		return 0, false
	}
	i := g.rng.IntN(len(g.free))
	lpi := g.free[i]
	g.free = slices.Delete(g.free, i, i+1)
	g.refs[lpi]++
	return lpi, true
}

// release drops a mapping of lpi; the INTID is free again when no event
// of any ITS maps it.
func (g *generator) release(lpi model.INTID) {
	if g.refs[lpi]--; g.refs[lpi] <= 0 {
		delete(g.refs, lpi)
		g.free = append(g.free, lpi)
	}
}
