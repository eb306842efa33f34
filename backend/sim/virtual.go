package sim

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

var _ model.VirtualCPUInterface = (*Backend)(nil)

// PendingVirtual returns the vLPIs pending for the vPE scheduled on cpu.
func (b *Backend) PendingVirtual(cpu model.CPU) ([]model.INTID, error) {
	if err := b.virtualReady(); err != nil {
		return nil, err
	}
	return b.rd.PendingVirtual(cpu)
}

// AcknowledgeVirtual reads ICV_IAR1_EL1 in the vPE scheduled on cpu.
func (b *Backend) AcknowledgeVirtual(cpu model.CPU) (model.INTID, error) {
	if err := b.virtualReady(); err != nil {
		return 0, err
	}
	return b.rd.AcknowledgeVirtual(cpu)
}

// EOIVirtual writes ICV_EOIR1_EL1 in the vPE scheduled on cpu.
func (b *Backend) EOIVirtual(cpu model.CPU, vintid model.INTID) error {
	if err := b.virtualReady(); err != nil {
		return err
	}
	return b.rd.EOIVirtual(cpu, vintid)
}

// SetVirtualPriorityMask writes ICV_PMR_EL1 in the vPE scheduled on cpu.
func (b *Backend) SetVirtualPriorityMask(cpu model.CPU, pmr uint8) error {
	if err := b.virtualReady(); err != nil {
		return err
	}
	return b.rd.SetVirtualPriorityMask(cpu, pmr)
}

// virtualReady refuses the virtual CPU interface of a closed backend, or
// of one opened without GITS_TYPER.Virtual.
func (b *Backend) virtualReady() error {
	if b.closed.Load() {
		return errClosed
	}
	if !b.cfg.ITSTyper.Virtual() {
		return errNoVirtual
	}
	return nil
}

var errNoVirtual = fmt.Errorf("sim: no vPEs: the backend was opened with a GICv3 ITS; open it with GITS_TYPER.Virtual (model.GICv4ITSTyper): %w", model.ErrNotSupported)

var _ model.DistributorRegisters = (*Backend)(nil)

// gicdFrameSize is the size of the distributor's GICD frame.
const gicdFrameSize = 0x10000

// ReadDistributorRegister reads a register of the distributor's GICD
// frame. Only GICD_TYPER2 is modelled: on a GICv4.1 GIC (the backend
// opened with [model.GICv41ITSTyper] or another GITS_TYPER with Virtual
// and VMAPP) it reads VIL = 1, VID = 15: 16 bits of vPEID, the width of
// the commands' vPEID field and of the simulator's vPE records. Every
// other offset in the frame, and GICD_TYPER2 of a GICv3 or GICv4.0 GIC,
// reads 0.
func (b *Backend) ReadDistributorRegister(reg model.GICDRegister) (uint64, error) {
	switch {
	case b.closed.Load():
		return 0, errClosed
	case reg >= gicdFrameSize:
		return 0, fmt.Errorf("sim: offset %#x is outside the 64 KiB GICD frame: %w", uint32(reg), model.ErrInvalidArgument)
	case reg%4 != 0:
		return 0, fmt.Errorf("sim: GICD offset %#x is not 4-byte aligned: %w", uint32(reg), model.ErrInvalidArgument)
	case reg == model.GICD_TYPER2 && b.cfg.ITSTyper.IsGICv41():
		t, err := model.MakeGICDTyper2(16)
		return uint64(t), err
	}
	return 0, nil
}
