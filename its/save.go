package its

import (
	"encoding/binary"
	"fmt"

	"github.com/gicits/gicits/model"
)

// SaveTables writes the ITS's state into guest memory in KVM's ITS table
// ABI revision 0 (KVM_DEV_ARM_ITS_SAVE_TABLES): every mapped device's DTE
// in the device table, chained by next in DeviceID order, and a zero DTE in
// every other slot; every mapped event's ITE in its device's ITT, chained
// by next in EventID order (an orphaned event's as a zero ITE); and, when
// GITS_BASER1 is valid, the collection table as a CTE list sorted by ICID
// (unmapped collections with RDbase 0xFFFFFFFF) ended by a zero entry when
// room remains. A next delta beyond its field is saved as the field's
// maximum, as KVM does.
//
// KVM's ABI has no place for GICv4 state. A GICv4.0 ITS saves a virtual
// event as its [model.VirtualITE], next chained as for the others, and
// every mapped vPE's VTE: the simulator's own formats, which
// [ITS.RestoreTables] does not read back.
func (t *ITS) SaveTables() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.zeroStaleDTEs()
	t.vpeTableChanged() // rewrites every mapped vPE's VTE
	ids := t.sortedDeviceIDs()
	for i, id := range ids {
		d := t.devices[id]
		addr, fault := t.dteAddr(id)
		if !fault.ok() {
			return &TableError{Table: "device table", Index: uint64(id), Err: invalidf("%v", fault)}
		}
		if err := t.saveITT(id, d); err != nil {
			return err
		}
		var next uint16
		if i+1 < len(ids) {
			next = uint16(min(uint64(ids[i+1]-id), model.MaxDTENext))
		}
		v, err := model.DTE{Valid: true, Next: next, ITTAddr: d.itt, Size: d.size}.Encode()
		if err == nil {
			err = model.WriteUint64(t.mem, addr, v)
		}
		if err != nil {
			return &TableError{Table: "device table", Index: uint64(id), Err: err}
		}
	}
	return t.saveCollections()
}

// zeroStaleDTEs writes a zero DTE into every slot of the device table (the
// flat table, or each valid second-level page) that holds no mapped
// device, so that a restore finds exactly the devices saved: a DTE left
// from a device a GITS_BASER0 Valid=0 write discarded, or written by
// software, would otherwise come back (the kvm backend zeroes the flat
// table before KVM saves, for the same reason). A slot outside guest memory
// holds nothing and is skipped.
func (t *ITS) zeroStaleDTEs() {
	b := t.baser[0]
	if !b.Valid() {
		return
	}
	entries := b.SizeBytes() / model.TableEntrySize
	zero := func(base model.GPA, first, count uint64) {
		for i := range count {
			if _, live := t.devices[model.DeviceID(first+i)]; !live {
				_ = model.WriteUint64(t.mem, base+model.GPA(i*model.TableEntrySize), 0)
			}
		}
	}
	if !b.Indirect() {
		zero(b.Addr(), 0, min(entries, uint64(1)<<t.typer.DeviceIDBits()))
		return
	}
	perPage := uint64(b.PageSize()) / model.TableEntrySize
	ids := uint64(1) << t.typer.DeviceIDBits()
	for l1 := range min(entries, (ids+perPage-1)/perPage) {
		v, err := t.read64(b.Addr() + model.GPA(l1*model.TableEntrySize))
		if e := model.DecodeL1Entry(v); err == nil && e.Valid {
			zero(e.Addr&^model.GPA(b.PageSize()-1), l1*perPage, min(perPage, ids-l1*perPage))
		}
	}
}

// saveITT writes the ITEs of device d's events, chained by next. An
// orphaned event (its collection unmapped by MAPC V=0) has no ITE in ABI
// revision 0 that keeps it unable to fire: its ICID names a collection
// that may be mapped again, and a restore would attach it. So it is saved
// as a zero ITE, as KVM saves it (since 6.1.191 and 6.12.113), and comes
// back from a restore unmapped, blocked as it was. The next of the event
// before it still leads to it, as in KVM: a restore steps over a zero
// entry one EventID at a time.
func (t *ITS) saveITT(id model.DeviceID, d *device) error {
	var evs []model.EventID
	d.each(func(ev model.EventID, _ *iteRec) { evs = append(evs, ev) })
	for i, ev := range evs {
		r, _ := d.get(ev)
		var next uint16
		if i+1 < len(evs) {
			next = uint16(min(uint64(evs[i+1]-ev), model.MaxITENext))
		}
		if r.virtual {
			t.writeVirtualITE(d, ev, r, next)
			continue
		}
		var v uint64
		if !r.orphan {
			v = model.ITE{Next: next, INTID: r.intid, ICID: r.icid}.Encode()
		}
		if err := t.writeITE(d.itt, ev, v); err != nil {
			return &TableError{Table: fmt.Sprintf("ITT of device %#x", uint32(id)), Index: uint64(ev), Err: err}
		}
	}
	return nil
}

