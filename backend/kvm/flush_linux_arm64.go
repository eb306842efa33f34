//go:build linux && arm64

package kvm

import (
	"fmt"
	"sync"

	"github.com/gicits/gicits/model"
)

// Moving a pending LPI between vCPUs.
//
// KVM keeps every interrupt that is pending or active for a vCPU on that
// vCPU's list (vgic_cpu.ap_list_head) and fills the vCPU's list registers
// only from its own list (vgic_flush_lr_state). When the ITS retargets an
// LPI (MAPC of a mapped collection, MOVI, MOVALL; MAPTI or MAPI of an INTID
// whose struct vgic_irq lives on, the discard-pending difference),
// update_affinity changes only irq->target_vcpu, and vgic_queue_irq_unlock
// does not move an interrupt that is already queued: the LPI stays on the
// old vCPU's list until that vCPU next exits the guest, when
// vgic_prune_ap_list (from kvm_vgic_sync_hwstate) moves it to the tail of
// the new vCPU's list. A real guest's vCPUs exit all the time; this
// backend's run only when asked. Without help the new CPU's pending table
// shows the LPI (SAVE_PENDING_TABLES goes by target_vcpu) while its
// ICC_IAR1_EL1 reads 1023.
//
// So the backend runs every vCPU through one request round trip that
// changes nothing (opNone: two exits) where an LPI may have moved:
//
//   - right after a register write that made the ITS process MAPC, MOVI
//     or MOVALL, so that the moved LPI reaches its new vCPU's list before
//     any later one, as it would under a running guest, and the order
//     among equal priorities is arrival order;
//   - before the next Acknowledge after one that processed MAPTI or MAPI,
//     or a RestoreTables, which move an LPI only in rare cases, so that
//     set-up commands cost nothing.
//
// Which commands a write processed is read, not guessed: KVM processes the
// queue inside the write of GITS_CWRITER (or of GITS_CTLR enabling the
// ITS, which runs what waited), so the packets between GITS_CREADR before
// the write and after it are exactly those it ran, and they are read back
// from the queue in guest memory. The commands model.SubmitCommands writes
// and those a caller writes by hand are classified alike.
//
// Acknowledges with nothing moved since cost nothing more.

// moveKind says whether commands may leave a pending LPI on the list of a
// vCPU it no longer targets.
type moveKind int

const (
	movesNothing moveKind = iota
	mayMoveLPIs           // settle before the next Acknowledge
	movesLPIs             // settle now
)

// retargets classifies one command by its opcode.
func retargets(op model.Opcode) moveKind {
	switch op {
	case model.OpMAPC, model.OpMOVI, model.OpMOVALL:
		return movesLPIs
	case model.OpMAPTI, model.OpMAPI:
		return mayMoveLPIs
	}
	return movesNothing
}

// processCommands writes v to reg, an ITS register whose write may make
// KVM process commands, and settles after the commands it processed: those
// at [GITS_CREADR before, GITS_CREADR after) in the queue GITS_CBASER
// names. GITS_CBASER and GITS_CREADR before come from b.queue when nothing
// has changed them since the last time (a register read costs about as
// much as a KVM_SIGNAL_MSI), so a GITS_CWRITER write costs one read more
// than the write. The caller holds mu, inside stopped; the caller wraps
// the error.
func (b *backend) processCommands(i int, reg model.ITSRegister, v uint64) error {
	if _, err := b.itsFD(i); err != nil {
		return err
	}
	cb, from := b.queue[i].cbaser, b.queue[i].creadr
	if !b.queue[i].known {
		var err error
		if cb, err = b.readITS(i, model.GITS_CBASER); err != nil {
			return err
		}
		if from, err = b.readITS(i, model.GITS_CREADR); err != nil {
			return err
		}
	}
	if err := b.writeITS(i, reg, v); err != nil {
		return err
	}
	to, err := b.readITS(i, model.GITS_CREADR)
	if err != nil {
		b.retargeted = true // commands may have run: settle before the next acknowledge
		return err
	}
	b.queue[i] = queueState{known: true, cbaser: cb, creadr: to}
	return b.afterCommands(b.queuedMoves(model.CBASER(cb), from, to))
}

// queuedMoves classifies the commands at queue offsets [from, to) of cb's
// queue, read from guest memory. Offsets outside the queue, or a packet
// that cannot be read, count as moving LPIs: settling costs time, missing
// one loses an LPI.
func (b *backend) queuedMoves(cb model.CBASER, from, to uint64) moveKind {
	size := uint64(cb.SizeBytes())
	from &= model.GITS_CQ_OffsetMask
	to &= model.GITS_CQ_OffsetMask
	if from >= size || to >= size {
		return movesLPIs
	}
	k := movesNothing
	for off := from; off != to; off = (off + model.CommandSize) % size {
		var p model.Packet
		if err := b.mem.ReadAt(p[:], cb.Addr()+model.GPA(off)); err != nil {
			return movesLPIs
		}
		k = max(k, retargets(p.Opcode()))
		if k == movesLPIs {
			break
		}
	}
	return k
}

// afterCommands settles after commands of kind k. The caller holds
// mu, inside stopped.
func (b *backend) afterCommands(k moveKind) error {
	switch k {
	case movesLPIs:
		b.retargeted = true
		return b.settleMovedLPIs(-1)
	case mayMoveLPIs:
		b.retargeted = true
	}
	return nil
}

// settleMovedLPIs gives every vCPU but the one numbered except (-1: none;
// that one is about to run anyway and prunes its list when it exits) and
// any held in the guest (which exits on its own) one KVM_RUN round trip if
// an LPI may have moved since the last time, so that KVM moves it to its
// new vCPU's list. The vCPUs run concurrently, each on its own thread. The
// caller holds mu, inside stopped.
func (b *backend) settleMovedLPIs(except int) error {
	if !b.retargeted {
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, len(b.vcpus))
	for i, v := range b.vcpus {
		if i == except || v.isHeld() {
			continue
		}
		wg.Go(func() {
			if _, err := v.request(opNone, 0); err != nil {
				errs[i] = fmt.Errorf("vCPU %d: running it so that KVM moves its LPIs: %w", i, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	b.retargeted = false
	return nil
}
