package model

// This file is the set-up a guest OS's ITS driver does, over any Backend:
// one collection per CPU, and per device an ITT sized for its events, each
// event's LPI configured and mapped. The CLI's demo and bench's workloads
// both set the ITS up this way.

// An Event is one event of a device as a driver maps it: its EventID, the
// LPI it becomes, the collection it is delivered through, and the LPI's
// configuration.
type Event struct {
	EventID EventID
	INTID   INTID
	ICID    ICID
	Config  LPIConfig
}

// EnableCollections enables LPIs on CPUs 0..cpus-1 and returns the MAPC
// that maps collection i to CPU i (RDbase is the processor number: GITS_TYPER.PTA
// is 0 on both backends), for the caller to submit with the rest.
func EnableCollections(b Backend, cpus int) ([]Command, error) {
	cmds := make([]Command, 0, cpus)
	for cpu := range cpus {
		if err := b.EnableLPIs(CPU(cpu)); err != nil {
			return nil, err
		}
		cmds = append(cmds, MAPC{ICID: ICID(cpu), RDbase: uint64(cpu), Valid: true})
	}
	return cmds, nil
}

// MapDevice allocates dev's ITT from alloc, with room for EventIDs up to
// the largest in events (at least one bit), writes each event's LPI
// configuration, and returns the ITT's address and the commands that map
// the device: MAPD, then a MAPTI per event, for the caller to submit. As
// on hardware, a redistributor may cache LPI configuration: software that
// changes it for a mapped LPI invalidates it afterwards (INV, INVALL).
func MapDevice(b Backend, alloc *Allocator, dev DeviceID, events []Event) (GPA, []Command, error) {
	bits := 1
	for _, e := range events {
		for uint64(e.EventID) >= 1<<bits {
			bits++
		}
	}
	itt, err := alloc.Alloc(ITTSize(bits, b.Capabilities().ITTEntrySize), 256)
	if err != nil {
		return 0, nil, err
	}
	cmds := make([]Command, 0, 1+len(events))
	cmds = append(cmds, MAPD{DeviceID: dev, Size: uint8(bits - 1), ITTAddr: itt, Valid: true})
	for _, e := range events {
		if err := b.SetLPIConfig(e.INTID, e.Config); err != nil {
			return 0, nil, err
		}
		cmds = append(cmds, MAPTI{DeviceID: dev, EventID: e.EventID, INTID: e.INTID, ICID: e.ICID})
	}
	return itt, cmds, nil
}
