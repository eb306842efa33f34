package its

import (
	"fmt"

	"github.com/gicits/gicits/model"
)

// frameSize is the size of the ITS register frames (control + translation).
const frameSize = 0x20000

// Writable bits of GITS_CBASER (IHI 0069, 12.19.2): Valid 63, InnerCache
// 61:59, OuterCache 55:53, Physical_Address 51:12, Shareability 11:10,
// Size 7:0.
const cbaserMask = uint64(1)<<63 | uint64(7)<<59 | uint64(7)<<53 | (uint64(1)<<52-1)&^(uint64(1)<<12-1) | 3<<10 | 0xFF

// Writable bits of GITS_BASER<n> (IHI 0069, 12.19.1): Valid 63, Indirect 62
// (GITS_BASER0 only), InnerCache 61:59, OuterCache 55:53,
// Physical_Address 47:12, Shareability 11:10, PageSize 9:8, Size 7:0. Type
// and Entry_Size are read-only.
const baserMask = uint64(1)<<63 | uint64(1)<<62 | uint64(7)<<59 | uint64(7)<<53 | (uint64(1)<<48-1)&^(uint64(1)<<12-1) | 3<<10 | 3<<8 | 0xFF

// registerName names the register at off for errors.
func registerName(off model.ITSRegister) string { return off.String() }

// vsgiFrameEnd is the end of the ITS register frames of an ITS with
// GITS_TYPER.VSGI: a third 64 KiB frame holds GITS_SGIR.
const vsgiFrameEnd = 0x30000

// checkAccess refuses accesses that do not hit a register whole: outside the
// frames, misaligned, or the upper half of a 64-bit register.
func (t *ITS) checkAccess(off model.ITSRegister) error {
	switch {
	case off >= frameSize && t.typer.VSGI() && off < vsgiFrameEnd:
		// GITS_SGIR's frame.
	case off >= frameSize:
		return fmt.Errorf("its: offset %#x is outside the 128 KiB ITS register frames (a third frame, with GITS_SGIR, needs GITS_TYPER.VSGI): %w", uint32(off), model.ErrInvalidArgument)
	case off%4 != 0:
		return fmt.Errorf("its: offset %#x is not 4-byte aligned: %w", uint32(off), model.ErrInvalidArgument)
	case off%8 == 4 && (off - 4).Is64Bit():
		return fmt.Errorf("its: offset %#x is the upper half of 64-bit %v: 32-bit access to a 64-bit register; access it as a u64 at %#x: %w", uint32(off), off-4, uint32(off-4), model.ErrInvalidArgument)
	}
	return nil
}

