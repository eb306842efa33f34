package difftest

import (
	"slices"

	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// The GICv4.0 part of a generated stream, with [Profile.GICv4]. Its
// tables are in the RAM above the default layout's 64 MiB that `ram
// mib=128` frees, where the v4-*.its scenarios keep theirs: vPE v's
// virtual pending table at GenVPT(v), one vLPI configuration table for
// every vPE, and the vPE table.
const (
	genVPEs      = 3                       // vPEIDs 1..3
	genVINTIDs   = 16                      // vINTIDs 8192..8207
	genVPTBase   = model.GPA(0x4400_0000)  // vPE v's VPT at genVPTBase + v*64 KiB
	genVProp     = model.GPA(0x4410_0000)  // the vLPI configuration table
	genVPETable  = model.GPA(0x4500_0000)  // GITS_BASER2's table
	genVMAPIDev  = model.DeviceID(0x30)    // a device with 14 EventID bits, for VMAPI (vINTID = EventID)
	genDoorbell0 = model.LPIBase + genLPIs // doorbells: two physical LPIs no event maps
	genVPTBytes  = 1 << 16 / 8             // a VPT of 16 vINTID bits
	genVPTSize   = 15                      // VPT_size: 16 bits
	genVMAPIBits = 14                      // EventID bits of genVMAPIDev
	genMiB       = 128                     // the stream's RAM
	genVPrio     = uint8(0xa0)             // the first vLPI priority
	genDBPrio    = uint8(0x04)             // the doorbells' priority
	genVPTStride = model.GPA(64 << 10)     // VPTs are 64 KiB aligned
	genNoVPE     = model.VPEID(0)          // no vPE resident
	genVFirst    = model.LPIBase           // the first vINTID
)

// GenVPT returns the address of vPE v's virtual pending table in a GICv4
// stream.
func GenVPT(v model.VPEID) model.GPA { return genVPTBase + model.GPA(v)*genVPTStride }

// vstate is what a GICv4 stream has mapped and scheduled.
type vstate struct {
	vpes     map[model.VPEID]model.CPU // mapped vPEs and their redistributors
	resident map[model.CPU]model.VPEID
	// events maps a device's virtual events to their vPE and vINTID; a
	// vINTID is mapped by at most one event of its vPE.
	events map[model.DeviceID]map[model.EventID]vevent
	vprio  map[model.INTID]uint8
}

type vevent struct {
	vpe    model.VPEID
	vintid model.INTID
}

// gicv4Settings emits the settings of a GICv4 stream.
func (g *generator) gicv4Settings() {
	g.emit(&script.GICv4Stmt{At: g.at()})
	g.emit(&script.RAMStmt{At: g.at(), MiB: genMiB})
	g.emit(&script.VPETableStmt{At: g.at(), Addr: genVPETable})
}

// gicv4SetUp emits, after the physical set-up, the doorbells' LPI
// configuration, the vLPI configuration table and the VMAPI device.
func (g *generator) gicv4SetUp() {
	g.v = vstate{
		vpes:     map[model.VPEID]model.CPU{},
		resident: map[model.CPU]model.VPEID{},
		events:   map[model.DeviceID]map[model.EventID]vevent{},
		vprio:    map[model.INTID]uint8{},
	}
	g.emit(&script.LPIStmt{At: g.at(), First: genDoorbell0, Last: genDoorbell0 + 1, Config: model.MakeLPIConfig(genDBPrio, true)})
	for i := range model.INTID(genVINTIDs) {
		id := genVFirst + i
		g.v.vprio[id] = genVPrio - 8*uint8(i%4)
		g.emit(&script.VLPIStmt{At: g.at(), First: id, Last: id, Table: genVProp, Config: model.MakeLPIConfig(g.v.vprio[id], true)})
	}
	g.emit(&script.CommandStmt{At: g.at(), Cmd: model.MAPD{DeviceID: genVMAPIDev, Size: genVMAPIBits - 1, Valid: true}, AutoITT: true})
}

// doorbell returns no doorbell or one of the two.
func (g *generator) doorbell() model.INTID {
	if k := g.rng.IntN(3); k < 2 {
		return genDoorbell0 + model.INTID(k)
	}
	return model.NoDoorbell
}

func (g *generator) mappedVPEs() []model.VPEID {
	var out []model.VPEID
	for v := range g.v.vpes {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// mappedVPE picks a mapped vPE, if there is one.
func (g *generator) mappedVPE() (model.VPEID, bool) {
	vs := g.mappedVPEs()
	if len(vs) == 0 {
		return 0, false
	}
	return vs[g.rng.IntN(len(vs))], true
}

// residentCPU returns the CPU vpe is scheduled on, if any.
func (g *generator) residentCPU(vpe model.VPEID) (model.CPU, bool) {
	for c, v := range g.v.resident {
		if v == vpe {
			return c, true
		}
	}
	return 0, false
}

// vintidUsed reports whether an event maps vPE vpe's vINTID id.
func (g *generator) vintidUsed(vpe model.VPEID, id model.INTID) bool {
	for _, evs := range g.v.events {
		for _, e := range evs {
			if e.vpe == vpe && e.vintid == id {
				return true
			}
		}
	}
	return false
}

func (g *generator) vpeHasEvents(vpe model.VPEID) bool {
	for _, evs := range g.v.events {
		for _, e := range evs {
			if e.vpe == vpe {
				return true
			}
		}
	}
	return false
}

// freeVINTID picks a vINTID of vpe no event maps, if there is one.
func (g *generator) freeVINTID(vpe model.VPEID) (model.INTID, bool) {
	id := genVFirst + model.INTID(g.rng.IntN(genVINTIDs))
	return id, !g.vintidUsed(vpe, id)
}

// virtualEvent picks a virtual event, if there is one.
func (g *generator) virtualEvent() (model.DeviceID, model.EventID, vevent, bool) {
	var devs []model.DeviceID
	for d, evs := range g.v.events {
		if len(evs) > 0 {
			devs = append(devs, d)
		}
	}
	if len(devs) == 0 {
		return 0, 0, vevent{}, false
	}
	slices.Sort(devs)
	d := devs[g.rng.IntN(len(devs))]
	var evs []model.EventID
	for e := range g.v.events[d] {
		evs = append(evs, e)
	}
	slices.Sort(evs)
	e := evs[g.rng.IntN(len(evs))]
	return d, e, g.v.events[d][e], true
}

func (g *generator) addVirtualEvent(d model.DeviceID, e model.EventID, ve vevent) {
	if g.v.events[d] == nil {
		g.v.events[d] = map[model.EventID]vevent{}
	}
	g.v.events[d][e] = ve
}

// forgetVirtualEvents drops d's virtual events: a MAPD unmaps or
// re-maps d.
func (g *generator) forgetVirtualEvents(d model.DeviceID) { delete(g.v.events, d) }

// vstep emits one GICv4 action, each of them valid on a backend that
// follows the architecture: a vPE is unmapped only without events and
// when not scheduled, moved (VMOVP) only when not scheduled, scheduled
// only on its own redistributor and on one CPU at a time.
func (g *generator) vstep() {
	switch k := g.rng.IntN(100); {
	case k < 10:
		g.vmapp()
	case k < 22:
		g.vmapti()
	case k < 26:
		g.vmapi()
	case k < 31:
		g.vmovi()
	case k < 34:
		g.vmovp()
	case k < 37:
		if v, ok := g.mappedVPE(); ok {
			g.cmd(model.VSYNC{VPEID: v})
		}
	case k < 42:
		g.vtoggle()
	case k < 47:
		if d, e, _, ok := g.virtualEvent(); ok {
			g.cmd([]model.Command{model.INT{DeviceID: d, EventID: e}, model.CLEAR{DeviceID: d, EventID: e}}[g.rng.IntN(2)])
		}
	case k < 50:
		if d, e, _, ok := g.virtualEvent(); ok {
			g.cmd(model.DISCARD{DeviceID: d, EventID: e})
			delete(g.v.events[d], e)
		}
	case k < 68:
		if d, e, _, ok := g.virtualEvent(); ok {
			g.emit(&script.MSIStmt{At: g.at(), Dev: d, Ev: e})
		}
	case k < 78:
		g.vschedule()
	case k < 84:
		if c, ok := g.residentCPUs(); ok {
			g.emit(&script.VDescheduleStmt{At: g.at(), CPU: c})
			delete(g.v.resident, c)
		}
	case k < 86:
		if c, ok := g.residentCPUs(); ok {
			g.emit(&script.VPMRStmt{At: g.at(), CPU: c, Value: []uint8{0xff, 0x9c, 0xa0}[g.rng.IntN(3)]})
		}
	default:
		if c, ok := g.residentCPUs(); ok {
			g.emit(&script.VAckStmt{At: g.at(), CPU: c})
			g.emit(&script.VEOIStmt{At: g.at(), CPU: c})
		}
	}
}

// residentCPUs picks a CPU with a vPE scheduled, if there is one.
func (g *generator) residentCPUs() (model.CPU, bool) {
	var cs []model.CPU
	for c := range g.v.resident {
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return 0, false
	}
	slices.Sort(cs)
	return cs[g.rng.IntN(len(cs))], true
}

// vmapp maps an unmapped vPE, or unmaps one that has no events and is
// not scheduled.
func (g *generator) vmapp() {
	v := model.VPEID(1 + g.rng.IntN(genVPEs))
	if _, mapped := g.v.vpes[v]; !mapped {
		c := g.cpu()
		g.cmd(model.VMAPP{VPEID: v, RDbase: uint64(c), VPTAddr: GenVPT(v), VPTSize: genVPTSize, Valid: true})
		g.v.vpes[v] = c
		return
	}
	if _, res := g.residentCPU(v); res || g.vpeHasEvents(v) {
		return
	}
	g.cmd(model.VMAPP{VPEID: v})
	delete(g.v.vpes, v)
}

// vmapti maps a free event of a mapped device to a free vINTID of a
// mapped vPE.
func (g *generator) vmapti() {
	devs := g.mappedDevices()
	v, ok := g.mappedVPE()
	if len(devs) == 0 || !ok {
		return
	}
	d := devs[g.rng.IntN(len(devs))]
	e := model.EventID(g.rng.IntN(genEvents))
	if _, phys := g.events[d][e]; phys {
		return
	}
	if _, virt := g.v.events[d][e]; virt {
		return
	}
	id, ok := g.freeVINTID(v)
	if !ok {
		return
	}
	g.cmd(model.VMAPTI{DeviceID: d, EventID: e, VINTID: id, VPEID: v, Doorbell: g.doorbell()})
	g.addVirtualEvent(d, e, vevent{v, id})
}

// vmapi maps the event of genVMAPIDev that is a free vINTID of a mapped
// vPE.
func (g *generator) vmapi() {
	v, ok := g.mappedVPE()
	if !ok {
		return
	}
	id, ok := g.freeVINTID(v)
	if _, used := g.v.events[genVMAPIDev][model.EventID(id)]; !ok || used {
		return
	}
	g.cmd(model.VMAPI{DeviceID: genVMAPIDev, EventID: model.EventID(id), VPEID: v, Doorbell: g.doorbell()})
	g.addVirtualEvent(genVMAPIDev, model.EventID(id), vevent{v, id})
}

// vmovi moves a virtual event to a mapped vPE where its vINTID is free.
func (g *generator) vmovi() {
	d, e, ve, ok := g.virtualEvent()
	to, ok2 := g.mappedVPE()
	if !ok || !ok2 || to == ve.vpe || g.vintidUsed(to, ve.vintid) {
		return
	}
	// D=1 changes the event's doorbell; D=0 keeps it (the language prints
	// db= exactly when D is 1).
	c := model.VMOVI{DeviceID: d, EventID: e, VPEID: to}
	if g.rng.IntN(2) == 0 {
		c.D, c.Doorbell = true, g.doorbell()
	}
	g.cmd(c)
	g.v.events[d][e] = vevent{to, ve.vintid}
}

// vmovp moves a mapped vPE that is not scheduled to another
// redistributor.
func (g *generator) vmovp() {
	v, ok := g.mappedVPE()
	if !ok {
		return
	}
	if _, res := g.residentCPU(v); res {
		return
	}
	c := g.cpu()
	g.cmd(model.VMOVP{VPEID: v, RDbase: uint64(c)})
	g.v.vpes[v] = c
}

// vschedule schedules a mapped vPE that is not scheduled on its
// redistributor, if no vPE is scheduled there.
func (g *generator) vschedule() {
	v, ok := g.mappedVPE()
	if !ok {
		return
	}
	c := g.v.vpes[v]
	if _, res := g.residentCPU(v); res || g.v.resident[c] != genNoVPE {
		return
	}
	g.emit(&script.VScheduleStmt{At: g.at(), CPU: c, VPT: GenVPT(v), VProp: genVProp, Bits: genVPTSize + 1, IDAI: g.rng.IntN(4) == 0})
	g.v.resident[c] = v
}

// vtoggle flips a vLPI's enable bit in the configuration table and makes
// it visible with INV (on an event mapping it) or VINVALL.
func (g *generator) vtoggle() {
	d, e, ve, ok := g.virtualEvent()
	if !ok {
		return
	}
	g.emit(&script.VLPIStmt{At: g.at(), First: ve.vintid, Last: ve.vintid, Table: genVProp, Config: model.MakeLPIConfig(g.v.vprio[ve.vintid], g.rng.IntN(2) == 0)})
	if g.rng.IntN(2) == 0 {
		g.cmd(model.INV{DeviceID: d, EventID: e})
	} else {
		g.cmd(model.VINVALL{VPEID: ve.vpe})
	}
}
