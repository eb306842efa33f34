package its

import (
	"errors"
	"fmt"

	"github.com/gicits/gicits/model"
)

// cmdFailure is why one command failed: an architectural code or a cause.
type cmdFailure struct {
	code   model.ErrorCode
	cause  error
	detail string
}

func fail(code model.ErrorCode, format string, args ...any) *cmdFailure {
	return &cmdFailure{code: code, detail: fmt.Sprintf(format, args...)}
}

// process runs commands from GITS_CREADR up to GITS_CWRITER while the ITS
// is enabled and not stalled, and returns every command error, joined.
// Called with mu held for writing.
func (t *ITS) process() error {
	if !t.enabled {
		return nil
	}
	size := uint64(t.cbaser.SizeBytes())
	var errs []error
	for !t.stalled && t.creadr != t.cwriter {
		off := t.creadr
		var p model.Packet
		var f *cmdFailure
		if err := t.mem.ReadAt(p[:], t.cbaser.Addr()+model.GPA(off)); err != nil {
			f = &cmdFailure{cause: err, detail: "the command queue entry is outside guest memory"}
		} else if cmd, err := model.DecodeCommand(p); err != nil {
			f = &cmdFailure{cause: err, detail: "command ignored"}
		} else {
			f = t.execute(cmd)
		}
		if f != nil {
			errs = append(errs, &model.CommandError{Offset: off, Packet: p, Code: f.code, Cause: f.cause, Detail: f.detail})
			if t.policy == model.StallOnError {
				t.stalled = true
				break
			}
		}
		t.creadr = (off + model.CommandSize) % size
	}
	return errors.Join(errs...)
}

// execute runs one decoded command. Called with mu held for writing.
func (t *ITS) execute(cmd model.Command) *cmdFailure {
	switch c := cmd.(type) {
	case model.MAPD:
		return t.mapd(c)
	case model.MAPC:
		return t.mapc(c)
	case model.MAPTI:
		return t.mapti(c.DeviceID, c.EventID, c.INTID, c.ICID)
	case model.MAPI:
		return t.mapti(c.DeviceID, c.EventID, model.INTID(c.EventID), c.ICID)
	case model.MOVI:
		return t.movi(c)
	case model.DISCARD:
		return t.discard(c)
	case model.INT:
		return t.intCmd(c)
	case model.CLEAR:
		_, r, ok := t.lookup(c.DeviceID, c.EventID)
		if !ok {
			return fail(model.E_ITS_CLEAR_UNMAPPED_INTERRUPT, "device %#x event %d is not mapped", uint32(c.DeviceID), c.EventID)
		}
		t.rd.ClearPending(r.intid)
		return nil
	case model.INV:
		_, r, ok := t.lookup(c.DeviceID, c.EventID)
		if !ok {
			return fail(model.E_ITS_INV_UNMAPPED_INTERRUPT, "device %#x event %d is not mapped", uint32(c.DeviceID), c.EventID)
		}
		t.rd.InvalidateLPI(r.intid)
		return nil
	case model.INVALL:
		cpu, ok := t.collMapped(c.ICID)
		if !ok {
			return fail(model.E_ITS_INVALL_UNMAPPED_COLLECTION, "collection %d is not mapped", c.ICID)
		}
		t.rd.InvalidateAll(cpu)
		return nil
	case model.MOVALL:
		return t.movall(c)
	case model.SYNC:
		return nil
	}
	return &cmdFailure{cause: fmt.Errorf("command %v: %w", cmd, model.ErrNotSupported)}
}

// lookup returns the record of a mapped event.
func (t *ITS) lookup(dev model.DeviceID, ev model.EventID) (*device, iteRec, bool) {
	d := t.devices[dev]
	if d == nil {
		return nil, iteRec{}, false
	}
	r, ok := d.get(ev)
	return d, r, ok
}

// eventCollection returns the CPU of a mapped event's collection, false
// when the event is orphaned or its collection unmapped.
func (t *ITS) eventCollection(r iteRec) (model.CPU, bool) {
	if r.orphan {
		return 0, false
	}
	return t.collMapped(r.icid)
}

