package replay

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// Dumped is what memory dumps say about a trace: the exact packets of
// the commands still in the command queue when the queue was dumped, and
// the LPI property table then.
type Dumped struct {
	// Packets are the commands read from the queue dump, by the trace
	// line of the command event they are.
	Packets map[int]model.Command
	// Queue is the dump that holds the command queue, if any.
	Queue *Dump
	// Stale counts the command events whose slot in the queue was written
	// again later in the trace: their packets are gone.
	Stale int
	// Disagree are the trace lines whose packet in the dump is not the
	// command QEMU traced there (the dump is of another moment or
	// another run): those packets are not used.
	Disagree []int
	// Syncs counts the trace's SYNC commands, SyncPackets those whose
	// packet the queue dump holds.
	Syncs, SyncPackets int
	// LPIs counts the LPIs the trace maps, LPIsDumped those the property
	// table's dump holds the configuration of.
	LPIs, LPIsDumped int
	// Unused are the dumps that hold neither the queue nor the property
	// table.
	Unused []*Dump

	// Properties is the dump that holds the LPI property table that the
	// last GICR_PROPBASER written places, if any; propBase is where.
	Properties *Dump
	propBase   model.GPA
	idBits     int
	mem        *Memory
}

// FindDumped reads what mem's dumps say about tr. A command's packet is
// taken from the queue dump only when the trace shows no later command
// processed at the same place in the same queue (the dump is taken at
// the end of the run, as pmemsave after the trace), and only when it is
// the command the trace shows: same opcode, same traced fields.
func FindDumped(tr *Trace, mem *Memory) *Dumped {
	d := &Dumped{Packets: map[int]model.Command{}, mem: mem}
	if mem == nil || len(mem.Dumps) == 0 {
		return d
	}
	g := NewGuest(tr)
	type slot struct {
		queue model.GPA
		index uint32
	}
	// last is the line of the command each slot held last (0 for one
	// with no event of its own, a GICv4 opcode say); at, each command's
	// slot while it is the last in it.
	last := map[slot]int{}
	at := map[int]slot{}
	var pending *slot
	for _, rec := range tr.Records {
		switch e := rec.Event.(type) {
		case ProcessCommand:
			s := slot{model.CBASER(g.ITS.CBASER).Addr(), e.Offset}
			if prev, ok := last[s]; ok && prev > 0 {
				delete(at, prev)
				d.Stale++
			}
			last[s], pending = 0, &s
		case DTERead, DTEWrite, DTEReadFault, ITERead, ITEWrite, ITEReadFault, CTERead, CTEWrite, CTEReadFault:
			// Table accesses come between a command and the next.
		default:
			if _, ok := fromTrace(rec.Event); ok && pending != nil {
				last[*pending], at[rec.Line] = rec.Line, *pending
			}
			pending = nil
		}
		g.Apply(rec)
	}
	for _, rec := range tr.Records {
		s, ok := at[rec.Line]
		if !ok {
			continue
		}
		raw, dump := mem.Read(s.queue+model.GPA(s.index)*32, 32)
		if dump == nil {
			continue
		}
		d.Queue = dump
		cmd, err := model.DecodeCommand(model.Packet(raw))
		traced, _ := fromTrace(rec.Event)
		if err != nil || !agrees(traced, cmd) {
			d.Disagree = append(d.Disagree, rec.Line)
			continue
		}
		d.Packets[rec.Line] = cmd
	}
	d.findProperties(g)
	d.count(tr, mem)
	return d
}

// count fills in the counts of what the dumps cover, and the unused
// dumps.
func (d *Dumped) count(tr *Trace, mem *Memory) {
	lpis := map[model.INTID]bool{}
	for _, rec := range tr.Records {
		switch e := rec.Event.(type) {
		case CmdSYNC:
			d.Syncs++
			if _, ok := d.Packets[rec.Line]; ok {
				d.SyncPackets++
			}
		case CmdMAPTI:
			lpis[e.INTID] = true
		case CmdMAPI:
			lpis[model.INTID(e.EventID)] = true
		}
	}
	d.LPIs = len(lpis)
	for intid := range lpis {
		if _, ok := d.LPIConfig(intid); ok {
			d.LPIsDumped++
		}
	}
	for _, dump := range mem.Dumps {
		if dump != d.Queue && dump != d.Properties {
			d.Unused = append(d.Unused, dump)
		}
	}
}

// lastPropBaser returns the GICR_PROPBASER the guest wrote last (Linux
// writes one table for all), and false when it wrote none that places a
// table.
func lastPropBaser(g *Guest) (model.PropBaser, bool) {
	line := -1
	var pb model.PropBaser
	for _, rd := range g.Redistributors {
		if l, ok := rd.Lines[model.GICR_PROPBASER]; ok && l > line {
			line, pb = l, model.PropBaser(rd.PROPBASER)
		}
	}
	return pb, line >= 0 && pb.IDBits() >= 14 && pb.IDBits() <= 32
}

// findProperties finds the dump holding the property table of the last
// GICR_PROPBASER the guest wrote.
func (d *Dumped) findProperties(g *Guest) {
	pb, ok := lastPropBaser(g)
	if !ok {
		return
	}
	if _, dump := d.mem.Read(pb.Addr(), 1); dump != nil {
		d.Properties, d.propBase, d.idBits = dump, pb.Addr(), pb.IDBits()
	}
}

