package gicr

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// scheduled returns the vPE scheduled on cpu, or an error saying there is
// none.
func (r *Redistributors) scheduled(cpu model.CPU) (*vpe, error) {
	_, v, err := r.scheduledOn(cpu)
	return v, err
}

// scheduledOn returns cpu's redistributor and the vPE scheduled there.
func (r *Redistributors) scheduledOn(cpu model.CPU) (*cpuState, *vpe, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return nil, nil, err
	}
	v := c.resident.Load()
	if v == nil {
		return nil, nil, fmt.Errorf("redistributor %d: no vPE is scheduled (GICR_VPENDBASER.Valid = 0): %w", cpu, model.ErrInvalidArgument)
	}
	return c, v, nil
}

// PendingVirtual returns the virtual interrupts pending for the vPE
// scheduled on cpu, ascending: its vSGIs (GICv4.1), then its vLPIs.
func (r *Redistributors) PendingVirtual(cpu model.CPU) ([]model.INTID, error) {
	v, err := r.scheduled(cpu)
	if err != nil {
		return nil, err
	}
	var out []model.INTID
	for p, i := v.sgiPending.Load(), 0; p>>i != 0; i++ {
		if p>>i&1 != 0 {
			out = append(out, model.INTID(i))
		}
	}
	v.hints.each(func(g uint32) bool {
		v.visitGroup(g, func(vintid model.INTID, _ uint64) { out = append(out, vintid) })
		return true
	})
	return out, nil
}

// visitGroup calls fn, ascending, for every pending vLPI of hint group g
// of v, and reports whether there was one.
func (v *vpe) visitGroup(g uint32, fn func(vintid model.INTID, s uint64)) bool {
	first := model.INTID(g) << groupShift
	p, i := v.page(first, false)
	if p == nil {
		return false
	}
	found := false
	for k := range uint32(1 << groupShift) {
		if s := p.state[i+k].Load(); s&vPending != 0 {
			found = true
			fn(first+model.INTID(k), s)
		}
	}
	return found
}

// scanGroup is visitGroup for an acknowledge: a group found empty loses
// its hint, then is looked at again (as for physical LPIs).
func (v *vpe) scanGroup(g uint32, fn func(vintid model.INTID, s uint64)) {
	if v.visitGroup(g, fn) {
		return
	}
	v.hints.clear(g)
	if v.visitGroup(g, fn) {
		v.hints.set(g)
	}
}

// AcknowledgeVirtual reads ICV_IAR1_EL1 in the vPE scheduled on cpu: the
// highest-priority pending, enabled Group 1 interrupt below both the vPE's
// priority mask and its running priority, lowest vINTID among equals,
// which stops being pending and becomes active. With none it returns
// [model.SpuriousINTID]. vLPIs are Group 1, their configuration the one
// cached from the vPE's virtual LPI configuration table (at scheduling,
// INV, VINVALL, GICR_INVLPIR); on GICv4.1 vSGIs (0..15, configured by
// VSGI) compete with them, and neither is signalled while the resident
// vPE's GICR_VPENDBASER.VGrp1En is 0. Group 0 vSGIs stay pending: they
// are ICV_IAR0_EL1's, which is not modelled.
func (r *Redistributors) AcknowledgeVirtual(cpu model.CPU) (model.INTID, error) {
	c, v, err := r.scheduledOn(cpu)
	if err != nil {
		return 0, err
	}
	v.ifMu.Lock()
	defer v.ifMu.Unlock()
	limit := min(int(v.pmr), idlePriority)
	if n := len(v.active); n > 0 {
		limit = min(limit, int(v.active[n-1].priority))
	}
	if !r.groupEnabled(c, true) {
		return model.SpuriousINTID, nil
	}
	for {
		best, bestPrio := model.INTID(0), 0x100
		for p, i := v.sgiPending.Load(), 0; p>>i != 0; i++ {
			if cfg := v.sgiCfg[i]; p>>i&1 != 0 && cfg.enable && cfg.group1 && int(cfg.priority) < limit && int(cfg.priority) < bestPrio {
				best, bestPrio = model.INTID(i), int(cfg.priority)
			}
		}
		v.hints.each(func(g uint32) bool {
			v.scanGroup(g, func(vintid model.INTID, s uint64) {
				cfg := model.LPIConfig(s & vCfgMask)
				if p := int(cfg.Priority()); cfg.Enabled() && p < limit && p < bestPrio {
					best, bestPrio = vintid, p
				}
			})
			return bestPrio != 0
		})
		if bestPrio == 0x100 {
			return model.SpuriousINTID, nil
		}
		if best < 16 {
			bit := uint32(1) << best
			if v.sgiPending.And(^bit)&bit != 0 {
				v.active = append(v.active, activeLPI{intid: best, priority: uint8(bestPrio)})
				return best, nil
			}
			continue // cleared meanwhile (VSGI Clear): look again
		}
		p, i := v.page(best, false)
		s := p.state[i].Load()
		cfg := model.LPIConfig(s & vCfgMask)
		if s&vPending != 0 && cfg.Enabled() && int(cfg.Priority()) == bestPrio && p.state[i].CompareAndSwap(s, s&^vPending) {
			v.active = append(v.active, activeLPI{intid: best, priority: uint8(bestPrio)})
			return best, nil
		}
	}
}

// EOIVirtual writes ICV_EOIR1_EL1 in the vPE scheduled on cpu, with the
// rules of [Redistributors.EOI].
func (r *Redistributors) EOIVirtual(cpu model.CPU, vintid model.INTID) error {
	v, err := r.scheduled(cpu)
	if err != nil {
		return err
	}
	if vintid >= 1020 && vintid <= model.SpuriousINTID {
		return nil
	}
	v.ifMu.Lock()
	defer v.ifMu.Unlock()
	n := len(v.active)
	if n == 0 {
		return fmt.Errorf("CPU %d: virtual EOI of vINTID %d with no vLPI active in the scheduled vPE: %w", cpu, vintid, model.ErrInvalidArgument)
	}
	if top := v.active[n-1].intid; top != vintid {
		return fmt.Errorf("CPU %d: virtual EOI of vINTID %d, but the last acknowledged vLPI not yet EOId is %d: %w", cpu, vintid, top, model.ErrInvalidArgument)
	}
	v.active = v.active[:n-1]
	return nil
}

// SetVirtualPriorityMask writes ICV_PMR_EL1 in the vPE scheduled on cpu.
// The mask is the vPE's and stays with it when it is descheduled.
func (r *Redistributors) SetVirtualPriorityMask(cpu model.CPU, pmr uint8) error {
	v, err := r.scheduled(cpu)
	if err != nil {
		return err
	}
	v.ifMu.Lock()
	v.pmr = pmr
	v.ifMu.Unlock()
	return nil
}
