package script

import (
	"encoding/binary"
	"fmt"

	"github.com/gicits/gicits/model"
)

// SavedTables is what a save (KVM_DEV_ARM_ITS_SAVE_TABLES) left in guest
// memory, decoded from KVM's ITS table ABI revision 0: the valid DTEs by
// DeviceID, the valid ITEs of each saved device by EventID, and the saved
// CTEs in list order.
type SavedTables struct {
	Devices     map[model.DeviceID]model.DTE
	Events      map[model.DeviceID]map[model.EventID]model.ITE
	Collections []model.CTE
}

// maxITEsRead bounds the ITT read for one saved DTE, whatever its Size says.
const maxITEsRead = 1 << 20

// ReadSavedTables reads GITS_BASER0 (device table) and GITS_BASER1
// (collection table) from b and decodes the tables they point at. It walks
// every entry rather than following the "next" fields, so that entries a
// save left behind are seen too; Next is reported as saved.
//
// # Notes
//
// A second-level device table page holds PageSize/8 DTEs, as the
// architecture says; KVM always uses 64 KiB pages, so the two agree when
// the layout uses 64 KiB pages.
func ReadSavedTables(b model.Backend) (*SavedTables, error) {
	mem := b.Memory()
	t := &SavedTables{
		Devices: map[model.DeviceID]model.DTE{},
		Events:  map[model.DeviceID]map[model.EventID]model.ITE{},
	}
	v, err := b.ReadITSRegister(model.GITS_BASER(0))
	if err != nil {
		return nil, fmt.Errorf("reading GITS_BASER0: %w", err)
	}
	dev := model.Baser(v)
	if dev.Valid() {
		if dev.Indirect() {
			l1, err := readEntries(mem, dev.Addr(), dev.SizeBytes())
			if err != nil {
				return nil, fmt.Errorf("level-1 device table: %w", err)
			}
			per := uint64(dev.PageSize()) / model.TableEntrySize
			for i, raw := range l1 {
				e := model.DecodeL1Entry(raw)
				if !e.Valid {
					continue
				}
				l2, err := readEntries(mem, e.Addr, uint64(dev.PageSize()))
				if err != nil {
					return nil, fmt.Errorf("level-2 device table page %d at %v: %w", i, e.Addr, err)
				}
				t.addDTEs(uint64(i)*per, l2)
			}
		} else {
			flat, err := readEntries(mem, dev.Addr(), dev.SizeBytes())
			if err != nil {
				return nil, fmt.Errorf("device table: %w", err)
			}
			t.addDTEs(0, flat)
		}
	}
	for id, dte := range t.Devices {
		n := uint64(1) << (uint64(dte.Size) + 1)
		n = min(n, maxITEsRead)
		ites, err := readEntries(mem, dte.ITTAddr, n*model.TableEntrySize)
		if err != nil {
			return nil, fmt.Errorf("ITT of device %#x at %v: %w", uint32(id), dte.ITTAddr, err)
		}
		for ev, raw := range ites {
			if ite := model.DecodeITE(raw); ite.Valid() {
				if t.Events[id] == nil {
					t.Events[id] = map[model.EventID]model.ITE{}
				}
				t.Events[id][model.EventID(ev)] = ite
			}
		}
	}
	if v, err = b.ReadITSRegister(model.GITS_BASER(1)); err != nil {
		return nil, fmt.Errorf("reading GITS_BASER1: %w", err)
	}
	if coll := model.Baser(v); coll.Valid() {
		ctes, err := readEntries(mem, coll.Addr(), coll.SizeBytes())
		if err != nil {
			return nil, fmt.Errorf("collection table: %w", err)
		}
		for _, raw := range ctes {
			if raw == 0 {
				break // the list's terminator
			}
			t.Collections = append(t.Collections, model.DecodeCTE(raw))
		}
	}
	return t, nil
}

func (t *SavedTables) addDTEs(first uint64, raw []uint64) {
	for i, v := range raw {
		if e := model.DecodeDTE(v); e.Valid {
			t.Devices[model.DeviceID(first+uint64(i))] = e
		}
	}
}

// Collection returns the saved CTE of icid, if one was saved.
func (t *SavedTables) Collection(icid model.ICID) (model.CTE, bool) {
	for _, c := range t.Collections {
		if c.ICID == icid {
			return c, true
		}
	}
	return model.CTE{}, false
}

func readEntries(mem model.Memory, addr model.GPA, size uint64) ([]uint64, error) {
	if size > 64<<20 {
		return nil, fmt.Errorf("table of %d bytes at %v is larger than guest RAM: %w", size, addr, model.ErrInvalidArgument)
	}
	buf := make([]byte, size)
	if err := mem.ReadAt(buf, addr); err != nil {
		return nil, err
	}
	out := make([]uint64, size/model.TableEntrySize)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return out, nil
}