func (t *ITS) mapd(c model.MAPD) *cmdFailure {
	addr, fault := t.dteAddr(c.DeviceID)
	if !fault.ok() {
		return fail(model.E_ITS_MAPD_DEVICE_OOR, "%v", fault)
	}
	if c.Valid && c.EventIDBits() > t.typer.EventIDBits() {
		return fail(model.E_ITS_MAPD_ITTSIZE_OOR, "%d EventID bits, GITS_TYPER.ID_bits allows %d", c.EventIDBits(), t.typer.EventIDBits())
	}
	if d := t.devices[c.DeviceID]; d != nil {
		t.freeDevice(c.DeviceID, d, true)
	}
	if !c.Valid {
		t.writeBack(addr, 0) // dteAddr has read the DTE at addr
		return nil
	}
	dte, err := model.DTE{Valid: true, ITTAddr: c.ITTAddr, Size: c.Size}.Encode()
	if err != nil {
		return &cmdFailure{cause: err}
	}
	if err := model.WriteUint64(t.mem, addr, dte); err != nil {
		return &cmdFailure{cause: err, detail: "writing the DTE"}
	}
	t.devices[c.DeviceID] = newDevice(c.ITTAddr, c.Size)
	return nil
}

func (t *ITS) mapc(c model.MAPC) *cmdFailure {
	if c.RDbase >= uint64(t.rd.CPUs()) {
		return fail(model.E_ITS_MAPC_PROCNUM_OOR, "RDbase %d is not a redistributor (%d CPUs)", c.RDbase, t.rd.CPUs())
	}
	if int(c.ICID) >= len(t.colls) {
		return fail(model.E_ITS_MAPC_COLLECTION_OOR, "ICID %d does not fit GITS_TYPER's %d ICID bits", c.ICID, t.typer.ICIDBits())
	}
	cpu := model.CPU(c.RDbase)
	if !c.Valid {
		if t.colls[c.ICID] == collAbsent {
			return nil
		}
		for id, d := range t.devices {
			d.each(func(ev model.EventID, r *iteRec) {
				if !r.orphan && r.icid == c.ICID {
					t.invalidate(id, ev, r.intid)
					r.orphan = true
				}
			})
		}
		t.colls[c.ICID] = collAbsent
		return nil
	}
	if t.colls[c.ICID] == collAbsent {
		if !t.collInRange(c.ICID) {
			return fail(model.E_ITS_MAPC_COLLECTION_OOR, "ICID %d is outside the collection table (%d entries)", c.ICID, t.baser[1].SizeBytes()/model.TableEntrySize)
		}
		t.colls[c.ICID] = int32(cpu)
		return nil
	}
	// An existing collection is retargeted; its LPIs move with it.
	t.colls[c.ICID] = int32(cpu)
	// Revoking each LPI also ends the cached translations of other events
	// that share it.
	for id, d := range t.devices {
		d.each(func(ev model.EventID, r *iteRec) {
			if !r.orphan && r.icid == c.ICID {
				t.invalidate(id, ev, r.intid)
			}
		})
	}
	for _, d := range t.devices {
		d.each(func(_ model.EventID, r *iteRec) {
			if !r.orphan && r.icid == c.ICID {
				// Cannot fail: cpu is RDbase, checked against CPUs() above.
				_ = t.rd.MoveLPI(r.intid, cpu)
			}
		})
	}
	return nil
}

func (t *ITS) mapti(dev model.DeviceID, ev model.EventID, intid model.INTID, icid model.ICID) *cmdFailure {
	d := t.devices[dev]
	if d == nil {
		return fail(model.E_ITS_MAPTI_UNMAPPED_DEVICE, "device %#x is not mapped", uint32(dev))
	}
	if uint64(ev) >= uint64(1)<<d.eventIDBits() {
		return fail(model.E_ITS_MAPTI_ID_OOR, "EventID %d does not fit the device's %d EventID bits", ev, d.eventIDBits())
	}
	addr := iteAddr(d, ev)
	var probe [model.TableEntrySize]byte
	if t.mem.ReadAt(probe[:], addr) != nil {
		return fail(model.E_ITS_MAPTI_ID_OOR, "the ITT slot of EventID %d at %v is outside guest memory", ev, addr)
	}
	if limit := t.rd.LPILimit(); intid < model.LPIBase || intid >= limit {
		if !t.rd.PropBaserSet() {
			return fail(model.E_ITS_MAPTI_PHYSICALID_OOR, "GICR_PROPBASER is not set, so no LPI exists (KVM drops this MAPTI silently)")
		}
		return fail(model.E_ITS_MAPTI_PHYSICALID_OOR, "pINTID %d is not an LPI below %d (GICR_PROPBASER.IDbits)", intid, limit)
	}
	if _, ok := d.get(ev); ok {
		return nil // already mapped: UNPREDICTABLE; left unchanged, as KVM does
	}
	if !t.collExists(icid) && !t.collInRange(icid) {
		return fail(model.E_ITS_MAPC_COLLECTION_OOR, "ICID %d is outside the collection table (%d entries), so it cannot be created", icid, t.baser[1].SizeBytes()/model.TableEntrySize)
	}
	cpu, mapped := t.collMapped(icid)
	if err := t.rd.MapLPI(intid, cpu, mapped); err != nil {
		return &cmdFailure{cause: err, detail: "creating the LPI"}
	}
	if !t.collExists(icid) {
		t.colls[icid] = collUnmapped // implicit, unmapped collection (KVM)
	}
	t.writeBack(addr, model.ITE{INTID: intid, ICID: icid}.Encode()) // probed above
	d.put(ev, iteRec{intid: intid, icid: icid})
	return nil
}