// ReadRegister reads the ITS register at off. 64-bit registers are read
// whole; offsets inside the frames that hold no register read as 0.
func (t *ITS) ReadRegister(off model.ITSRegister) (uint64, error) {
	if err := t.checkAccess(off); err != nil {
		return 0, err
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	switch off {
	case model.GITS_CTLR:
		var v uint64
		if t.enabled {
			v |= model.GITS_CTLR_Enabled
		}
		if t.creadr == t.cwriter && !t.stalled {
			v |= model.GITS_CTLR_Quiescent
		}
		if t.vrd != nil && !t.typer.VMOVP() {
			v |= uint64(t.number) << model.GITS_CTLR_ITSNumberShift // RO: the sim numbers its ITSes
		}
		return v, nil
	case model.GITS_IIDR:
		return IIDR, nil
	case model.GITS_TYPER:
		return uint64(t.typer), nil
	case model.GITS_CBASER:
		return uint64(t.cbaser), nil
	case model.GITS_CWRITER:
		return t.cwriter, nil
	case model.GITS_CREADR:
		v := t.creadr
		if t.stalled {
			v |= model.GITS_CREADR_Stalled
		}
		return v, nil
	case model.GITS_BASER(0):
		return uint64(t.baser[0]), nil
	case model.GITS_BASER(1):
		return uint64(t.baser[1]), nil
	case model.GITS_BASER(2):
		return uint64(t.baser[2]), nil // 0 on a GICv3 ITS
	case model.GITS_PIDR2:
		return PIDR2, nil
	}
	return 0, nil
}

// WriteRegister writes the ITS register at off. A write to GITS_CWRITER
// (or one to GITS_CTLR that enables the ITS) processes commands and returns
// their errors, joined, each a [*model.CommandError]. Writes to read-only
// registers and to offsets that hold no register are ignored.
// GITS_TRANSLATER needs a DeviceID: use [ITS.SignalMSI].
func (t *ITS) WriteRegister(off model.ITSRegister, v uint64) error {
	if err := t.checkAccess(off); err != nil {
		return err
	}
	if !off.Is64Bit() && v>>32 != 0 {
		return fmt.Errorf("its: %v is a 32-bit register; value %#x does not fit: %w", registerName(off), v, model.ErrInvalidArgument)
	}
	err := t.writeRegister(off, v)
	t.tellPeers()
	return err
}

// writeRegister is WriteRegister's write, under mu.
func (t *ITS) writeRegister(off model.ITSRegister, v uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch off {
	case model.GITS_CTLR:
		return t.writeCTLR(v&model.GITS_CTLR_Enabled != 0)
	case model.GITS_IIDR:
		if rev := v >> 12 & 0xF; rev != 0 {
			return fmt.Errorf("its: GITS_IIDR: ABI revision %d; only revision 0 is implemented: %w", rev, model.ErrInvalidArgument)
		}
		return nil
	case model.GITS_CBASER:
		if t.enabled {
			return nil // ignored while enabled (KVM)
		}
		t.cbaser = model.CBASER(model.SanitiseCacheability(v&cbaserMask, model.ITSCacheFields))
		t.creadr, t.cwriter, t.stalled = 0, 0, false
		return nil
	case model.GITS_CWRITER:
		off := v & model.GITS_CQ_OffsetMask
		if off >= uint64(t.cbaser.SizeBytes()) {
			return nil // beyond the queue: ignored whole (KVM)
		}
		t.cwriter = off
		if v&model.GITS_CWRITER_Retry != 0 && t.stalled {
			t.stalled = false
		}
		return t.process()
	case model.GITS_CREADR:
		if t.enabled {
			return fmt.Errorf("its: GITS_CREADR is writable only while GITS_CTLR.Enabled = 0 (to restore a queue): %w", model.ErrBusy)
		}
		off := v & model.GITS_CQ_OffsetMask
		if off >= uint64(t.cbaser.SizeBytes()) {
			return fmt.Errorf("its: GITS_CREADR offset %#x is beyond the %d-byte command queue: %w", off, t.cbaser.SizeBytes(), model.ErrInvalidArgument)
		}
		t.creadr, t.stalled = off, false
		return nil
	case model.GITS_BASER(0), model.GITS_BASER(1), model.GITS_BASER(2):
		n := int(off-model.GITS_BASER0) / 8
		if t.enabled || t.baser[n] == 0 {
			return nil // ignored while enabled (KVM), or unimplemented
		}
		t.writeBaser(n, v)
		return nil
	case model.GITS_TRANSLATER:
		return fmt.Errorf("its: GITS_TRANSLATER: a write needs the writer's DeviceID; use SignalMSI: %w", model.ErrInvalidArgument)
	case model.GITS_SGIR:
		if t.typer.VSGI() {
			return t.writeSGIR(v)
		}
	}
	return nil
}

func (t *ITS) writeBaser(n int, v uint64) {
	old := t.baser[n]
	if n == 1 {
		v &^= 1 << 62 // flat collection table only: Indirect is RAZ/WI
	}
	if v>>8&3 == 3 {
		v = v&^(3<<8) | 2<<8 // reserved page size: 64 KiB, as it reads
	}
	nv := model.Baser(model.SanitiseCacheability(uint64(old)&^baserMask|v&baserMask, model.ITSCacheFields))
	t.baser[n] = nv
	if nv != old {
		t.flushCache()
	}
	switch {
	case n == 2:
		t.vpeTableChanged()
	case !nv.Valid() && n == 0:
		t.freeAllDevices()
	case !nv.Valid():
		t.freeAllCollections()
	case n == 0 && nv != old:
		t.relocateDevices()
	case nv != old:
		t.trimCollections()
	}
}

// trimCollections keeps the collections in step with a GITS_BASER1 that
// changed while valid: a collection whose ICID the new table cannot hold
// is discarded, orphaning its events, as a Valid 0 write discards every
// collection; a later save could not write it, nor a restore read it.
func (t *ITS) trimCollections() {
	for icid := range t.colls {
		if t.colls[icid] == collAbsent || t.collInRange(model.ICID(icid)) {
			continue
		}
		for _, d := range t.devices {
			d.each(func(_ model.EventID, r *iteRec) {
				if !r.virtual && int(r.icid) == icid {
					r.orphan = true
				}
			})
		}
		t.colls[icid] = collAbsent
	}
}

// relocateDevices keeps the ITS's record and the device table in step
// after GITS_BASER0 changed while valid (the table moved, grew, shrank or
// changed level): it writes every live device's DTE at its place in the
// new table, so commands, the MSI walk and a later save all see the same
// devices. A device that has no place there (beyond the new table, its L1
// entry not valid, outside guest memory) is discarded, as a Valid 0 write
// discards it. KVM never reads the table and keeps every device.
func (t *ITS) relocateDevices() {
	for _, id := range t.sortedDeviceIDs() {
		d := t.devices[id]
		addr, fault := t.dteAddr(id)
		var err error
		if fault.ok() {
			err = t.writeDTE(addr, d)
		}
		if !fault.ok() || err != nil {
			t.freeDevice(id, d, true)
		}
	}
}

func (t *ITS) writeCTLR(enable bool) error {
	switch {
	case enable && !t.enabled:
		if !t.baser[0].Valid() || !t.baser[1].Valid() || !t.cbaser.Valid() {
			return nil // refused: stays disabled until the tables are valid (KVM)
		}
		t.enabled = true
		return t.process()
	case !enable && t.enabled:
		t.enabled = false
		t.flushCache()
	}
	return nil
}
