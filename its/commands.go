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
		} else if op := cmd.Opcode(); op.IsGICv4() && t.vrd == nil {
			// A GICv3 ITS (GITS_TYPER.Virtual is 0, as on KVM): a V*
			// command decodes but is refused and ignored.
			f = &cmdFailure{cause: &model.OpcodeError{Opcode: op}, detail: "command ignored"}
		} else if op.IsGICv4() {
			f = t.executeVirtual(cmd)
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
		return t.mapti(c.DeviceID, c.EventID, c.INTID, c.ICID, maptiCodes)
	case model.MAPI:
		return t.mapti(c.DeviceID, c.EventID, model.INTID(c.EventID), c.ICID, mapiCodes)
	case model.MOVI:
		return t.movi(c)
	case model.DISCARD:
		return t.discard(c)
	case model.INT:
		return t.intCmd(c)
	case model.CLEAR:
		d, r, f := t.findEvent(c.DeviceID, c.EventID, clearCodes)
		if f != nil {
			return f
		}
		if r.virtual {
			return t.virtualEvent(c, d, r, model.E_ITS_CLEAR_UNMAPPED_INTERRUPT)
		}
		t.rd.ClearPending(r.intid)
		return nil
	case model.INV:
		d, r, f := t.findEvent(c.DeviceID, c.EventID, invCodes)
		if f != nil {
			return f
		}
		if r.virtual {
			return t.virtualEvent(c, d, r, model.E_ITS_INV_UNMAPPED_INTERRUPT)
		}
		t.rd.InvalidateLPI(r.intid)
		return nil
	case model.INVALL:
		if !t.collExists(c.ICID) && !t.collInRange(c.ICID) {
			return fail(model.E_ITS_INVALL_COLLECTION_OOR, "ICID %d is outside the collection table", c.ICID)
		}
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

// eventCodes are one command's error codes for an event it cannot find,
// from the first thing missing on the way to it.
type eventCodes struct {
	deviceOOR, unmappedDevice, idOOR, unmappedInterrupt model.ErrorCode
}

var (
	moviCodes    = eventCodes{model.E_ITS_MOVI_DEVICE_OOR, model.E_ITS_MOVI_UNMAPPED_DEVICE, model.E_ITS_MOVI_ID_OOR, model.E_ITS_MOVI_UNMAPPED_INTERRUPT}
	intCodes     = eventCodes{model.E_ITS_INT_DEVICE_OOR, model.E_ITS_INT_UNMAPPED_DEVICE, model.E_ITS_INT_ID_OOR, model.E_ITS_INT_UNMAPPED_INTERRUPT}
	clearCodes   = eventCodes{model.E_ITS_CLEAR_DEVICE_OOR, model.E_ITS_CLEAR_UNMAPPED_DEVICE, model.E_ITS_CLEAR_ID_OOR, model.E_ITS_CLEAR_UNMAPPED_INTERRUPT}
	invCodes     = eventCodes{model.E_ITS_INV_DEVICE_OOR, model.E_ITS_INV_UNMAPPED_DEVICE, model.E_ITS_INV_ID_OOR, model.E_ITS_INV_UNMAPPED_INTERRUPT}
	discardCodes = eventCodes{model.E_ITS_DISCARD_DEVICE_OOR, model.E_ITS_DISCARD_UNMAPPED_DEVICE, model.E_ITS_DISCARD_ID_OOR, model.E_ITS_DISCARD_UNMAPPED_INTERRUPT}
)

// findDevice returns mapped device dev, or the failure saying why there is
// none: DEVICE_OOR when dev is beyond GITS_TYPER.Devbits or the device
// table, UNMAPPED_DEVICE otherwise.
func (t *ITS) findDevice(dev model.DeviceID, deviceOOR, unmapped model.ErrorCode) (*device, *cmdFailure) {
	if d := t.devices[dev]; d != nil {
		return d, nil
	}
	if _, f := t.dteAddr(dev); f.outOfRange() {
		return nil, fail(deviceOOR, "%v", f)
	}
	return nil, fail(unmapped, "device %#x is not mapped", uint32(dev))
}

// findEvent returns the record of a mapped event, or the failure naming
// the first thing missing on the way to it: the device (out of range or
// not mapped), the EventID (beyond the device's ITT) or the event. KVM
// reports all four as *_UNMAPPED_INTERRUPT.
func (t *ITS) findEvent(dev model.DeviceID, ev model.EventID, codes eventCodes) (*device, iteRec, *cmdFailure) {
	d, f := t.findDevice(dev, codes.deviceOOR, codes.unmappedDevice)
	if f != nil {
		return nil, iteRec{}, f
	}
	if uint64(ev) >= uint64(1)<<d.eventIDBits() {
		return nil, iteRec{}, fail(codes.idOOR, "EventID %d does not fit device %#x's %d EventID bits", ev, uint32(dev), d.eventIDBits())
	}
	r, ok := d.get(ev)
	if !ok {
		return nil, iteRec{}, fail(codes.unmappedInterrupt, "event %d of device %#x is not mapped", ev, uint32(dev))
	}
	return d, r, nil
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
	d := newDevice(c.ITTAddr, c.Size)
	if err := t.writeDTE(addr, d); err != nil {
		return &cmdFailure{cause: err, detail: "writing the DTE"}
	}
	t.devices[c.DeviceID] = d
	return nil
}

// mapc maps (V=1) or unmaps (V=0) a collection. RDbase means something
// only when V=1, so V=0 does not check it (IHI 0069, 6.3.10; QEMU since
// 84d43d2e82da; KVM since 6.8; KVM 6.1 still checks it: mapc-v0-rdbase in
// the fidelity catalogue).
func (t *ITS) mapc(c model.MAPC) *cmdFailure {
	if c.Valid && c.RDbase >= uint64(t.rd.CPUs()) {
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
				if !r.virtual && !r.orphan && r.icid == c.ICID {
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
			if !r.virtual && !r.orphan && r.icid == c.ICID {
				t.invalidate(id, ev, r.intid)
			}
		})
	}
	for _, d := range t.devices {
		d.each(func(_ model.EventID, r *iteRec) {
			if !r.virtual && !r.orphan && r.icid == c.ICID {
				// Cannot fail: cpu is RDbase, checked against CPUs() above.
				_ = t.rd.MoveLPI(r.intid, cpu)
			}
		})
	}
	return nil
}

