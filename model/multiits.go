package model

import (
	"fmt"
)

// MaxITSes is the most ITSes a [Layout] may have: VMOVP's ITSList and
// GITS_CTLR.ITS_Number name at most 16.
const MaxITSes = 16

// ITSFrameSize is the size of one ITS's register frames: the control frame
// and the translation frame, 64 KiB each.
const ITSFrameSize = 128 << 10

// ITSCount returns the number of ITSes of the layout (ITSes, 0 meaning 1).
func (l Layout) ITSCount() int { return max(l.ITSes, 1) }

// roundUp64K rounds n up to 64 KiB.
func roundUp64K(n uint64) uint64 { return (n + 0xFFFF) &^ 0xFFFF }

// itsTableSizes returns the sizes of ITS 0's command queue, device table
// and collection table, each rounded up to 64 KiB: what every further ITS
// takes from the top of the ITT area.
func (l Layout) itsTableSizes() (queue, dev, coll uint64) {
	return roundUp64K(uint64(l.CommandQueuePages) * 4096),
		roundUp64K(uint64(l.DeviceTablePages) * uint64(l.DeviceTablePageSize)),
		roundUp64K(uint64(l.CollectionTablePages) * uint64(l.CollectionTablePageSize))
}

func (l Layout) itsTablesSize() uint64 {
	q, d, c := l.itsTableSizes()
	return q + d + c
}

// ForITS returns the layout as ITS i (0..ITSCount()-1) sees it: ITSBase,
// CommandQueue, DeviceTable and CollectionTable are ITS i's, with the same
// sizes and page sizes as ITS 0's; the redistributors, RAM, the LPI
// tables and the ITT area (its allocator still leaving out every ITS's
// tables) are shared. ForITS(0) is l. ITS i >= 1's frames are at
// ExtraITSBase + (i-1)*128 KiB; its tables, 64 KiB aligned, at ITTs +
// ITTsSize - i*(their size). Call it on the machine's layout, not on one
// it returned.
func (l Layout) ForITS(i int) (Layout, error) {
	if i < 0 || i >= l.ITSCount() {
		return Layout{}, fmt.Errorf("layout: ITS %d out of range 0..%d: %w", i, l.ITSCount()-1, ErrInvalidArgument)
	}
	v := l
	if i == 0 {
		return v, nil
	}
	q, d, _ := l.itsTableSizes()
	base := l.ITTs + GPA(l.ITTsSize-uint64(i)*l.itsTablesSize())
	v.ITSBase = l.ExtraITSBase + GPA(uint64(i-1)*ITSFrameSize)
	v.CommandQueue = base
	v.DeviceTable = base + GPA(q)
	v.CollectionTable = base + GPA(q+d)
	return v, nil
}

// validateITSes checks the ITS count, that the further ITSes' frames clash
// with no other GIC frame of cpus CPUs, and that their tables fit the ITT
// area.
func (l Layout) validateITSes(cpus int) error {
	n := l.ITSCount()
	if l.ITSes < 0 || n > MaxITSes {
		return fmt.Errorf("layout: %d ITSes out of range 1..%d: %w", l.ITSes, MaxITSes, ErrInvalidArgument)
	}
	if n == 1 {
		return nil
	}
	if !l.ExtraITSBase.IsAligned(64 << 10) {
		return fmt.Errorf("layout: ExtraITSBase %v is not 64 KiB aligned: %w", l.ExtraITSBase, ErrInvalidArgument)
	}
	frames := uint64(n-1) * ITSFrameSize
	for _, f := range []struct {
		name string
		addr GPA
		size uint64
	}{
		{"GICD", l.GICDBase, 64 << 10},
		{"ITS 0", l.ITSBase, ITSFrameSize},
		{"GICR", l.GICRBase, uint64(cpus) * GICRSize},
	} {
		if l.ExtraITSBase < f.addr+GPA(f.size) && f.addr < l.ExtraITSBase+GPA(frames) {
			return fmt.Errorf("layout: the frames of ITSes 1..%d [%v, +%#x) overlap the %s frame [%v, +%#x): %w", n-1, l.ExtraITSBase, frames, f.name, f.addr, f.size, ErrInvalidArgument)
		}
	}
	if need := uint64(n-1) * l.itsTablesSize(); need >= l.ITTsSize {
		return fmt.Errorf("layout: the tables of ITSes 1..%d take %#x bytes, more than the %#x-byte ITT area they are carved from: %w", n-1, need, l.ITTsSize, ErrInvalidArgument)
	}
	return nil
}

// MultiITS is implemented by a backend with several ITSes
// ([Layout.ITSes]). Its own ITS methods (ReadITSRegister,
// WriteITSRegister, SaveTables, RestoreTables) address ITS 0; ITSView
// returns a view addressing ITS i. SignalMSI needs no view: the MSI's doorbell
// address picks the ITS, as on hardware and in KVM. Find it with
// [ITSOf].
type MultiITS interface {
	// ITSView returns a view of the backend whose ITS register methods,
	// SaveTables, RestoreTables and Layout are ITS i's; every other
	// method is the backend's. Closing a view does nothing.
	ITSView(i int) (Backend, error)
}

// ITSOf returns b as ITS i sees it: b itself for 0, a view for the others
// on a backend that implements [MultiITS]. It fails, wrapping
// [ErrInvalidArgument], for an ITS out of range.
func ITSOf(b Backend, i int) (Backend, error) {
	if m, ok := b.(MultiITS); ok {
		return m.ITSView(i)
	}
	if i != 0 {
		return nil, fmt.Errorf("%s: ITS %d: the backend has one ITS: %w", b.Name(), i, ErrInvalidArgument)
	}
	return b, nil
}

// ITSAccess is what a backend with several ITSes gives [NewITSView]: its
// ITS methods with the ITS's index.
type ITSAccess interface {
	ReadITSRegisterOf(i int, reg ITSRegister) (uint64, error)
	WriteITSRegisterOf(i int, reg ITSRegister, v uint64) error
	SaveTablesOf(i int) error
	RestoreTablesOf(i int) error
}

// NewITSView returns the view of b for ITS i that [MultiITS.ITSView] returns:
// b's methods, but those of ITS i through acc, and ITS i's layout.
func NewITSView(b Backend, acc ITSAccess, i int) (Backend, error) {
	l, err := b.Layout().ForITS(i)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &itsView{Backend: b, acc: acc, i: i, layout: l}, nil
}

type itsView struct {
	Backend
	acc    ITSAccess
	i      int
	layout Layout
}

func (v *itsView) Layout() Layout { return v.layout }
func (v *itsView) ReadITSRegister(reg ITSRegister) (uint64, error) {
	return v.acc.ReadITSRegisterOf(v.i, reg)
}
func (v *itsView) WriteITSRegister(reg ITSRegister, x uint64) error {
	return v.acc.WriteITSRegisterOf(v.i, reg, x)
}
func (v *itsView) SaveTables() error    { return v.acc.SaveTablesOf(v.i) }
func (v *itsView) RestoreTables() error { return v.acc.RestoreTablesOf(v.i) }
func (v *itsView) Close() error         { return nil }
func (v *itsView) ITSView(i int) (Backend, error) {
	return ITSOf(v.Backend, i)
}