// saveCollections writes the CTE list. With GITS_BASER1 not valid the ITS
// owns no collection table, and writes nothing (KVM's
// vgic_its_save_collection_table returns early too).
func (t *ITS) saveCollections() error {
	b := t.baser[1]
	if !b.Valid() {
		return nil
	}
	var ctes []model.CTE
	for icid, c := range t.colls {
		switch {
		case c >= 0:
			ctes = append(ctes, model.CTE{Valid: true, RDbase: uint64(c), ICID: model.ICID(icid)})
		case c == collUnmapped:
			ctes = append(ctes, model.CTE{Valid: true, RDbase: model.CTEUnmappedRDbase, ICID: model.ICID(icid)})
		}
	}
	capacity := b.SizeBytes() / model.TableEntrySize
	if uint64(len(ctes)) > capacity {
		return &TableError{Table: "collection table", Index: capacity, Err: invalidf("%d collections do not fit %d entries", len(ctes), capacity)}
	}
	for i, e := range ctes {
		v, err := e.Encode()
		if err == nil {
			err = model.WriteUint64(t.mem, b.Addr()+model.GPA(i*model.TableEntrySize), v)
		}
		if err != nil {
			return &TableError{Table: "collection table", Index: uint64(i), Err: err}
		}
	}
	if uint64(len(ctes)) < capacity {
		if err := model.WriteUint64(t.mem, b.Addr()+model.GPA(len(ctes)*model.TableEntrySize), 0); err != nil {
			return &TableError{Table: "collection table", Index: uint64(len(ctes)), Err: err}
		}
	}
	return nil
}

// restored is the state RestoreTables builds before it swaps it in.
type restored struct {
	devices map[model.DeviceID]*device
	colls   []int32
}

// RestoreTables rebuilds the ITS's state from the tables in guest memory
// (KVM_DEV_ARM_ITS_RESTORE_TABLES): collections first, then devices and
// their ITTs, then the LPIs (configuration read, pending-table bit
// consumed). A bad entry fails the restore with a [*TableError] naming the
// table, the entry and the field, and leaves the ITS exactly as it was. On
// success the restored state replaces the previous one whole.
func (t *ITS) RestoreTables() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.checkNoVirtualState("restore over"); err != nil {
		return err
	}
	n := restored{devices: map[model.DeviceID]*device{}, colls: make([]int32, len(t.colls))}
	for i := range n.colls {
		n.colls[i] = collAbsent
	}
	if err := t.restoreCollections(&n); err != nil {
		return err
	}
	if err := t.restoreDevices(&n); err != nil {
		return err
	}
	// Every entry checked out: swap.
	t.flushCache()
	for id, d := range t.devices {
		t.freeDevice(id, d, false)
	}
	t.devices, t.colls = n.devices, n.colls
	for _, id := range t.sortedDeviceIDs() {
		t.devices[id].each(func(_ model.EventID, r *iteRec) {
			cpu, ok := t.collMapped(r.icid)
			_ = t.rd.MapLPI(r.intid, cpu, ok)
		})
	}
	return nil
}

func (t *ITS) restoreCollections(n *restored) error {
	b := t.baser[1]
	if !b.Valid() {
		return nil
	}
	capacity := b.SizeBytes() / model.TableEntrySize
	for i := range capacity {
		v, err := model.ReadUint64(t.mem, b.Addr()+model.GPA(i*model.TableEntrySize))
		if err != nil {
			return &TableError{Table: "collection table", Index: i, Err: err}
		}
		e := model.DecodeCTE(v)
		if !e.Valid {
			return nil
		}
		tableErr := func(field string, err error) error {
			return &TableError{Table: "collection table", Index: i, Field: field, Err: err}
		}
		switch {
		case e.RDbase != model.CTEUnmappedRDbase && e.RDbase >= uint64(t.rd.CPUs()):
			return tableErr("RDbase", invalidf("RDbase %d is not a redistributor (%d CPUs)", e.RDbase, t.rd.CPUs()))
		case int(e.ICID) >= len(n.colls) || uint64(e.ICID) >= capacity:
			return tableErr("ICID", invalidf("ICID %d is outside the collection table (%d entries)", e.ICID, capacity))
		case n.colls[e.ICID] != collAbsent:
			return tableErr("ICID", invalidf("collection %d appears twice", e.ICID))
		}
		if e.RDbase == model.CTEUnmappedRDbase {
			n.colls[e.ICID] = collUnmapped
		} else {
			n.colls[e.ICID] = int32(e.RDbase)
		}
	}
	return nil
}

func (t *ITS) restoreDevices(n *restored) error {
	b := t.baser[0]
	if !b.Valid() {
		return nil
	}
	entries := b.SizeBytes() / model.TableEntrySize
	if !b.Indirect() {
		_, err := t.scanDTEs(n, b.Addr(), 0, entries)
		return err
	}
	perPage := uint64(b.PageSize()) / model.TableEntrySize
	ids := uint64(1) << t.typer.DeviceIDBits()
	for l1 := range min(entries, (ids+perPage-1)/perPage) {
		v, err := model.ReadUint64(t.mem, b.Addr()+model.GPA(l1*model.TableEntrySize))
		if err != nil {
			return &TableError{Table: "device table (level 1)", Index: l1, Err: err}
		}
		e := model.DecodeL1Entry(v)
		if !e.Valid {
			continue
		}
		page := e.Addr &^ model.GPA(b.PageSize()-1)
		done, err := t.scanDTEs(n, page, l1*perPage, perPage)
		if err != nil || done {
			return err
		}
	}
	return nil
}