func (t *ITS) movi(c model.MOVI) *cmdFailure {
	d, r, ok := t.lookup(c.DeviceID, c.EventID)
	if !ok {
		return fail(model.E_ITS_MOVI_UNMAPPED_INTERRUPT, "device %#x event %d is not mapped", uint32(c.DeviceID), c.EventID)
	}
	if _, ok := t.eventCollection(r); !ok {
		return fail(model.E_ITS_MOVI_UNMAPPED_COLLECTION, "the event's collection %d is not mapped", r.icid)
	}
	cpu, ok := t.collMapped(c.ICID)
	if !ok {
		return fail(model.E_ITS_MOVI_UNMAPPED_COLLECTION, "target collection %d is not mapped", c.ICID)
	}
	t.invalidate(c.DeviceID, c.EventID, r.intid) // and those of events sharing the LPI
	r.icid = c.ICID
	d.put(c.EventID, r)
	t.writeBack(iteAddr(d, c.EventID), model.ITE{INTID: r.intid, ICID: r.icid}.Encode())
	// Cannot fail: cpu is a mapped collection's, and MAPC and
	// RestoreTables map a collection only to an RDbase below CPUs().
	_ = t.rd.MoveLPI(r.intid, cpu)
	return nil
}

func (t *ITS) discard(c model.DISCARD) *cmdFailure {
	d, r, ok := t.lookup(c.DeviceID, c.EventID)
	if !ok {
		return fail(model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, "device %#x event %d is not mapped", uint32(c.DeviceID), c.EventID)
	}
	if _, ok := t.eventCollection(r); !ok {
		return fail(model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, "the event's collection %d is not mapped", r.icid)
	}
	t.invalidate(c.DeviceID, c.EventID, r.intid)
	d.del(c.EventID)
	t.writeBack(iteAddr(d, c.EventID), 0)
	t.rd.UnmapLPI(r.intid)
	return nil
}

func (t *ITS) intCmd(c model.INT) *cmdFailure {
	intid, cpu, ok := t.translate(c.DeviceID, c.EventID)
	if !ok {
		return fail(model.E_ITS_INT_UNMAPPED_INTERRUPT, "device %#x event %d does not translate", uint32(c.DeviceID), c.EventID)
	}
	if err := t.rd.SetPending(intid); err != nil {
		return &cmdFailure{cause: err, detail: fmt.Sprintf("the target redistributor %d refused the LPI (KVM: EBUSY)", cpu)}
	}
	t.cacheTranslation(c.DeviceID, c.EventID, intid)
	return nil
}

func (t *ITS) movall(c model.MOVALL) *cmdFailure {
	n := uint64(t.rd.CPUs())
	if c.RDbase1 >= n || c.RDbase2 >= n {
		return fail(model.E_ITS_MOVALL_PROCNUM_OOR, "RDbase1 %d or RDbase2 %d is not a redistributor (%d CPUs)", c.RDbase1, c.RDbase2, n)
	}
	if c.RDbase1 == c.RDbase2 {
		return nil
	}
	t.flushCache()
	// Cannot fail: both RDbases are checked against CPUs() above.
	_ = t.rd.MoveAll(model.CPU(c.RDbase1), model.CPU(c.RDbase2))
	return nil
}
