package its

import (
	"github.com/gicits/gicits/model"
)

// SignalMSI translates a write of EventID ev by device dev to
// GITS_TRANSLATER and makes the LPI it names pending on its target:
// [model.Delivered]; [model.Blocked] when nothing translates (unmapped
// device or event, unmapped or orphaned collection). It fails with an
// error wrapping [model.ErrBusy] when the ITS is disabled or the target
// redistributor's LPIs are disabled (KVM's EBUSY).
//
// A cache hit takes no lock, writes nothing shared when the LPI is already
// pending, and otherwise makes it pending with one compare-and-swap; it
// does not allocate.
func (t *ITS) SignalMSI(dev model.DeviceID, ev model.EventID) (model.Delivery, error) {
	if c := t.cache; c != nil {
		if v, ok := c.lookup(dev, ev); ok {
			if v&cacheVirtual != 0 {
				h := uint32(v>>32) & 0xFFFF
				if ok, ring, err := t.vrd.PendVirtualTranslated(h, t.number, model.INTID(uint32(v)), uint32(v>>48)&0x7FFF); ok {
					if err != nil {
						return model.Blocked, err
					}
					if ring {
						t.ringEventDoorbell(dev, ev, h)
					}
					return model.Delivered, nil
				}
			} else if ok, err := t.rd.PendTranslated(model.INTID(uint32(v)), uint32(v>>32)); ok {
				if err != nil {
					return model.Blocked, err
				}
				return model.Delivered, nil
			}
		}
	}
	return t.signalSlow(dev, ev)
}

// signalSlow is the translation cache miss: a walk of the tables in guest
// memory under the ITS mutex held for reading. Commands, which revoke
// translations, hold the mutex for writing, so the generation cached here
// is the one the walk saw.
func (t *ITS) signalSlow(dev model.DeviceID, ev model.EventID) (model.Delivery, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.enabled {
		return model.Blocked, t.errDisabled
	}
	intid, _, ok := t.translate(dev, ev)
	if !ok {
		return t.signalVirtual(dev, ev)
	}
	if err := t.rd.SetPending(intid); err != nil {
		return model.Blocked, err
	}
	t.cacheTranslation(dev, ev, intid)
	return model.Delivered, nil
}

// cacheTranslation records a translation the tables just gave, with the
// LPI's current generation. Called with mu held.
func (t *ITS) cacheTranslation(dev model.DeviceID, ev model.EventID, intid model.INTID) {
	if t.cache != nil {
		t.cache.insert(dev, ev, cacheValue(intid, t.rd.Generation(intid)))
	}
}

// translate walks the tables in guest memory, as QEMU's emulated ITS does:
// DTE (through the L1 entry of a two-level table), then the ITE, then the
// collection; and cross-checks the entries against the ITS's own record.
// It returns the LPI and its target CPU. Called with mu held.
func (t *ITS) translate(dev model.DeviceID, ev model.EventID) (model.INTID, model.CPU, bool) {
	d := t.devices[dev]
	if d == nil {
		return 0, 0, false
	}
	addr, fault := t.dteAddr(dev)
	if !fault.ok() {
		return 0, 0, false
	}
	v, err := t.read64(addr)
	if err != nil {
		return 0, 0, false
	}
	dte := model.DecodeDTE(v)
	if !dte.Valid || dte.ITTAddr != d.itt || dte.Size != d.size {
		return 0, 0, false
	}
	if uint64(ev) >= uint64(1)<<(int(dte.Size)+1) {
		return 0, 0, false
	}
	v, err = t.read64(t.iteAddr(dte.ITTAddr, ev))
	if err != nil {
		return 0, 0, false
	}
	ite := model.DecodeITE(v)
	r, ok := d.get(ev)
	if !ite.Valid() || !ok || r.virtual || ite.INTID != r.intid || ite.ICID != r.icid {
		return 0, 0, false
	}
	if _, ok := t.eventCollection(r); !ok {
		return 0, 0, false
	}
	cpu, ok := t.rd.LPITarget(r.intid)
	if !ok {
		return 0, 0, false
	}
	return r.intid, cpu, true
}

// signalVirtual is the table walk of an MSI that did not translate to a
// physical LPI: if its ITT entry is virtual, the vLPI is delivered to its
// vPE. Called with mu held for reading.
func (t *ITS) signalVirtual(dev model.DeviceID, ev model.EventID) (model.Delivery, error) {
	if t.vrd == nil {
		return model.Blocked, nil
	}
	d := t.devices[dev]
	if d == nil {
		return model.Blocked, nil
	}
	r, ok := d.get(ev)
	if !ok || !r.virtual {
		return model.Blocked, nil
	}
	addr, fault := t.dteAddr(dev)
	if !fault.ok() {
		return model.Blocked, nil
	}
	raw, err := t.read64(addr)
	if err != nil {
		return model.Blocked, nil
	}
	dte := model.DecodeDTE(raw)
	if !dte.Valid || dte.ITTAddr != d.itt || dte.Size != d.size {
		return model.Blocked, nil
	}
	dw, err := t.readITE(dte.ITTAddr, ev)
	if err != nil {
		return model.Blocked, nil
	}
	v, vintid, ok := t.translateVirtual(dte.ITTAddr, ev, dw, r)
	if !ok {
		return model.Blocked, nil
	}
	if err := t.vrd.SetVirtualPending(v.handle, t.number, vintid, r.doorbell); err != nil {
		return model.Blocked, err
	}
	t.cacheVirtualTranslation(dev, ev, v, vintid)
	return model.Delivered, nil
}

// ringEventDoorbell rings the GICv4.0 doorbell of event (dev, ev), whose
// cached translation just delivered a vLPI to vPE h while it was not
// scheduled: the cache keeps no doorbell, so the event's record gives
// it. Had a command changed the event meanwhile, the doorbell rung is the
// new mapping's, or none: a doorbell may be spurious, never lost.
func (t *ITS) ringEventDoorbell(dev model.DeviceID, ev model.EventID, h uint32) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if d := t.devices[dev]; d != nil {
		if r, ok := d.get(ev); ok && r.virtual {
			t.vrd.RingVPEDoorbell(h, t.number, r.doorbell)
		}
	}
}
