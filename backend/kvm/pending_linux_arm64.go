//go:build linux && arm64

package kvm

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"

	"github.com/gicits/gicits/backend/kvm/internal/kvmsys"
	"github.com/gicits/gicits/model"
)

// KVM tells userspace which LPIs are pending in one way only:
// KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES writes, into the pending table each
// vCPU's GICR_PENDBASER points at, the bit of every LPI that has a target
// vCPU, set or cleared as the LPI is pending or not
// (vgic_v3_save_pending_tables); every other bit stays as it was.
//
// Those tables are not always KVM's to write. Until a redistributor's
// GICR_CTLR.EnableLPIs is set its pending table is software's (IHI 0069,
// 5.1.2): a bit set there is an LPI software wants pending when EnableLPIs
// loads the table (PTZ = 0), and the save clears it when the LPI exists and
// is not pending yet. So Pending borrows the tables: it copies every one,
// zeroes the asked CPU's so that only KVM's bits show, saves, reads, and
// puts every byte back. SaveTables, whose contract is to write the pending
// tables, writes them.

// pendingTable is the LPI part of one redistributor's pending table, where
// its GICR_PENDBASER puts it: from the byte of INTID 8192 (the first 1 KiB
// covers INTIDs below 8192, which are not LPIs: KVM never writes it) to
// that of INTID 2^idBits, cut at the end of RAM.
//
// # Notes
//
// A CPU whose GICR_PENDBASER is 0 or points outside RAM has no table
// (n = 0, addr 0): every loop over the tables skips it, for guest memory
// has nothing at its address to zero, copy or put back.
type pendingTable struct {
	addr model.GPA // of INTID 8192's byte
	n    int       // 0: the CPU has no pending table in RAM
}

// inRAM reports whether the CPU has a pending table in RAM.
func (t pendingTable) inRAM() bool { return t.n > 0 }

// pendingTables returns every CPU's pending table covering INTIDs below
// 2^idBits, indexed by CPU, from the live GICR_PENDBASERs. The caller holds
// mu.
func (b *backend) pendingTables(idBits int) ([]pendingTable, error) {
	first := model.GPA(model.LPIBase / 8)
	ramEnd := b.layout.RAMBase + model.GPA(b.layout.RAMSize)
	tables := make([]pendingTable, len(b.vcpus))
	for i := range b.vcpus {
		v, err := b.readGICR(model.CPU(i), model.GICR_PENDBASER)
		if err != nil {
			return nil, err
		}
		base := model.PendBaser(v).Addr()
		start := base + first
		if base == 0 || start < b.layout.RAMBase || start >= ramEnd {
			continue
		}
		if end := min(base+model.GPA(uint64(1)<<idBits/8), ramEnd); end > start {
			tables[i] = pendingTable{addr: start, n: int(end - start)}
		}
	}
	return tables, nil
}

// saveLPIPendingState has KVM write every LPI's pending bit into the
// pending tables. The caller holds mu.
func (b *backend) saveLPIPendingState() error {
	if err := kvmsys.SetAttrCtrl(b.vgic, kvmsys.KVM_DEV_ARM_VGIC_GRP_CTRL, kvmsys.KVM_DEV_ARM_VGIC_SAVE_PENDING_TABLES); err != nil {
		return fmt.Errorf("SAVE_PENDING_TABLES: %w", err)
	}
	return nil
}

// savePendingTables writes every pending table exactly, for SaveTables:
// the LPI part zeroed up to INTID 2^GICR_PROPBASER.IDbits (at most KVM's
// 16 bits), as the simulator writes it, then KVM's save sets the bits of
// the pending LPIs. The caller holds mu and memMu.
func (b *backend) savePendingTables() error {
	prop, err := b.readGICR(0, model.GICR_PROPBASER)
	if err != nil {
		return err
	}
	tables, err := b.pendingTables(min(model.PropBaser(prop).IDBits(), maxKVMLPIIDBits))
	if err != nil {
		return err
	}
	for cpu, t := range tables {
		if !t.inRAM() {
			continue
		}
		if err := model.Zero(b.mem, t.addr, t.n); err != nil {
			return fmt.Errorf("clearing the pending table of CPU %d: %w", cpu, err)
		}
	}
	return b.saveLPIPendingState()
}

// Pending returns the LPIs pending on cpu, borrowing the pending tables
// (see above): guest memory is as it was when it returns.
func (b *backend) Pending(cpu model.CPU) ([]model.INTID, error) {
	if err := b.checkCPU(cpu); err != nil {
		return nil, wrap(err)
	}
	var out []model.INTID
	err := b.stopped(func() (err error) {
		b.memMu.Lock()
		defer b.memMu.Unlock()
		out, err = b.readPending(cpu)
		return err
	})
	if err != nil {
		return nil, wrap(err)
	}
	return out, nil
}

// readPending is Pending's work; the caller holds mu and memMu.
func (b *backend) readPending(cpu model.CPU) (_ []model.INTID, err error) {
	tables, err := b.pendingTables(maxKVMLPIIDBits)
	if err != nil {
		return nil, err
	}
	own := tables[cpu]
	if !own.inRAM() {
		return nil, fmt.Errorf("CPU %d's GICR_PENDBASER points at no pending table in RAM, where KVM would save its pending LPIs: %w", cpu, model.ErrNotSupported)
	}
	saved := make([][]byte, len(tables))
	for i, t := range tables {
		if !t.inRAM() {
			continue
		}
		p, err := b.mem.Slice(t.addr, t.n)
		if err != nil {
			return nil, err
		}
		saved[i] = bytes.Clone(p)
	}
	// Every copy is of memory as it was, so writing them back in any
	// order restores it, even where two tables overlap.
	defer func() {
		for i, t := range tables {
			if !t.inRAM() {
				continue
			}
			if werr := b.mem.WriteAt(saved[i], t.addr); werr != nil {
				err = errors.Join(err, fmt.Errorf("putting back the pending table of CPU %d: %w", i, werr))
			}
		}
	}()
	if err := model.Zero(b.mem, own.addr, own.n); err != nil {
		return nil, err
	}
	if err := b.saveLPIPendingState(); err != nil {
		return nil, err
	}
	p, err := b.mem.Slice(own.addr, own.n)
	if err != nil {
		return nil, err
	}
	var out []model.INTID
	for i, v := range p {
		for ; v != 0; v &= v - 1 {
			out = append(out, model.LPIBase+model.INTID(8*i+bits.TrailingZeros8(v)))
		}
	}
	return out, nil
}
