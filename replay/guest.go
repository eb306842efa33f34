package replay

import (
	"fmt"
	"maps"
	"slices"

	"github.com/gicits/gicits/model"
)

// Guest is what the guest did to its ITS and redistributors, as a trace
// shows it: the registers it wrote, the devices, events and collections
// its commands mapped. It is built by applying a trace's records in order
// ([Guest.Apply]) and touches no backend; [Run] keeps one next to the
// backend it drives, and a checker of the guest's driver can keep its own.
//
// It records what the guest asked for, not whether QEMU accepted it: a
// command QEMU refused (the table writes that would follow it are missing)
// is applied all the same.
type Guest struct {
	// CPUs is the number of CPUs, as [CPUs] infers it.
	CPUs int
	// ITS holds the ITS registers as the guest last wrote (or read) them.
	ITS ITSRegisters
	// Redistributors holds each CPU's redistributor registers, by
	// processor number.
	Redistributors []Redistributor
	// Devices are the mapped devices, by DeviceID.
	Devices map[model.DeviceID]*Device
	// Collections are the mapped collections, by ICID.
	Collections map[model.ICID]*Collection

	// lastICID is the collection the last command named, for inferring
	// the target of a SYNC or an INVALL.
	lastICID  model.ICID
	lastValid bool
	affinity  map[uint32]model.CPU
}

// ITSRegisters are the ITS registers a guest programs, 64 bits each.
type ITSRegisters struct {
	CTLR, TYPER, CBASER, CWRITER uint64
	BASER                        [8]uint64
	// Lines are where each register was last written (or, for TYPER,
	// read), by offset; 0 when it was not.
	Lines map[model.ITSRegister]int
}

// Enabled reports GITS_CTLR.Enabled.
func (r ITSRegisters) Enabled() bool { return r.CTLR&model.GITS_CTLR_Enabled != 0 }

// Redistributor holds the registers of one redistributor a guest
// programs.
type Redistributor struct {
	CTLR, PROPBASER, PENDBASER uint64
	// Lines are where each register was last written, by offset.
	Lines map[model.GICRRegister]int
}

// LPIsEnabled reports GICR_CTLR.EnableLPIs.
func (r Redistributor) LPIsEnabled() bool { return r.CTLR&model.GICR_CTLR_EnableLPIs != 0 }

// Device is a device the guest mapped with MAPD.
type Device struct {
	ID model.DeviceID
	// EventIDBits is MAPD's Size + 1.
	EventIDBits int
	// ITT is the guest physical address of its ITT.
	ITT model.GPA
	// Line is the MAPD's line.
	Line int
	// Events are its mapped events.
	Events map[model.EventID]*Mapping
}

// Mapping is an event the guest mapped with MAPTI or MAPI.
type Mapping struct {
	EventID model.EventID
	INTID   model.INTID
	ICID    model.ICID
	// Line is the line of the command that mapped it or last moved it.
	Line int
}

// Collection is a collection the guest mapped with MAPC.
type Collection struct {
	ICID model.ICID
	CPU  model.CPU
	Line int
}

// NewGuest returns the guest of tr before its first record: CPUs from
// [CPUs], every register zero, nothing mapped. Its affinity-to-CPU map is
// learnt from tr's GICR_TYPER reads.
func NewGuest(tr *Trace) *Guest {
	n, _ := CPUs(tr)
	g := &Guest{
		CPUs:           n,
		ITS:            ITSRegisters{Lines: map[model.ITSRegister]int{}},
		Redistributors: make([]Redistributor, n),
		Devices:        map[model.DeviceID]*Device{},
		Collections:    map[model.ICID]*Collection{},
		affinity:       affinities(tr),
	}
	for i := range g.Redistributors {
		g.Redistributors[i].Lines = map[model.GICRRegister]int{}
	}
	return g
}

// affinities returns what GICR_TYPER reads say: each redistributor's
// affinity and processor number.
func affinities(tr *Trace) map[uint32]model.CPU {
	m := map[uint32]model.CPU{}
	for _, r := range tr.Records {
		if e, ok := r.Event.(RedistRead); ok && e.Offset == uint64(model.GICR_TYPER) && e.Size == 8 {
			m[uint32(e.Data>>32)] = model.CPU(e.Data >> 8 & 0xFFFF)
		}
	}
	return m
}

