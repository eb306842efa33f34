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
// A cache hit takes only its shard's read lock and does not allocate.
func (t *ITS) SignalMSI(dev model.DeviceID, ev model.EventID) (model.Delivery, error) {
	if c := t.cache; c != nil {
		key := cacheKey(dev, ev)
		s := c.shard(key)
		s.mu.RLock()
		if v, ok := s.m[key]; ok {
			err := t.rd.SetPending(model.CPU(v>>32), model.INTID(uint32(v)))
			s.mu.RUnlock()
			if err != nil {
				return model.Blocked, err
			}
			return model.Delivered, nil
		}
		s.mu.RUnlock()
	}
	return t.signalSlow(dev, ev)
}

// signalSlow is the translation cache miss: a walk of the tables in guest
// memory under the ITS mutex held for reading.
func (t *ITS) signalSlow(dev model.DeviceID, ev model.EventID) (model.Delivery, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.enabled {
		return model.Blocked, t.errDisabled
	}
	intid, cpu, ok := t.translate(dev, ev)
	if !ok {
		return model.Blocked, nil
	}
	if err := t.rd.SetPending(cpu, intid); err != nil {
		return model.Blocked, err
	}
	if t.cache != nil {
		t.cache.insert(cacheKey(dev, ev), cacheValue(intid, cpu))
	}
	return model.Delivered, nil
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
	v, err = t.read64(dte.ITTAddr + model.GPA(uint64(ev)*model.TableEntrySize))
	if err != nil {
		return 0, 0, false
	}
	ite := model.DecodeITE(v)
	r, ok := d.get(ev)
	if !ite.Valid() || !ok || ite.INTID != r.intid || ite.ICID != r.icid {
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
