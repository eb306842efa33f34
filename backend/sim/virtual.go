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