// CPUOf returns the processor number of the CPU whose redistributor has
// affinity aff, as QEMU's redistributor and CPU-interface events name it:
// what the trace's GICR_TYPER reads say, else QEMU's virt machine's
// numbering with GICv3 (as KVM's: Aff0 = n % 16, Aff1 = n / 16 % 256,
// Aff2 = n / 4096), and false when aff is not of that form.
func (g *Guest) CPUOf(aff uint32) (model.CPU, bool) {
	if cpu, ok := g.affinity[aff]; ok {
		return cpu, true
	}
	return cpuOfAffinity(aff)
}

func cpuOfAffinity(aff uint32) (model.CPU, bool) {
	cpu := model.CPU(aff&0xFF | aff>>8&0xFF<<4 | aff>>16&0xFF<<12)
	return cpu, aff&0xFF < 16 && aff>>24 == 0 && model.Affinity(cpu) == aff
}

// Translate returns where the guest's mappings send event ev of device
// dev: its LPI and the CPU of its collection, or why they send it nowhere.
func (g *Guest) Translate(dev model.DeviceID, ev model.EventID) (model.INTID, model.CPU, error) {
	d := g.Devices[dev]
	if d == nil {
		return 0, 0, fmt.Errorf("device %#x is not mapped", uint32(dev))
	}
	m := d.Events[ev]
	if m == nil {
		return 0, 0, fmt.Errorf("event %d of device %#x is not mapped", ev, uint32(dev))
	}
	c := g.Collections[m.ICID]
	if c == nil {
		return m.INTID, 0, fmt.Errorf("collection %d of LPI %d is not mapped", m.ICID, m.INTID)
	}
	return m.INTID, c.CPU, nil
}

// LastCollection returns the collection the last command that names one
// named (MAPC, MAPTI, MAPI, MOVI's new one, or the collection of the event
// INT, CLEAR, DISCARD or INV named), and whether there is one.
func (g *Guest) LastCollection() (model.ICID, bool) { return g.lastICID, g.lastValid }

// MappedCollections returns the ICIDs of the mapped collections,
// ascending.
func (g *Guest) MappedCollections() []model.ICID {
	return slices.Sorted(maps.Keys(g.Collections))
}

// Apply applies one record: register writes (and GITS_TYPER reads) and
// commands change the guest; other events do not.
func (g *Guest) Apply(r Record) {
	switch e := r.Event.(type) {
	case ITSWrite:
		g.ITS.write(r.Line, e.Offset, e.Data, e.Size)
	case ITSRead:
		if e.Offset&^4 == uint64(model.GITS_TYPER) {
			deposit(&g.ITS.TYPER, uint64(model.GITS_TYPER), e.Offset, e.Size, e.Data)
			g.ITS.Lines[model.GITS_TYPER] = r.Line
		}
	case RedistWrite:
		if cpu, ok := g.CPUOf(e.Affinity); ok && int(cpu) < len(g.Redistributors) {
			g.Redistributors[cpu].write(r.Line, e.Offset, e.Data, e.Size)
		}
	default:
		g.command(r)
	}
}

// command applies a command record.
func (g *Guest) command(r Record) {
	switch e := r.Event.(type) {
	case CmdMAPD:
		delete(g.Devices, e.DeviceID)
		if e.Valid {
			g.Devices[e.DeviceID] = &Device{ID: e.DeviceID, EventIDBits: int(e.Size) + 1, ITT: e.ITT(), Line: r.Line, Events: map[model.EventID]*Mapping{}}
		}
	case CmdMAPC:
		delete(g.Collections, e.ICID)
		if e.Valid {
			g.Collections[e.ICID] = &Collection{ICID: e.ICID, CPU: model.CPU(e.RDbase), Line: r.Line}
		}
		g.named(e.ICID)
	case CmdMAPTI:
		g.mapEvent(r.Line, e.DeviceID, e.EventID, e.INTID, e.ICID)
	case CmdMAPI:
		g.mapEvent(r.Line, e.DeviceID, e.EventID, model.INTID(e.EventID), e.ICID)
	case CmdMOVI:
		if m := g.mapping(e.DeviceID, e.EventID); m != nil {
			m.ICID, m.Line = e.ICID, r.Line
		}
		g.named(e.ICID)
	case CmdDISCARD:
		g.namedEvent(e.DeviceID, e.EventID)
		if d := g.Devices[e.DeviceID]; d != nil {
			delete(d.Events, e.EventID)
		}
	case CmdINT:
		g.namedEvent(e.DeviceID, e.EventID)
	case CmdCLEAR:
		g.namedEvent(e.DeviceID, e.EventID)
	case CmdINV:
		g.namedEvent(e.DeviceID, e.EventID)
	}
}

