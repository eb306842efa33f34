package gicr

import (
	"errors"
	"fmt"

	"github.com/gicits/gicits/model"
)

// IIDR is the value GICR_IIDR reads: Linux KVM's (ProductID 0x4B, ARM as
// implementer, 0x43B). Its Revision field is 0, as KVM's is in 6.1 and 6.12
// (vgic_mmio_read_v3r_iidr): KVM keeps its implementation revision in
// GICD_IIDR, a distributor register gicits does not model, and the default
// for a new VM (KVM_VGIC_IMP_REV_3) is the one that sets GICR_CTLR.IR and
// CES, which GICR_CTLR reads here too.
const IIDR = 0x4B00043B

// Writable bits of GICR_PROPBASER (IHI 0069, 12.11.26): OuterCache 58:56,
// Physical_Address 51:12, Shareability 11:10, InnerCache 9:7, IDbits 4:0.
const propBaserMask = uint64(7)<<56 | (uint64(1)<<52-1)&^(uint64(1)<<12-1) | 0xF9F

// Writable bits of GICR_PENDBASER (IHI 0069, 12.11.25): PTZ 62 (stored,
// reads 0), OuterCache 58:56, Physical_Address 51:16, Shareability 11:10,
// InnerCache 9:7.
const pendBaserMask = model.GICR_PENDBASER_PTZ | uint64(7)<<56 | (uint64(1)<<52-1)&^(uint64(1)<<16-1) | 0xF80

// ReadRegister reads a register of cpu's RD_base frame. Registers gicits
// does not model read as 0.
func (r *Redistributors) ReadRegister(cpu model.CPU, reg model.GICRRegister) (uint64, error) {
	c, err := r.cpu(cpu)
	if err != nil {
		return 0, err
	}
	switch reg {
	case model.GICR_CTLR:
		v := model.GICR_CTLR_CES | model.GICR_CTLR_IR
		if c.enabled.Load() {
			v |= model.GICR_CTLR_EnableLPIs
		}
		return v, nil
	case model.GICR_IIDR:
		return IIDR, nil
	case model.GICR_TYPER:
		v := model.RedistributorTyper(cpu, len(r.cpus))
		if r.Virtual() {
			v |= model.GICR_TYPER_VLPIS | model.GICR_TYPER_Dirty
		}
		if r.GICv41() {
			v |= model.GICR_TYPER_RVPEID | model.GICR_TYPER_VSGI
		}
		return v, nil
	case model.GICR_VSGIR, model.GICR_VSGIPENDR:
		if !r.GICv41() {
			return 0, nil // RES0 without GICv4.1
		}
		return r.readVirtualRegister(c, reg), nil
	case model.GICR_VPROPBASER, model.GICR_VPENDBASER:
		if err := r.checkVirtual(cpu, reg); err != nil {
			return 0, err
		}
		return r.readVirtualRegister(c, reg), nil
	case model.GICR_PROPBASER:
		return r.propbaser.Load(), nil
	case model.GICR_PENDBASER:
		r.mu.Lock()
		defer r.mu.Unlock()
		return c.pendbaser &^ model.GICR_PENDBASER_PTZ, nil
	case model.GICR_INVLPIR, model.GICR_INVALLR, model.GICR_SYNCR:
		return 0, nil // write-only, or (SYNCR) never busy
	}
	if reg >= 0x10000 {
		return 0, fmt.Errorf("redistributor %d: offset %#x is outside the RD_base frame: %w", cpu, uint32(reg), model.ErrInvalidArgument)
	}
	return 0, nil
}

