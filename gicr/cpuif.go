package gicr

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// idlePriority is the running priority of a CPU with no active interrupt:
// lower than every priority, so anything unmasked may be taken.
const idlePriority = 0x100

// Acknowledge reads ICC_IAR1_EL1 on cpu: the highest-priority (numerically
// lowest) pending, enabled LPI whose priority is below both the priority
// mask and the running priority, lowest INTID among equals. That LPI stops
// being pending and becomes active: its priority is the new running
// priority. With no such LPI, or with the CPU's LPIs disabled, it returns
// [model.SpuriousINTID].
func (r *Redistributors) Acknowledge(cpu model.CPU) (model.INTID, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return 0, err
	}
	c.ifMu.Lock()
	defer c.ifMu.Unlock()
	if !c.enabled.Load() {
		return model.SpuriousINTID, nil
	}
	limit := min(int(c.pmr), idlePriority)
	if n := len(c.active); n > 0 {
		limit = min(limit, int(c.active[n-1].priority))
	}
	for {
		best, bestPrio := model.INTID(0), 0x100
		c.hints.each(func(g uint32) bool {
			r.scanGroup(c, g, func(intid model.INTID, s uint64) {
				cfg := model.LPIConfig(s & stateCfgMask)
				if p := int(cfg.Priority()); cfg.Enabled() && p < limit && p < bestPrio {
					best, bestPrio = intid, p
				}
			})
			return bestPrio != 0
		})
		if bestPrio == 0x100 {
			return model.SpuriousINTID, nil
		}
		// A MOVI, CLEAR, DISCARD or INV may have changed the LPI since the
		// scan: take it only if it is still pending here with the
		// configuration that chose it, and look again otherwise.
		p, i := r.page(best, false)
		still := func(s uint64) bool {
			cfg := model.LPIConfig(s & stateCfgMask)
			return takeable(s, c.id) && cfg.Enabled() && int(cfg.Priority()) == bestPrio
		}
		old, _ := update(p, i, func(s uint64) uint64 {
			if still(s) {
				return s &^ statePending
			}
			return s
		})
		if still(old) {
			c.active = append(c.active, activeLPI{intid: best, priority: uint8(bestPrio)})
			return best, nil
		}
	}
}

// takeable reports whether state word s is an LPI pending on cpu.
func takeable(s uint64, cpu model.CPU) bool {
	const want = stateExists | stateTargeted | statePending
	t, _ := targetOf(s)
	return s&want == want && t == cpu
}

// visitGroup calls fn, in ascending INTID order, for every LPI of hint
// group g that is pending on c, and reports whether there was one.
func (r *Redistributors) visitGroup(c *cpuState, g uint32, fn func(intid model.INTID, s uint64)) bool {
	first := model.INTID(g) << groupShift
	p, i := r.page(first, false)
	if p == nil {
		return false
	}
	found := false
	for k := range uint32(1 << groupShift) {
		if s := p.state[i+k].Load(); takeable(s, c.id) {
			found = true
			fn(first+model.INTID(k), s)
		}
	}
	return found
}

// scanGroup is visitGroup for a CPU interface looking for work: when group
// g holds nothing pending on c it clears c's hint bit of g, then looks
// again, so an LPI made pending meanwhile (state word first, hint second)
// keeps its hint.
func (r *Redistributors) scanGroup(c *cpuState, g uint32, fn func(intid model.INTID, s uint64)) {
	if r.visitGroup(c, g, fn) {
		return
	}
	c.hints.clear(g)
	if r.visitGroup(c, g, fn) {
		c.hints.set(g)
	}
}

// EOI writes ICC_EOIR1_EL1 on cpu: priority drop and deactivation of intid,
// which must be the last acknowledged LPI not yet EOId. A special INTID
// (1020..1023, the spurious one an acknowledge returns included) is
// ignored, as the architecture ignores it (IHI 0069, 12.2.9).
func (r *Redistributors) EOI(cpu model.CPU, intid model.INTID) error {
	c, err := r.cpu(cpu)
	if err != nil {
		return err
	}
	if intid >= 1020 && intid <= model.SpuriousINTID {
		return nil
	}
	c.ifMu.Lock()
	defer c.ifMu.Unlock()
	n := len(c.active)
	if n == 0 {
		return fmt.Errorf("CPU %d: EOI of INTID %d with no interrupt active: %w", cpu, intid, model.ErrInvalidArgument)
	}
	if top := c.active[n-1].intid; top != intid {
		return fmt.Errorf("CPU %d: EOI of INTID %d, but the last acknowledged interrupt not yet EOId is %d: %w", cpu, intid, top, model.ErrInvalidArgument)
	}
	c.active = c.active[:n-1]
	return nil
}

// SetPriorityMask writes ICC_PMR_EL1 on cpu: only LPIs of priority
// numerically below pmr are signalled.
func (r *Redistributors) SetPriorityMask(cpu model.CPU, pmr uint8) error {
	c, err := r.cpu(cpu)
	if err != nil {
		return err
	}
	c.ifMu.Lock()
	c.pmr = pmr
	c.ifMu.Unlock()
	return nil
}

// PriorityMask returns cpu's ICC_PMR_EL1.
func (r *Redistributors) PriorityMask(cpu model.CPU) (uint8, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return 0, err
	}
	c.ifMu.Lock()
	defer c.ifMu.Unlock()
	return c.pmr, nil
}

// RunningPriority returns cpu's running priority (ICC_RPR_EL1): the
// priority of the last acknowledged LPI not yet EOId, or 0xFF when none is
// active.
func (r *Redistributors) RunningPriority(cpu model.CPU) (uint8, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return 0, err
	}
	c.ifMu.Lock()
	defer c.ifMu.Unlock()
	if n := len(c.active); n > 0 {
		return c.active[n-1].priority, nil
	}
	return 0xFF, nil
}

// Pending returns the LPIs pending on cpu, ascending.
func (r *Redistributors) Pending(cpu model.CPU) ([]model.INTID, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return nil, err
	}
	var out []model.INTID
	c.hints.each(func(g uint32) bool {
		r.visitGroup(c, g, func(intid model.INTID, _ uint64) { out = append(out, intid) })
		return true
	})
	return out, nil
}