// scanDTEs restores the count DTEs at base, the first one being DeviceID
// first. It reports done when a DTE's next is 0 (the last device).
func (t *ITS) scanDTEs(n *restored, base model.GPA, first, count uint64) (done bool, err error) {
	for i := uint64(0); i < count; {
		id := first + i
		v, err := model.ReadUint64(t.mem, base+model.GPA(i*model.TableEntrySize))
		if err != nil {
			return false, &TableError{Table: "device table", Index: id, Err: err}
		}
		e := model.DecodeDTE(v)
		if !e.Valid {
			i++
			continue
		}
		tableErr := func(field string, err error) error {
			return &TableError{Table: "device table", Index: id, Field: field, Err: err}
		}
		switch {
		case id >= uint64(1)<<t.typer.DeviceIDBits():
			return false, tableErr("", invalidf("DeviceID %#x does not fit GITS_TYPER's %d DeviceID bits", id, t.typer.DeviceIDBits()))
		case int(e.Size)+1 > t.typer.EventIDBits():
			return false, tableErr("Size", invalidf("%d EventID bits, GITS_TYPER.ID_bits allows %d", int(e.Size)+1, t.typer.EventIDBits()))
		}
		d := newDevice(e.ITTAddr, e.Size)
		if err := t.restoreITT(n, model.DeviceID(id), d); err != nil {
			return false, err
		}
		n.devices[model.DeviceID(id)] = d
		if e.Next == 0 {
			return true, nil
		}
		i += uint64(e.Next)
	}
	return false, nil
}

func (t *ITS) restoreITT(n *restored, id model.DeviceID, d *device) error {
	table := fmt.Sprintf("ITT of device %#x", uint32(id))
	count := uint64(1) << d.eventIDBits()
	for ev := uint64(0); ev < count; {
		v, err := t.readITE(d.itt, model.EventID(ev))
		if err != nil {
			return &TableError{Table: table, Index: ev, Field: "", Err: fmt.Errorf("ITT_addr %v: %w", d.itt, err)}
		}
		tableErr := func(field string, err error) error {
			return &TableError{Table: table, Index: ev, Field: field, Err: err}
		}
		if t.isVirtualEntry(d.itt, model.EventID(ev)) {
			return tableErr("", fmt.Errorf("a virtual ITE: restoring GICv4 state is not modelled: %w", model.ErrNotSupported))
		}
		e := model.DecodeITE(v)
		if !e.Valid() {
			ev++
			continue
		}
		switch {
		case e.INTID < model.LPIBase:
			return tableErr("pINTID", invalidf("pINTID %d is below the first LPI (8192)", e.INTID))
		case int(e.ICID) >= len(n.colls) || n.colls[e.ICID] == collAbsent:
			return tableErr("ICID", invalidf("collection %d was not restored", e.ICID))
		}
		if err := t.rd.CheckLPI(e.INTID); err != nil {
			return tableErr("pINTID", err)
		}
		if e.Next != 0 && ev+uint64(e.Next) >= count {
			// KVM's vgic_its_restore_ite refuses it with EINVAL too.
			return tableErr("Next", invalidf("next %d leads to EventID %d, past the device's %d EventIDs", e.Next, ev+uint64(e.Next), count))
		}
		d.put(model.EventID(ev), iteRec{intid: e.INTID, icid: e.ICID})
		if e.Next == 0 {
			return nil
		}
		ev += uint64(e.Next)
	}
	return nil
}

// isVirtualEntry reports whether the ITT entry of ev, on a GICv4.0 ITS,
// holds a virtual ITE.
func (t *ITS) isVirtualEntry(itt model.GPA, ev model.EventID) bool {
	if t.vrd == nil {
		return false
	}
	var w [4]byte
	return t.mem.ReadAt(w[:], t.iteAddr(itt, ev)+model.TableEntrySize) == nil && binary.LittleEndian.Uint32(w[:])&model.VirtualITEFlag != 0
}

// checkNoVirtualState refuses to act (save, restore over) on an ITS that
// holds GICv4 state.
func (t *ITS) checkNoVirtualState(act string) error {
	events := 0
	for _, d := range t.devices {
		d.each(func(_ model.EventID, r *iteRec) {
			if r.virtual {
				events++
			}
		})
	}
	if len(t.vpes) == 0 && events == 0 {
		return nil
	}
	return fmt.Errorf("its: cannot %s an ITS holding GICv4 state (%d vPEs mapped, %d events mapped to vLPIs): KVM's ITS table ABI revision 0 has no place for it, and gicits models no other: %w", act, len(t.vpes), events, model.ErrNotSupported)
}