// mapCodes are MAPTI's or MAPI's error codes.
type mapCodes struct {
	deviceOOR, collectionOOR, unmappedDevice, idOOR, physicalIDOOR model.ErrorCode
}

var (
	maptiCodes = mapCodes{model.E_ITS_MAPTI_DEVICE_OOR, model.E_ITS_MAPTI_COLLECTION_OOR, model.E_ITS_MAPTI_UNMAPPED_DEVICE, model.E_ITS_MAPTI_ID_OOR, model.E_ITS_MAPTI_PHYSICALID_OOR}
	mapiCodes  = mapCodes{model.E_ITS_MAPI_DEVICE_OOR, model.E_ITS_MAPI_COLLECTION_OOR, model.E_ITS_MAPI_UNMAPPED_DEVICE, model.E_ITS_MAPI_ID_OOR, model.E_ITS_MAPI_PHYSICALID_OOR}
)

// mapSlot returns the mapped device dev for a MAPTI-like command of event
// ev, once the EventID fits it and the event's ITT entry is in guest
// memory (so writing it back cannot fail), or the failure saying why not.
func (t *ITS) mapSlot(dev model.DeviceID, ev model.EventID, deviceOOR, unmapped, idOOR model.ErrorCode) (*device, *cmdFailure) {
	d, f := t.findDevice(dev, deviceOOR, unmapped)
	if f != nil {
		return nil, f
	}
	if uint64(ev) >= uint64(1)<<d.eventIDBits() {
		return nil, fail(idOOR, "EventID %d does not fit the device's %d EventID bits", ev, d.eventIDBits())
	}
	addr := t.iteAddr(d.itt, ev)
	var probe [MaxITTEntrySize]byte
	if t.mem.ReadAt(probe[:t.iteSize], addr) != nil {
		return nil, fail(idOOR, "the ITT slot of EventID %d at %v is outside guest memory", ev, addr)
	}
	return d, nil
}