// LPIConfig returns LPI intid's configuration byte in the property-table
// dump, and false when the dump does not hold it.
func (d *Dumped) LPIConfig(intid model.INTID) (model.LPIConfig, bool) {
	if d.Properties == nil || intid < model.LPIBase || uint64(intid) >= 1<<d.idBits {
		return 0, false
	}
	b, dump := d.mem.Read(d.propBase+model.GPA(intid-model.LPIBase), 1)
	if dump != d.Properties {
		return 0, false
	}
	return model.LPIConfig(b[0]), true
}

// fromTrace returns the command a command event shows, with the fields
// QEMU traced: SYNC's RDbase and INVALL's ICID, which it does not trace,
// are zero; MAPD's ITT address is the guest's.
func fromTrace(ev Event) (model.Command, bool) {
	switch e := ev.(type) {
	case CmdMAPD:
		if e.Size > 31 {
			return nil, false
		}
		return model.MAPD{DeviceID: e.DeviceID, Size: uint8(e.Size), ITTAddr: e.ITT(), Valid: e.Valid}, true
	case CmdMAPC:
		return model.MAPC{ICID: e.ICID, RDbase: e.RDbase, Valid: e.Valid}, true
	case CmdMAPTI:
		return model.MAPTI{DeviceID: e.DeviceID, EventID: e.EventID, INTID: e.INTID, ICID: e.ICID}, true
	case CmdMAPI:
		return model.MAPI{DeviceID: e.DeviceID, EventID: e.EventID, ICID: e.ICID}, true
	case CmdMOVI:
		return model.MOVI{DeviceID: e.DeviceID, EventID: e.EventID, ICID: e.ICID}, true
	case CmdDISCARD:
		return model.DISCARD{DeviceID: e.DeviceID, EventID: e.EventID}, true
	case CmdINV:
		return model.INV{DeviceID: e.DeviceID, EventID: e.EventID}, true
	case CmdINT:
		return model.INT{DeviceID: e.DeviceID, EventID: e.EventID}, true
	case CmdCLEAR:
		return model.CLEAR{DeviceID: e.DeviceID, EventID: e.EventID}, true
	case CmdMOVALL:
		return model.MOVALL{RDbase1: e.RDbase1, RDbase2: e.RDbase2}, true
	case CmdSYNC:
		return model.SYNC{}, true
	case CmdINVALL:
		return model.INVALL{}, true
	}
	return nil, false
}

// agrees reports whether a decoded packet is the command the trace shows:
// the same command with the same traced fields.
func agrees(traced, packet model.Command) bool {
	switch packet.(type) {
	case model.SYNC:
		_, ok := traced.(model.SYNC)
		return ok
	case model.INVALL:
		_, ok := traced.(model.INVALL)
		return ok
	}
	return traced == packet
}

// describe says, for the report, what the dumps gave.
func (d *Dumped) describe() []string {
	var out []string
	if d.Queue != nil {
		s := fmt.Sprintf("command queue: %s of the trace's commands exactly as the queue dump %s holds them", plural(len(d.Packets), "packet"), d.Queue)
		if d.Stale > 0 {
			s += fmt.Sprintf("; %s written over later in the run, so taken from the trace", plural(d.Stale, "earlier command"))
		}
		if len(d.Disagree) > 0 {
			s += fmt.Sprintf("; %s that the trace shows otherwise (the first at line %d) not used: is the dump of this run, taken after it?", plural(len(d.Disagree), "packet"), d.Disagree[0])
		}
		out = append(out, s)
	}
	if d.Properties != nil {
		out = append(out, fmt.Sprintf("LPI property table: from the dump %s, at %v (%d INTID bits), as it was when dumped", d.Properties, d.propBase, d.idBits))
	}
	for _, u := range d.Unused {
		out = append(out, fmt.Sprintf("the dump %s holds neither the command queue nor the LPI property table at the addresses the guest programmed (-pmemsave prints them): not used; is its @GPA right?", u))
	}
	return out
}

// PmemsaveCommands returns the QEMU monitor commands that dump what
// [FindDumped] reads, for the guest tr shows: its command queue (the last
// GITS_CBASER written) and its LPI property table (the last
// GICR_PROPBASER written); and the -mem arguments that give the dumps to
// a replay. Run them once the guest has done what the trace should hold.
func PmemsaveCommands(tr *Trace) (cmds, mems []string) {
	g := NewGuest(tr)
	for _, rec := range tr.Records {
		g.Apply(rec)
	}
	add := func(addr model.GPA, size uint64, file string) {
		cmds = append(cmds, fmt.Sprintf("pmemsave %#x %d %s", uint64(addr), size, file))
		mems = append(mems, fmt.Sprintf("%s@%#x", file, uint64(addr)))
	}
	if cb := model.CBASER(g.ITS.CBASER); cb.Valid() {
		add(cb.Addr(), uint64(cb.SizeBytes()), "its-queue.bin")
	}
	if pb, ok := lastPropBaser(g); ok {
		add(pb.Addr(), uint64(1)<<pb.IDBits()-uint64(model.LPIBase), "its-props.bin")
	}
	return cmds, mems
}
