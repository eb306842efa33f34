package model

import (
	"encoding/binary"
	"fmt"
)

// SavedTables is what a save (KVM_DEV_ARM_ITS_SAVE_TABLES, or
// [Backend.SaveTables]) left in guest memory, decoded from KVM's ITS table
// ABI revision 0, with where each entry lies.
type SavedTables struct {
	DeviceBaser, CollectionBaser Baser
	Devices                      []SavedDevice // valid DTEs, by DeviceID
	Collections                  []SavedCollection
}

// SavedDevice is a valid DTE and the valid ITEs of its ITT.
type SavedDevice struct {
	ID     DeviceID
	Addr   GPA // of the DTE
	DTE    DTE
	Events []SavedEvent // by EventID
}

// SavedEvent is a valid ITE.
type SavedEvent struct {
	ID   EventID
	Addr GPA
	ITE  ITE
}

// SavedCollection is a valid CTE of the saved list.
type SavedCollection struct {
	Index int // position in the list
	Addr  GPA
	CTE   CTE
}

// maxTableRead bounds one table read, whatever a register or entry says:
// a corrupt DTE's Size must not make a reader allocate gigabytes.
const maxTableRead = 64 << 20

// ReadSavedTables reads GITS_BASER0 (device table) and GITS_BASER1
// (collection table) from b and decodes the tables they point at, as a
// save left them: call [Backend.SaveTables] first. It walks every entry of
// flat and two-level device tables and of each valid DTE's ITT, not the
// "next" chains, so it also sees entries a restore would skip. The CTE list
// ends at its first all-zero entry.
//
// # Notes
//
// A second-level device table page holds PageSize/8 DTEs, as the
// architecture says; KVM always uses 64 KiB pages. An ITT's entries are
// [Capabilities.ITTEntrySize] bytes apart (GITS_TYPER.ITT_entry_size + 1:
// KVM's 8, QEMU's 12), each holding the ITE in its first 8 bytes. An ITT
// is read for at most 64 MiB of entries, whatever its DTE's Size says.
func ReadSavedTables(b Backend) (*SavedTables, error) {
	mem := b.Memory()
	t := &SavedTables{}
	v, err := b.ReadITSRegister(GITS_BASER(0))
	if err != nil {
		return nil, fmt.Errorf("reading GITS_BASER0: %w", err)
	}
	t.DeviceBaser = Baser(v)
	if dev := t.DeviceBaser; dev.Valid() {
		addDTEs := func(first uint64, base GPA, buf []byte) {
			for i := 0; i+TableEntrySize <= len(buf); i += TableEntrySize {
				if e := DecodeDTE(binary.LittleEndian.Uint64(buf[i:])); e.Valid {
					t.Devices = append(t.Devices, SavedDevice{ID: DeviceID(first + uint64(i/TableEntrySize)), Addr: base + GPA(i), DTE: e})
				}
			}
		}
		top, err := readTable(mem, dev.Addr(), dev.SizeBytes())
		if err != nil {
			return nil, fmt.Errorf("device table (GITS_BASER0): %w", err)
		}
		if dev.Indirect() {
			per := uint64(dev.PageSize()) / TableEntrySize
			for i := 0; i+TableEntrySize <= len(top); i += TableEntrySize {
				l1 := DecodeL1Entry(binary.LittleEndian.Uint64(top[i:]))
				if !l1.Valid {
					continue
				}
				page, err := readTable(mem, l1.Addr, uint64(dev.PageSize()))
				if err != nil {
					return nil, fmt.Errorf("second-level device table page %d at %v: %w", i/TableEntrySize, l1.Addr, err)
				}
				addDTEs(uint64(i/TableEntrySize)*per, l1.Addr, page)
			}
		} else {
			addDTEs(0, dev.Addr(), top)
		}
	}
	// ITT entries are GITS_TYPER.ITT_entry_size + 1 bytes apart, the ITE
	// in the first 8 bytes of each (a backend that does not say holds
	// 8-byte ones).
	stride := b.Capabilities().ITTStride()
	for i := range t.Devices {
		d := &t.Devices[i]
		n := min(uint64(1)<<(uint64(d.DTE.Size)+1), maxTableRead/stride)
		buf, err := readTable(mem, d.DTE.ITTAddr, n*stride)
		if err != nil {
			return nil, fmt.Errorf("ITT of device %#x at %v: %w", uint32(d.ID), d.DTE.ITTAddr, err)
		}
		for ev := range n {
			if ite := DecodeITE(binary.LittleEndian.Uint64(buf[stride*ev:])); ite.Valid() {
				d.Events = append(d.Events, SavedEvent{ID: EventID(ev), Addr: d.DTE.ITTAddr + GPA(stride*ev), ITE: ite})
			}
		}
	}
	if v, err = b.ReadITSRegister(GITS_BASER(1)); err != nil {
		return nil, fmt.Errorf("reading GITS_BASER1: %w", err)
	}
	t.CollectionBaser = Baser(v)
	if coll := t.CollectionBaser; coll.Valid() {
		buf, err := readTable(mem, coll.Addr(), coll.SizeBytes())
		if err != nil {
			return nil, fmt.Errorf("collection table (GITS_BASER1): %w", err)
		}
		for i := 0; i+TableEntrySize <= len(buf); i += TableEntrySize {
			raw := binary.LittleEndian.Uint64(buf[i:])
			if raw == 0 {
				break // the list's terminator
			}
			if cte := DecodeCTE(raw); cte.Valid {
				t.Collections = append(t.Collections, SavedCollection{Index: i / TableEntrySize, Addr: coll.Addr() + GPA(i), CTE: cte})
			}
		}
	}
	return t, nil
}

func readTable(mem Memory, addr GPA, size uint64) ([]byte, error) {
	if size > maxTableRead {
		return nil, fmt.Errorf("table of %d bytes at %v is larger than %d MiB: %w", size, addr, maxTableRead>>20, ErrInvalidArgument)
	}
	buf := make([]byte, size)
	if err := mem.ReadAt(buf, addr); err != nil {
		return nil, err
	}
	return buf, nil
}

// Device returns the saved device id.
func (t *SavedTables) Device(id DeviceID) (SavedDevice, bool) {
	for _, d := range t.Devices {
		if d.ID == id {
			return d, true
		}
	}
	return SavedDevice{}, false
}

// Event returns the saved ITE of (dev, ev).
func (t *SavedTables) Event(dev DeviceID, ev EventID) (SavedEvent, bool) {
	d, ok := t.Device(dev)
	if !ok {
		return SavedEvent{}, false
	}
	for _, e := range d.Events {
		if e.ID == ev {
			return e, true
		}
	}
	return SavedEvent{}, false
}

// Collection returns the saved collection icid.
func (t *SavedTables) Collection(icid ICID) (SavedCollection, bool) {
	for _, c := range t.Collections {
		if c.CTE.ICID == icid {
			return c, true
		}
	}
	return SavedCollection{}, false
}

// ReadITSRegisters reads regs from b in order and returns their values,
// or the first read's error, naming the register.
func ReadITSRegisters(b Backend, regs ...ITSRegister) ([]uint64, error) {
	out := make([]uint64, len(regs))
	for i, r := range regs {
		v, err := b.ReadITSRegister(r)
		if err != nil {
			return nil, fmt.Errorf("reading %v: %w", r, err)
		}
		out[i] = v
	}
	return out, nil
}
