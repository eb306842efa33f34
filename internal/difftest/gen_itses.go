package difftest

import (
	"maps"
	"slices"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// The several-ITS part of a generated stream, with [Profile.ITSes]
// (docs/language.md, "Several ITSes"). Each ITS has its own DeviceID and
// ICID namespaces, so the generator keeps every ITS's events apart and
// the same DeviceIDs (genFirstDev..) and ICIDs (0..cpus-1) are used on
// each; the LPIs are shared: an INTID is free when no event of any ITS
// maps it, and takeLPI sometimes maps, on the addressed ITS, an INTID
// another ITS maps (one LPI, two ITEs). Within one ITS an INTID is still
// mapped by one event at most, as in a one-ITS stream.
//
// The same [Profile] rules as in a one-ITS stream (CLEAR before DISCARD
// or re-MAPD unless DiscardPending, MOVALL only with MOVALL, priorities as
// EqualPriority says) hold on every ITS; the ITS reset that a restore in
// place is (KVM: KVM_DEV_ARM_ITS_CTRL_RESET, then the tables) removes the
// ITS's mappings as a re-MAPD does, so it CLEARs them first under the
// same rule (discard-pending). One thing more is avoided: restoring an
// ITS from tables that commands changed after its last save. While an
// ITS is enabled the contents of its tables are IMPLEMENTATION DEFINED
// (IHI 0069; its/its.go writeBack): the simulator writes every command's entry through,
// KVM writes only DISCARD's and MAPD V=0's zero entries (catalogued as
// its-writes-tables, docs/fidelity.md) and the rest at a save, so such a
// restore shows that choice and nothing else. A restore in place
// therefore follows a save of that ITS with no table-changing command of
// that ITS in between (MSIs, acknowledges, CLEAR, INT, INV, MOVALL and
// the other ITSes' commands may come between), and a migration saves
// every ITS whose tables are stale first, as a VMM does; the ITSes then
// hold after a restore what they held before it. Shared LPIs keep
// whatever target their first mapping gave them; the streams neither
// avoid nor force a second mapping through a collection on another CPU.

// genMaxITSes is the most ITSes a generated stream has.
const genMaxITSes = 4

// several reports whether the stream is for several ITSes.
func (g *generator) several() bool { return g.p.ITSes >= 2 }

// itsesSettings emits the itses setting and makes room for every ITS's
// events.
func (g *generator) itsesSettings() {
	if g.p.GICv4 {
		panic("difftest: a stream for several ITSes and GICv4.0 together is not generated")
	}
	if g.p.ITSes > genMaxITSes {
		panic("difftest: Profile.ITSes beyond 4")
	}
	g.emit(&script.ITSesStmt{At: g.at(), N: g.p.ITSes})
	for range g.p.ITSes - 1 {
		g.itsEvents = append(g.itsEvents, map[model.DeviceID]map[model.EventID]model.INTID{})
	}
	g.dirty = make([]bool, g.p.ITSes)
	for i := range g.dirty {
		g.dirty[i] = true // never saved
	}
}

// itsesSetUp maps, on ITSes 1 and up, every ICID below the CPU count, as
// ITS 0's set-up does, but ICID c of ITS i to CPU (c+i) mod cpus: the same
// ICID names another redistributor on each ITS.
func (g *generator) itsesSetUp() {
	for i := 1; i < g.p.ITSes; i++ {
		g.address(i)
		for c := range g.cpus {
			g.cmd(model.MAPC{ICID: model.ICID(c), RDbase: uint64((c + i) % g.cpus), Valid: true})
		}
	}
	g.address(0)
}

// address makes the statements after it address ITS i, emitting its I
// when that changes which ITS they address.
func (g *generator) address(i int) {
	if i == g.its {
		return
	}
	g.emit(&script.ITSStmt{At: g.at(), N: i})
	g.its = i
	g.events = g.itsEvents[i]
}

// itsStep takes one several-ITS action: addressing another ITS, a shared
// mapping, saving the addressed ITS's tables, restoring them in place, or
// a migration.
func (g *generator) itsStep() {
	switch k := g.rng.IntN(20); {
	case k < 10:
		g.address((g.its + 1 + g.rng.IntN(g.p.ITSes-1)) % g.p.ITSes)
	case k < 13:
		g.mapShared()
	case k < 16:
		g.save()
	case k < 18:
		g.restoreInPlace()
	default:
		g.migrate()
	}
}

// mapShared maps a free event of a device of the addressed ITS to an
// INTID another ITS maps, when there is one.
func (g *generator) mapShared() {
	shared := g.shareable()
	devs := g.mappedDevices()
	if len(shared) == 0 || len(devs) == 0 {
		return
	}
	d := devs[g.rng.IntN(len(devs))]
	e := model.EventID(g.rng.IntN(genEvents))
	if _, ok := g.events[d][e]; ok {
		return
	}
	lpi := shared[g.rng.IntN(len(shared))]
	g.refs[lpi]++
	g.events[d][e] = lpi
	g.cmd(model.MAPTI{DeviceID: d, EventID: e, INTID: lpi, ICID: g.icid()})
}

// shareable returns, in order, the INTIDs some ITS maps and the addressed
// one does not.
func (g *generator) shareable() []model.INTID {
	here := map[model.INTID]bool{}
	for _, evs := range g.events {
		for _, lpi := range evs {
			here[lpi] = true
		}
	}
	var out []model.INTID
	for lpi := range g.refs {
		if !here[lpi] {
			out = append(out, lpi)
		}
	}
	slices.Sort(out)
	return out
}

// save saves the addressed ITS's tables: from now on they hold what the
// ITS holds, until a command changes them.
func (g *generator) save() {
	g.emit(&script.SaveStmt{At: g.at()})
	g.dirty[g.its] = false
}

// noteTableChange marks the addressed ITS's tables stale when st is a
// command that changes them (failing or not).
func (g *generator) noteTableChange(st script.Stmt) {
	c, ok := st.(*script.CommandStmt)
	if !ok {
		return
	}
	switch c.Cmd.(type) {
	case model.MAPD, model.MAPC, model.MAPTI, model.MAPI, model.MOVI, model.DISCARD:
		g.dirty[g.its] = true
	}
}

// restoreInPlace restores the addressed ITS's tables when they hold what
// the ITS holds, and saves them otherwise (a later step may restore
// them). The ITS's events are CLEARed first unless the profile meets
// discard-pending: the restore resets the ITS, removing their ITEs,
// pending or not, and then maps the same INTIDs again.
func (g *generator) restoreInPlace() {
	if g.dirty[g.its] {
		g.save()
		return
	}
	if !g.p.DiscardPending || g.rng.IntN(2) == 0 {
		for _, d := range g.mappedDevices() {
			for _, e := range slices.Sorted(maps.Keys(g.events[d])) {
				g.cmd(model.CLEAR{DeviceID: d, EventID: e})
			}
		}
	}
	g.emit(&script.RestoreStmt{At: g.at(), InPlace: true})
}

// migrate saves every ITS whose tables are stale and, one in two, the
// others, then restores every ITS into a fresh backend (a migration).
func (g *generator) migrate() {
	back := g.its
	for i := range g.p.ITSes {
		if g.dirty[i] || g.rng.IntN(2) == 0 {
			g.address(i)
			g.save()
		}
	}
	g.address(back)
	g.emit(&script.RestoreStmt{At: g.at()})
}