func (g *Guest) mapEvent(line int, dev model.DeviceID, ev model.EventID, intid model.INTID, icid model.ICID) {
	if d := g.Devices[dev]; d != nil {
		d.Events[ev] = &Mapping{EventID: ev, INTID: intid, ICID: icid, Line: line}
	}
	g.named(icid)
}

func (g *Guest) mapping(dev model.DeviceID, ev model.EventID) *Mapping {
	if d := g.Devices[dev]; d != nil {
		return d.Events[ev]
	}
	return nil
}

func (g *Guest) named(icid model.ICID) { g.lastICID, g.lastValid = icid, true }

func (g *Guest) namedEvent(dev model.DeviceID, ev model.EventID) {
	if m := g.mapping(dev, ev); m != nil {
		g.named(m.ICID)
	}
}

// write applies a guest write of an ITS register.
func (r *ITSRegisters) write(line int, off, data uint64, size uint32) {
	var reg *uint64
	base := off &^ 7
	switch model.ITSRegister(base) {
	case model.GITS_CTLR:
		reg, base = &r.CTLR, off
	case model.GITS_CBASER:
		reg = &r.CBASER
	case model.GITS_CWRITER:
		reg = &r.CWRITER
	default:
		if base < uint64(model.GITS_BASER0) || base >= uint64(model.GITS_BASER(8)) {
			return
		}
		reg = &r.BASER[(base-uint64(model.GITS_BASER0))/8]
	}
	deposit(reg, base, off, size, data)
	r.Lines[model.ITSRegister(base)] = line
}

// write applies a guest write of a redistributor register.
func (r *Redistributor) write(line int, off, data uint64, size uint32) {
	var reg *uint64
	switch model.GICRRegister(off &^ 7) {
	case model.GICR_PROPBASER:
		reg = &r.PROPBASER
	case model.GICR_PENDBASER:
		reg = &r.PENDBASER
	default:
		if off != uint64(model.GICR_CTLR) {
			return
		}
		reg = &r.CTLR
	}
	deposit(reg, off&^7, off, size, data)
	r.Lines[model.GICRRegister(off&^7)] = line
}

// deposit applies an access of size bytes at off to the 64-bit register
// at base: all of it, or the 32-bit half at base or base+4.
func deposit(reg *uint64, base, off uint64, size uint32, data uint64) {
	switch {
	case size == 8 && off == base:
		*reg = data
	case size == 4 && off == base:
		*reg = *reg&^0xFFFF_FFFF | data&0xFFFF_FFFF
	case size == 4 && off == base+4:
		*reg = *reg&0xFFFF_FFFF | data<<32
	}
}

// CPUs returns the number of CPUs of the guest that wrote tr, and what
// says so: one more than the highest processor number its redistributor
// and CPU-interface events name (by affinity, or in GICR_TYPER reads), or
// a valid collection table entry holds; at least one. MAPC's RDbase does
// not count: QEMU ignores a MAPC to a CPU it does not have.
func CPUs(tr *Trace) (int, string) {
	g := &Guest{affinity: affinities(tr)}
	highest := -1
	see := func(cpu model.CPU, ok bool) {
		if ok && int(cpu) > highest {
			highest = int(cpu)
		}
	}
	for _, r := range tr.Records {
		switch e := r.Event.(type) {
		case RedistRead:
			see(g.CPUOf(e.Affinity))
		case RedistWrite:
			see(g.CPUOf(e.Affinity))
		case RedistSetIRQ:
			see(g.CPUOf(e.Affinity))
		case RedistSendSGI:
			see(g.CPUOf(e.Affinity))
		case ICCIAR1Read:
			see(g.CPUOf(e.Affinity))
		case CTERead:
			see(model.CPU(e.RDbase), e.Valid && e.RDbase < 1<<16)
		case CTEWrite:
			see(model.CPU(e.RDbase), e.Valid && e.RDbase < 1<<16)
		}
	}
	if highest < 0 {
		return 1, "no event names a CPU: one assumed"
	}
	return highest + 1, fmt.Sprintf("the highest processor number its redistributor events name is %d", highest)
}