// WriteRegister writes a register of cpu's RD_base frame.
//
// Callers that cache translations must stop MSIs around a GICR_CTLR write
// that clears EnableLPIs (package its's ITS.StopTranslations), so no MSI
// that passed the EnableLPIs check lands after it. GICR_PROPBASER and GICR_PENDBASER writes while
// EnableLPIs is 1 are ignored. Read-only registers ignore writes.
func (r *Redistributors) WriteRegister(cpu model.CPU, reg model.GICRRegister, v uint64) error {
	c, err := r.cpu(cpu)
	if err != nil {
		return err
	}
	switch reg {
	case model.GICR_CTLR:
		return r.writeCTLR(c, v&model.GICR_CTLR_EnableLPIs != 0)
	case model.GICR_PROPBASER:
		r.mu.Lock()
		defer r.mu.Unlock()
		if !c.enabled.Load() {
			r.propbaser.Store(model.SanitiseCacheability(v&propBaserMask, model.RedistCacheFields))
		}
		return nil
	case model.GICR_PENDBASER:
		r.mu.Lock()
		defer r.mu.Unlock()
		if !c.enabled.Load() {
			c.pendbaser = model.SanitiseCacheability(v&pendBaserMask, model.RedistCacheFields)
		}
		return nil
	case model.GICR_INVLPIR, model.GICR_INVALLR:
		// With V (GICv4.1) they name a vPE: see invalidateByRegister.
		if g := r.v41.Load(); g != nil && v&model.GICR_INVLPIR_V != 0 {
			r.invalidateByRegister(g, reg, v)
			return nil
		}
		// Written through a redistributor whose EnableLPIs is 0, they
		// are ignored, as KVM's vgic_mmio_write_invlpi and _invall
		// ignore them: that redistributor has no LPI state to refresh.
		if !c.enabled.Load() {
			return nil
		}
		if reg == model.GICR_INVLPIR {
			r.InvalidateLPI(model.INTID(uint32(v)))
		} else {
			r.InvalidateAll(cpu)
		}
		return nil
	case model.GICR_IIDR, model.GICR_TYPER, model.GICR_SYNCR:
		return nil
	case model.GICR_VSGIR, model.GICR_VSGIPENDR:
		if !r.GICv41() {
			return nil // RES0 without GICv4.1
		}
		return r.writeVirtualRegister(c, reg, v)
	case model.GICR_VPROPBASER, model.GICR_VPENDBASER:
		if err := r.checkVirtual(cpu, reg); err != nil {
			return err
		}
		return r.writeVirtualRegister(c, reg, v)
	}
	if reg >= 0x10000 {
		return fmt.Errorf("redistributor %d: offset %#x is outside the RD_base frame: %w", cpu, uint32(reg), model.ErrInvalidArgument)
	}
	return nil
}

func (r *Redistributors) writeCTLR(c *cpuState, enable bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	was := c.enabled.Load()
	switch {
	case enable && !was:
		if c.pendbaser&model.GICR_PENDBASER_PTZ == 0 {
			r.loadPendingTable(c)
		}
		c.enabled.Store(true)
	case !enable && was:
		c.enabled.Store(false)
	}
	return nil
}

// loadPendingTable makes pending every LPI targeting c whose bit is set in
// c's pending table, and consumes the bit. Called with mu held.
func (r *Redistributors) loadPendingTable(c *cpuState) {
	r.eachLPI(func(p *lpiPage, i uint32, intid model.INTID, s uint64) {
		if cpu, ok := targetOf(s); ok && cpu == c.id && r.consumePendingBit(c, intid) {
			p.state[i].Or(statePending)
			c.hint(intid)
		}
	})
}

// SavePendingTables writes every CPU's pending table exactly: the bit of
// each LPI pending on that CPU set, every other LPI bit (INTIDs 8192 up to
// 2^IDbits) cleared; the first 1 KiB, which covers INTIDs below 8192, is
// not touched (KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES, with stale bits
// cleared). A CPU whose GICR_PENDBASER is 0 is skipped.
func (r *Redistributors) SavePendingTables() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	nbytes := (uint64(1) << r.idBits()) / 8
	const first = uint64(model.LPIBase) / 8
	if nbytes <= first {
		return nil
	}
	bufs := make([][]byte, len(r.cpus))
	for _, c := range r.cpus {
		if model.PendBaser(c.pendbaser).Addr() != 0 {
			bufs[c.id] = make([]byte, nbytes-first)
		}
	}
	r.eachLPI(func(_ *lpiPage, _ uint32, intid model.INTID, s uint64) {
		cpu, ok := targetOf(s)
		if !ok || s&statePending == 0 || bufs[cpu] == nil || uint64(intid)/8 >= nbytes {
			return
		}
		bufs[cpu][uint64(intid)/8-first] |= 1 << (intid % 8)
	})
	var errs []error
	for _, c := range r.cpus {
		if bufs[c.id] == nil {
			continue
		}
		if err := r.mem.WriteAt(bufs[c.id], model.PendBaser(c.pendbaser).Addr()+model.GPA(first)); err != nil {
			errs = append(errs, fmt.Errorf("redistributor %d: saving the pending table: %w", c.id, err))
		}
	}
	return errors.Join(errs...)
}

// checkVirtual refuses a VLPI_base register of redistributors without
// virtual LPIs: a GICv3 redistributor has no such frame.
func (r *Redistributors) checkVirtual(cpu model.CPU, reg model.GICRRegister) error {
	if r.Virtual() {
		return nil
	}
	return fmt.Errorf("redistributor %d: %v is in the VLPI_base frame, which a redistributor without virtual LPIs (GICR_TYPER.VLPIS = 0, GICv3) does not have: %w", cpu, reg, model.ErrInvalidArgument)
}
