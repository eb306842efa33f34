package savedstate

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// Restore rebuilds s on b: b's redistributors, guest memory and ITS end
// up as s's, every translation, collection, LPI configuration and pending
// LPI included. b must be freshly opened with s's configuration
// ([State.Config]): the same CPU count, a layout whose RAM holds every
// region outside its scratch area, a GITS_TYPER at least as wide, and LPIs
// enabled on no CPU (GICR_PROPBASER and GICR_PENDBASER cannot change
// while they are). Restore checks all of that before it changes anything.
//
// The steps, in the order KVM needs (see the package documentation):
// GITS_CTLR cleared; each CPU's GICR_PROPBASER and GICR_PENDBASER; every
// region written (zeroed, then its extents); GITS_CBASER, GITS_CREADR,
// GITS_CWRITER, GITS_BASER0, GITS_BASER1; GICR_CTLR.EnableLPIs where s has
// it; [model.Backend.RestoreTables]; GITS_CTLR.Enabled where s has it,
// which runs the commands that waited in the queue.
//
// # Notes
//
// A RestoreTables that fails leaves the simulator's ITS as it was and
// KVM's empty (backend/kvm's failed-restore difference); the error names
// the step. Commands that waited in the queue and fail when the ITS is
// enabled are returned as [*model.CommandError]s, as [model.SubmitCommands]
// returns them.
func Restore(b model.Backend, s *State) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := checkTarget(b, s); err != nil {
		return fmt.Errorf("restoring the saved state into the %s backend: %w", b.Name(), err)
	}
	for _, step := range []struct {
		what string
		do   func(model.Backend, *State) error
	}{
		{"disabling the ITS", disableITS},
		{"programming the redistributors", programRedistributors},
		{"writing guest memory", writeMemory},
		{"programming the ITS", programITS},
		{"enabling LPIs", enableLPIs},
		{"restoring the ITS tables", func(b model.Backend, _ *State) error { return b.RestoreTables() }},
		{"enabling the ITS", enableITS},
	} {
		if err := step.do(b, s); err != nil {
			return fmt.Errorf("restoring the saved state into the %s backend: %s: %w", b.Name(), step.what, err)
		}
	}
	return nil
}

// checkTarget checks that b can take s, changing nothing.
func checkTarget(b model.Backend, s *State) error {
	caps := b.Capabilities()
	if caps.CPUs != s.CPUs {
		return fmt.Errorf("it has %d CPUs, the saved state %d: open it with the saved state's configuration: %w", caps.CPUs, s.CPUs, model.ErrInvalidArgument)
	}
	v, err := b.ReadITSRegister(model.GITS_TYPER)
	if err != nil {
		return fmt.Errorf("reading GITS_TYPER: %w", err)
	}
	typer, want := model.ITSTyper(v), s.ITS.TYPER
	for _, w := range []struct {
		what      string
		has, need int
	}{
		{"DeviceID bits", typer.DeviceIDBits(), want.DeviceIDBits()},
		{"EventID bits", typer.EventIDBits(), want.EventIDBits()},
		{"ICID bits", typer.ICIDBits(), want.ICIDBits()},
	} {
		if w.has < w.need {
			return fmt.Errorf("its GITS_TYPER %#x has %d %s, the saved state's %#x %d: %w", v, w.has, w.what, uint64(want), w.need, model.ErrInvalidArgument)
		}
	}
	if typer.ITTEntrySize() != want.ITTEntrySize() {
		return fmt.Errorf("its GITS_TYPER %#x has %d-byte ITT entries, the saved state's %d-byte: %w", v, typer.ITTEntrySize(), want.ITTEntrySize(), model.ErrInvalidArgument)
	}
	l := b.Layout()
	for _, r := range s.Regions {
		end := r.Addr + model.GPA(r.Size)
		switch {
		case r.Addr < l.RAMBase || end > l.RAMBase+model.GPA(l.RAMSize):
			return fmt.Errorf("the %v is outside its RAM [%v, +%#x): %w", r, l.RAMBase, l.RAMSize, model.ErrInvalidArgument)
		case r.Addr < l.Scratch+model.GPA(l.ScratchSize) && l.Scratch < end:
			return fmt.Errorf("the %v overlaps its scratch area [%v, +%#x): %w", r, l.Scratch, l.ScratchSize, model.ErrInvalidArgument)
		}
	}
	for cpu := range s.CPUs {
		ctlr, err := b.ReadRedistributorRegister(model.CPU(cpu), model.GICR_CTLR)
		if err != nil {
			return fmt.Errorf("reading GICR_CTLR of CPU %d: %w", cpu, err)
		}
		if ctlr&model.GICR_CTLR_EnableLPIs != 0 {
			return fmt.Errorf("CPU %d has LPIs enabled already (GICR_CTLR %#x): restore into a freshly opened backend: %w", cpu, ctlr, model.ErrBusy)
		}
	}
	return nil
}

func disableITS(b model.Backend, _ *State) error {
	return b.WriteITSRegister(model.GITS_CTLR, 0)
}

func programRedistributors(b model.Backend, s *State) error {
	for cpu, rd := range s.Redistributors {
		if err := b.WriteRedistributorRegister(model.CPU(cpu), model.GICR_PROPBASER, uint64(rd.PropBaser)); err != nil {
			return err
		}
		if err := b.WriteRedistributorRegister(model.CPU(cpu), model.GICR_PENDBASER, uint64(rd.PendBaser)); err != nil {
			return err
		}
	}
	return nil
}

// writeMemory zeroes every region, then writes every extent: regions may
// overlap (two ITTs in the same memory), and their bytes came from the
// same memory.
func writeMemory(b model.Backend, s *State) error {
	mem := b.Memory()
	for _, r := range s.Regions {
		if err := model.Zero(mem, r.Addr, int(r.Size)); err != nil {
			return fmt.Errorf("%v: %w", r, err)
		}
	}
	for _, r := range s.Regions {
		for _, e := range r.Extents {
			if err := mem.WriteAt(e.Data, r.Addr+model.GPA(e.Offset)); err != nil {
				return fmt.Errorf("%v: %w", r, err)
			}
		}
	}
	return nil
}

// programITS writes the queue and table registers while the ITS is
// disabled: GITS_CBASER first, since writing it resets GITS_CREADR and
// GITS_CWRITER.
func programITS(b model.Backend, s *State) error {
	r := s.ITS
	for _, w := range []struct {
		reg model.ITSRegister
		v   uint64
	}{
		{model.GITS_CBASER, uint64(r.CBASER)},
		{model.GITS_CREADR, r.CREADR & model.GITS_CQ_OffsetMask},
		{model.GITS_CWRITER, r.CWRITER & model.GITS_CQ_OffsetMask},
		{model.GITS_BASER(0), uint64(r.DeviceBaser)},
		{model.GITS_BASER(1), uint64(r.CollectionBaser)},
	} {
		if err := b.WriteITSRegister(w.reg, w.v); err != nil {
			return err
		}
	}
	return nil
}

func enableLPIs(b model.Backend, s *State) error {
	for cpu, rd := range s.Redistributors {
		if rd.EnableLPIs() {
			if err := model.EnableLPIs(b, model.CPU(cpu)); err != nil {
				return err
			}
		}
	}
	return nil
}

func enableITS(b model.Backend, s *State) error {
	if !s.ITS.Enabled() {
		return nil
	}
	return b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled)
}
