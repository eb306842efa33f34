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
	genLPIs     = 31 // INTIDs 8192..8222, each with its own priority (genPriority)
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

// Generate returns a random valid stream of n actions, reproducible from
// seed: mapping and re-mapping devices, mapping, moving, discarding and
// clearing events, retargeting collections, toggling LPI configuration with
// INV or INVALL, injecting MSIs and INTs, and acknowledging.
//
// Valid means that no command fails on any backend that follows the
// architecture, and that the stream stays clear of the behaviours where KVM
// knowingly differs (backend/kvm.Differences): every LPI has its own
// priority, distinct in the 5 bits a virtual CPU interface implements
// (ack-equal-priority, priority-bits), an event is CLEARed before it is DISCARDed
// or its device re-mapped (discard-pending), there is no MOVALL (movall),
// and the tables are saved once, at the end (its-writes-tables). The
// statements after the set-up carry line numbers as if printed.
func Generate(seed uint64, n int) *script.Script {
	g := &generator{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		s:      script.Script{File: generatedFile},
		events: map[model.DeviceID]map[model.EventID]model.INTID{},
	}
	g.cpus = 2 + g.rng.IntN(genMaxCPUs-1)
	g.emit(&script.CPUsStmt{At: g.at(), N: g.cpus})
	for i := range genLPIs {
		g.emit(&script.LPIStmt{At: g.at(), First: model.LPIBase + model.INTID(i), Last: model.LPIBase + model.INTID(i), Config: model.MakeLPIConfig(genPriority(i), true)})
		g.free = append(g.free, model.LPIBase+model.INTID(i))
	}
	g.emit(&script.EnableLPIsStmt{At: g.at(), All: true})
	for c := range g.cpus {
		g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPC{ICID: model.ICID(c), RDbase: uint64(c), Valid: true}})
	}
	for len(g.s.Stmts) < n+genLPIs+2+g.cpus {
		g.step()
	}
	g.emit(&script.SaveStmt{At: g.at()})
	return &g.s
}

// genPriority returns the priority of the generator's i-th LPI: 0x00,
// 0x08, ... 0xf0, all distinct in bits [7:3], the 5 priority bits KVM's
// virtual CPU interface implements (backend/kvm.Differences
// "priority-bits"), so that no two generated LPIs are of equal priority on
// any backend, and all below the default priority mask 0xFF as a 5-bit
// CPU interface holds it (0xF8).
func genPriority(i int) uint8 { return uint8(8 * i) }

type generator struct {
	rng    *rand.Rand
	s      script.Script
	cpus   int
	events map[model.DeviceID]map[model.EventID]model.INTID // mapped devices and their events
	free   []model.INTID
}

// at is the position of the next statement emitted, as if the stream were
// printed: the statement built with it must be the next one emitted.
func (g *generator) at() script.At {
	return script.At{Pos: script.Pos{File: generatedFile, Line: len(g.s.Stmts) + 1}}
}

func (g *generator) emit(st script.Stmt) { g.s.Stmts = append(g.s.Stmts, st) }

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
	switch k := g.rng.IntN(100); {
	case k < 10: // map a device
		d := model.DeviceID(genFirstDev + g.rng.IntN(genDevices))
		if _, ok := g.events[d]; ok {
			g.remap(d)
			return
		}
		g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPD{DeviceID: d, Size: genITTBits - 1, Valid: true}, AutoITT: true})
		g.events[d] = map[model.EventID]model.INTID{}
	case k < 30: // map an event
		devs := g.mappedDevices()
		if len(devs) == 0 || len(g.free) == 0 {
			return
		}
		d := devs[g.rng.IntN(len(devs))]
		e := model.EventID(g.rng.IntN(genEvents))
		if _, ok := g.events[d][e]; ok {
			return
		}
		i := g.rng.IntN(len(g.free))
		lpi := g.free[i]
		g.free = slices.Delete(g.free, i, i+1)
		g.events[d][e] = lpi
		g.cmd(model.MAPTI{DeviceID: d, EventID: e, INTID: lpi, ICID: g.icid()})
	case k < 55: // an MSI, sometimes to an event that is not mapped
		d := model.DeviceID(genFirstDev + g.rng.IntN(genDevices))
		e := model.EventID(g.rng.IntN(genEvents))
		if g.rng.IntN(4) != 0 {
			if dd, ee, ok := g.mappedEvent(); ok {
				d, e = dd, ee
			}
		}
		g.emit(&script.MSIStmt{At: g.at(), Dev: d, Ev: e})
	case k < 60:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.INT{DeviceID: d, EventID: e})
		}
	case k < 67:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.MOVI{DeviceID: d, EventID: e, ICID: g.icid()})
		}
	case k < 71:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.CLEAR{DeviceID: d, EventID: e})
			g.cmd(model.DISCARD{DeviceID: d, EventID: e})
			g.free = append(g.free, g.events[d][e])
			delete(g.events[d], e)
		}
	case k < 74:
		if d, e, ok := g.mappedEvent(); ok {
			g.cmd(model.CLEAR{DeviceID: d, EventID: e})
		}
	case k < 78:
		g.cmd(model.MAPC{ICID: g.icid(), RDbase: uint64(g.cpu()), Valid: true})
	case k < 82: // toggle an LPI's enable and make it visible
		if d, e, ok := g.mappedEvent(); ok {
			lpi := g.events[d][e]
			i := int(lpi - model.LPIBase)
			g.emit(&script.LPIStmt{At: g.at(), First: lpi, Last: lpi, Config: model.MakeLPIConfig(genPriority(i), g.rng.IntN(2) == 0)})
			if g.rng.IntN(2) == 0 {
				g.cmd(model.INV{DeviceID: d, EventID: e})
			} else {
				g.cmd(model.INVALL{ICID: g.icid()})
			}
		}
	default: // acknowledge and EOI
		c := g.cpu()
		g.emit(&script.AckStmt{At: g.at(), CPU: c})
		g.emit(&script.EOIStmt{At: g.at(), CPU: c})
	}
}

// remap clears every event of d, then re-maps (V=1) or unmaps (V=0) it.
func (g *generator) remap(d model.DeviceID) {
	evs := make([]model.EventID, 0, len(g.events[d]))
	for e := range g.events[d] {
		evs = append(evs, e)
	}
	slices.Sort(evs)
	for _, e := range evs {
		g.cmd(model.CLEAR{DeviceID: d, EventID: e})
		g.free = append(g.free, g.events[d][e])
	}
	if g.rng.IntN(2) == 0 {
		g.cmd(model.MAPD{DeviceID: d})
		delete(g.events, d)
		return
	}
	g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPD{DeviceID: d, Size: genITTBits - 1, Valid: true}, AutoITT: true})
	g.events[d] = map[model.EventID]model.INTID{}
}
