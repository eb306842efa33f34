package savedstate

import (
	"encoding/binary"
	"fmt"

	"github.com/gicits/gicits/model"
)

// Capture saves b's ITS tables and pending tables into guest memory
// ([model.Backend.SaveTables]) and returns b's state: its registers and
// the guest memory every table lies in, read through the routing API
// only. Capturing changes nothing but the tables in guest memory.
//
// # Notes
//
// What a restore cannot rebuild is not captured: GSI routes and irqfds
// (the VMM's), the CPU interfaces (priority masks, acknowledged LPIs not
// yet EOId), and a stalled command queue's Stalled bit. An LPI pending
// with no translation mapping it (KVM's discard-pending difference) is
// saved in its pending table but not re-created by a restore, as in a
// real migration. An ITT is captured up to the end of RAM.
func Capture(b model.Backend) (*State, error) {
	if err := b.SaveTables(); err != nil {
		return nil, fmt.Errorf("saving the tables: %w", err)
	}
	caps := b.Capabilities()
	s := &State{Source: b.Name(), CPUs: caps.CPUs, Layout: b.Layout()}
	if err := s.readITS(b); err != nil {
		return nil, err
	}
	if err := s.readRedistributors(b); err != nil {
		return nil, err
	}
	spans, err := s.tableSpans(b, caps.LPIIDBits)
	if err != nil {
		return nil, err
	}
	for _, sp := range spans {
		r := Region{Kind: sp.kind, Owner: sp.owner, Addr: sp.addr, Size: sp.size}
		if sp.size > MaxRegionSize {
			return nil, fmt.Errorf("%v is larger than %d MiB: %w", r, MaxRegionSize>>20, model.ErrInvalidArgument)
		}
		buf := make([]byte, sp.size)
		if err := b.Memory().ReadAt(buf, sp.addr); err != nil {
			return nil, fmt.Errorf("reading the %v: %w", r, err)
		}
		r.Extents = extentsOf(buf)
		s.Regions = append(s.Regions, r)
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("the %s backend's state cannot be saved: %w", b.Name(), err)
	}
	return s, nil
}

func (s *State) readITS(b model.Backend) error {
	v, err := model.ReadITSRegisters(b, model.GITS_CTLR, model.GITS_IIDR, model.GITS_TYPER,
		model.GITS_CBASER, model.GITS_CREADR, model.GITS_CWRITER, model.GITS_BASER(0), model.GITS_BASER(1))
	if err != nil {
		return err
	}
	s.ITS = ITSRegisters{
		CTLR: v[0], IIDR: v[1], TYPER: model.ITSTyper(v[2]),
		CBASER: model.CBASER(v[3]), CREADR: v[4], CWRITER: v[5],
		DeviceBaser: model.Baser(v[6]), CollectionBaser: model.Baser(v[7]),
	}
	return nil
}

func (s *State) readRedistributors(b model.Backend) error {
	s.Redistributors = make([]Redistributor, s.CPUs)
	for cpu := range s.CPUs {
		var err error
		reg := func(r model.GICRRegister) uint64 {
			v, e := b.ReadRedistributorRegister(model.CPU(cpu), r)
			if e != nil && err == nil {
				err = fmt.Errorf("reading %v of CPU %d: %w", r, cpu, e)
			}
			return v
		}
		s.Redistributors[cpu] = Redistributor{CTLR: reg(model.GICR_CTLR), PropBaser: model.PropBaser(reg(model.GICR_PROPBASER)), PendBaser: model.PendBaser(reg(model.GICR_PENDBASER))}
		if err != nil {
			return err
		}
	}
	return nil
}

// span is a region before its contents are read.
type span struct {
	kind  RegionKind
	owner uint32
	addr  model.GPA
	size  uint64
}

// tableSpans lists where the tables are, from the registers s holds and
// the saved device table. lpiBits is the backend's number of LPI INTID
// bits.
func (s *State) tableSpans(b model.Backend, lpiBits int) ([]span, error) {
	its := s.ITS
	var out []span
	if its.CBASER.Valid() {
		out = append(out, span{CommandQueue, 0, its.CBASER.Addr(), uint64(its.CBASER.SizeBytes())})
	}
	if dev := its.DeviceBaser; dev.Valid() {
		out = append(out, span{DeviceTable, 0, dev.Addr(), dev.SizeBytes()})
		if dev.Indirect() {
			pages, err := l2Pages(b.Memory(), dev)
			if err != nil {
				return nil, err
			}
			out = append(out, pages...)
		}
	}
	saved, err := model.ReadSavedTables(b)
	if err != nil {
		return nil, fmt.Errorf("reading the saved device table: %w", err)
	}
	ramEnd := s.Layout.RAMBase + model.GPA(s.Layout.RAMSize)
	for _, d := range saved.Devices {
		addr := d.DTE.ITTAddr
		if addr < s.Layout.RAMBase || addr >= ramEnd {
			continue // nothing of it is memory: no event can be mapped
		}
		size := min(uint64(1)<<(uint64(d.DTE.Size)+1)*uint64(its.TYPER.ITTEntrySize()), uint64(ramEnd-addr))
		out = append(out, span{ITT, uint32(d.ID), addr, size})
	}
	if coll := its.CollectionBaser; coll.Valid() {
		out = append(out, span{CollectionTable, 0, coll.Addr(), coll.SizeBytes()})
	}
	prop := s.Redistributors[0].PropBaser
	bits := min(prop.IDBits(), lpiBits)
	if size := uint64(1) << bits; prop.Addr() != 0 && size > uint64(model.LPIBase) {
		out = append(out, span{LPIConfigTable, 0, prop.Addr(), size - uint64(model.LPIBase)})
	}
	for cpu, rd := range s.Redistributors {
		if a := rd.PendBaser.Addr(); a != 0 {
			out = append(out, span{PendingTable, uint32(cpu), a, uint64(1) << bits / 8})
		}
	}
	return out, nil
}

// l2Pages lists the level-2 pages the valid level-1 entries of an
// indirect device table point at.
func l2Pages(mem model.Memory, dev model.Baser) ([]span, error) {
	if dev.SizeBytes() > MaxRegionSize {
		return nil, fmt.Errorf("the level-1 device table is larger than %d MiB: %w", MaxRegionSize>>20, model.ErrInvalidArgument)
	}
	top := make([]byte, dev.SizeBytes())
	if err := mem.ReadAt(top, dev.Addr()); err != nil {
		return nil, fmt.Errorf("reading the level-1 device table: %w", err)
	}
	var out []span
	page := uint64(dev.PageSize())
	for i := 0; i+model.TableEntrySize <= len(top); i += model.TableEntrySize {
		if e := model.DecodeL1Entry(binary.LittleEndian.Uint64(top[i:])); e.Valid {
			out = append(out, span{DeviceTablePage, uint32(i / model.TableEntrySize), e.Addr &^ model.GPA(page-1), page})
		}
	}
	return out, nil
}

// extentsOf returns the non-zero runs of buf, two runs closer than
// extentGap zero bytes merged into one (an extent's header is 8 bytes).
func extentsOf(buf []byte) []Extent {
	const extentGap = 16
	var out []Extent
	for i := 0; i < len(buf); {
		for i < len(buf) && buf[i] == 0 {
			i++
		}
		if i == len(buf) {
			break
		}
		start, end := i, i
		for j := i; j < len(buf); j++ {
			if buf[j] != 0 {
				end = j + 1
			} else if j+1-end >= extentGap {
				break
			}
		}
		out = append(out, Extent{Offset: uint64(start), Data: buf[start:end:end]})
		i = end
	}
	return out
}
