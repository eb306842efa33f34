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
//   - right after a command batch holding MAPC, MOVI or MOVALL, or commands
//     it did not write itself (a GITS_CWRITER write), so that the moved LPI
//     reaches its new vCPU's list before any later one, as it would under a
//     running guest, and the order among equal priorities is arrival order;
//   - before the next Acknowledge after a batch holding MAPTI or MAPI or a
//     RestoreTables, which move an LPI only in rare cases, so that set-up
//     batches cost nothing.
//
// Acknowledges with nothing moved since cost nothing more.

// moveKind says whether a command batch may leave a pending LPI on the
// list of a vCPU it no longer targets.
type moveKind int

const (
	movesNothing moveKind = iota
	mayMoveLPIs           // settle before the next Acknowledge
	movesLPIs             // settle now
)

// retargets classifies a command batch.
func retargets(packets []model.Packet) moveKind {
	k := movesNothing
	for _, p := range packets {
		switch p.Opcode() {
		case model.OpMAPC, model.OpMOVI, model.OpMOVALL:
			return movesLPIs
		case model.OpMAPTI, model.OpMAPI:
			k = mayMoveLPIs
		}
	}
	return k
}

// afterCommands settles after a command batch of kind k. The caller holds
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
