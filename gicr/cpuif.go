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
		best, bestPrio := uint32(0), 0x100
		c.pending.each(func(i uint32) bool {
			s := r.state(model.INTID(i))
			if s&stateExists == 0 {
				return true
			}
			cfg := model.LPIConfig(s & stateCfgMask)
			if !cfg.Enabled() {
				return true
			}
			p := int(cfg.Priority())
			if p < limit && p < bestPrio {
				best, bestPrio = i, p
			}
			return bestPrio != 0
		})
		if bestPrio == 0x100 {
			return model.SpuriousINTID, nil
		}
		// A MOVI, CLEAR or DISCARD may have taken the bit meanwhile: look
		// again if so.
		if c.pending.clear(best) {
			c.active = append(c.active, activeLPI{intid: model.INTID(best), priority: uint8(bestPrio)})
			return model.INTID(best), nil
		}
	}
}

// EOI writes ICC_EOIR1_EL1 on cpu: priority drop and deactivation of intid,
// which must be the last acknowledged LPI not yet EOId.
func (r *Redistributors) EOI(cpu model.CPU, intid model.INTID) error {
	c, err := r.cpu(cpu)
	if err != nil {
		return err
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
	c.pending.each(func(i uint32) bool {
		out = append(out, model.INTID(i))
		return true
	})
	return out, nil
}