func (t *ITS) mapti(dev model.DeviceID, ev model.EventID, intid model.INTID, icid model.ICID, codes mapCodes) *cmdFailure {
	d, f := t.mapSlot(dev, ev, codes.deviceOOR, codes.unmappedDevice, codes.idOOR)
	if f != nil {
		return f
	}
	if limit := t.rd.LPILimit(); intid < model.LPIBase || intid >= limit {
		if !t.rd.PropBaserSet() {
			return fail(codes.physicalIDOOR, "GICR_PROPBASER is not set, so no LPI exists (KVM drops this command silently)")
		}
		return fail(codes.physicalIDOOR, "pINTID %d is not an LPI below %d (GICR_PROPBASER.IDbits)", intid, limit)
	}
	if _, ok := d.get(ev); ok {
		return nil // already mapped: UNPREDICTABLE; left unchanged, as KVM does
	}
	if !t.collExists(icid) && !t.collInRange(icid) {
		return fail(codes.collectionOOR, "ICID %d is outside the collection table (%d entries), so it cannot be created", icid, t.baser[1].SizeBytes()/model.TableEntrySize)
	}
	cpu, mapped := t.collMapped(icid)
	if err := t.rd.MapLPI(intid, cpu, mapped); err != nil {
		return &cmdFailure{cause: err, detail: "creating the LPI"}
	}
	if !t.collExists(icid) {
		t.colls[icid] = collUnmapped // implicit, unmapped collection (KVM)
	}
	t.writeBackITE(d, ev, model.ITE{INTID: intid, ICID: icid}.Encode()) // probed above
	d.put(ev, iteRec{intid: intid, icid: icid})
	return nil
}

func (t *ITS) movi(c model.MOVI) *cmdFailure {
	d, r, f := t.findEvent(c.DeviceID, c.EventID, moviCodes)
	if f != nil {
		return f
	}
	if r.virtual {
		return fail(model.E_ITS_MOVI_UNMAPPED_INTERRUPT, "event %d of device %#x maps a vLPI; VMOVI moves it", c.EventID, uint32(c.DeviceID))
	}
	if _, ok := t.eventCollection(r); !ok {
		return fail(model.E_ITS_MOVI_UNMAPPED_COLLECTION, "the event's collection %d is not mapped", r.icid)
	}
	if !t.collExists(c.ICID) && !t.collInRange(c.ICID) {
		return fail(model.E_ITS_MOVI_COLLECTION_OOR, "target ICID %d is outside the collection table", c.ICID)
	}
	cpu, ok := t.collMapped(c.ICID)
	if !ok {
		return fail(model.E_ITS_MOVI_UNMAPPED_COLLECTION, "target collection %d is not mapped", c.ICID)
	}
	t.invalidate(c.DeviceID, c.EventID, r.intid) // and those of events sharing the LPI
	r.icid = c.ICID
	d.put(c.EventID, r)
	t.writeBackITE(d, c.EventID, model.ITE{INTID: r.intid, ICID: r.icid}.Encode())
	// Cannot fail: cpu is a mapped collection's, and MAPC and
	// RestoreTables map a collection only to an RDbase below CPUs().
	_ = t.rd.MoveLPI(r.intid, cpu)
	return nil
}

func (t *ITS) discard(c model.DISCARD) *cmdFailure {
	d, r, f := t.findEvent(c.DeviceID, c.EventID, discardCodes)
	if f != nil {
		return f
	}
	if r.virtual {
		return t.virtualEvent(c, d, r, model.E_ITS_DISCARD_UNMAPPED_INTERRUPT)
	}
	if _, ok := t.eventCollection(r); !ok {
		return fail(model.E_ITS_DISCARD_UNMAPPED_INTERRUPT, "the event's collection %d is not mapped", r.icid)
	}
	t.invalidate(c.DeviceID, c.EventID, r.intid)
	d.del(c.EventID)
	t.writeBackITE(d, c.EventID, 0)
	t.rd.UnmapLPI(r.intid)
	return nil
}

func (t *ITS) intCmd(c model.INT) *cmdFailure {
	d, r, f := t.findEvent(c.DeviceID, c.EventID, intCodes)
	if f != nil {
		return f
	}
	if r.virtual {
		return t.virtualEvent(c, d, r, model.E_ITS_INT_UNMAPPED_INTERRUPT)
	}
	intid, cpu, ok := t.translate(c.DeviceID, c.EventID)
	if !ok {
		return fail(model.E_ITS_INT_UNMAPPED_INTERRUPT, "device %#x event %d does not translate (its collection is not mapped, or its table entries were overwritten)", uint32(c.DeviceID), c.EventID)
	}
	switch err := t.rd.SetPending(intid); {
	case errors.Is(err, model.ErrBusy):
		// GICR_CTLR.EnableLPIs = 0: commands involving LPIs on that
		// redistributor are ignored (IHI 0069, 12.11.2); KVM drops the
		// EBUSY its trigger returns. Nothing is cached, no error.
		return nil
	case err != nil:
		return &cmdFailure{cause: err, detail: fmt.Sprintf("the target redistributor %d refused the LPI", cpu)}
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
