package inspect

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/gicits/gicits/model"
)

// State is what an ITS and its redistributors hold, read through the
// routing API only: the tables a save writes (KVM's ITS table ABI
// revision 0), the LPI configuration table, and each CPU's pending LPIs.
// Everything is sorted, and nothing in it names the backend, so the dumps
// of two backends that did the same things are equal and their diff shows
// where they disagree. [State.WriteText] writes it for people,
// [State.WriteJSON] for programs (docs/json.md).
//
// On a backend with GICv4.0 vPEs (Capabilities().VirtualLPIs) it also
// holds the vPE table, each redistributor's VLPI_base registers and the
// virtual events (virtual.go); on any other, those are nil and nothing of
// them is written.
//
// On a backend with several ITSes (Capabilities().ITSes > 1) ITSes holds
// each ITS's registers and tables; ITS, Collections, Devices and VPEs are
// then ITS 0's (ITSes[0]'s), and the redistributors and the LPI
// configuration table, which the ITSes share, are read once.
type State struct {
	ITS            ITSState
	Redistributors []Redistributor
	Collections    []CollectionInfo
	Devices        []DeviceInfo
	LPIs           []LPIInfo
	// VPEs is the vPE table's valid entries, by vPEID (nil without
	// vPEs).
	VPEs []VPEInfo
	// PropTable and PropTableIDBits are what GICR_PROPBASER (of CPU 0;
	// one value for every redistributor) says of the LPI configuration
	// table.
	PropTable       model.GPA
	PropTableIDBits int
	// ITSes is every ITS, by index, on a backend with several; nil on a
	// backend with one.
	ITSes []ITSInfo
}

// ITSInfo is one ITS of a machine with several ([State.ITSes]): where its
// register frames are, its registers and the tables its save writes.
type ITSInfo struct {
	Index int
	// Frames is the address of its register frames (GITS_CTLR);
	// GITS_TRANSLATER, its MSI doorbell, is at Frames + 0x10040.
	Frames      model.GPA
	ITS         ITSState
	Collections []CollectionInfo
	Devices     []DeviceInfo
	// VPEs is its vPE table's valid entries, by vPEID (nil without
	// vPEs).
	VPEs []VPEInfo
}

// Doorbell is the address of the ITS's GITS_TRANSLATER.
func (i ITSInfo) Doorbell() model.GPA { return i.Frames + model.GPA(model.GITS_TRANSLATER) }

// ITSState is the ITS's registers.
type ITSState struct {
	Enabled bool
	CBASER  model.CBASER
	// CREADR and CWRITER are the command queue offsets (bits 19:5).
	CREADR, CWRITER uint64
	Stalled         bool
	// DeviceTable and CollectionTable are what GITS_BASER0 and 1 say.
	DeviceTable, CollectionTable TableBase
	// VPETable is what GITS_BASER2 says of the vPE table, nil on a
	// backend without vPEs.
	VPETable *TableBase
	// GICv41 is what GITS_TYPER says of a GICv4.1 ITS (VMAPP), nil on
	// any other.
	GICv41 *ITSv41
}

// ITSv41 is what GITS_TYPER says of a GICv4.1 ITS.
type ITSv41 struct {
	// NID is GITS_TYPER.nID: per-event doorbells (VMAPTI's
	// Dbell_pINTID) are not used; only the vPE's default doorbell rings.
	NID bool
	// VSGI is GITS_TYPER.VSGI: vSGIs are injected directly.
	VSGI bool
}

// TableBase is what a GITS_BASER<n> says of its table: where it is and
// how it is laid out, the fields two backends holding the same table agree
// on (not the cacheability and shareability bits, which they may not).
type TableBase struct {
	Valid bool
	// Baser is the register's value when it is not valid (0 when it is).
	Baser    uint64
	Type     string // "devices", "collections", "vPEs"
	Indirect bool   // two-level
	Addr     model.GPA
	Pages    int
	PageSize int // bytes
}

// tableBase describes b.
func tableBase(b model.Baser) TableBase {
	if !b.Valid() {
		return TableBase{Baser: uint64(b)}
	}
	return TableBase{Valid: true, Type: b.Type().String(), Indirect: b.Indirect(), Addr: b.Addr(), Pages: b.Pages(), PageSize: b.PageSize()}
}

// String describes t in words.
func (t TableBase) String() string {
	if !t.Valid {
		return fmt.Sprintf("%#x (not valid)", t.Baser)
	}
	kind := "flat"
	if t.Indirect {
		kind = "two-level"
	}
	return fmt.Sprintf("%s %s table at %v, %d x %d KiB %s", kind, t.Type, t.Addr, t.Pages, t.PageSize>>10, noun(t.Pages, "page"))
}

// Redistributor is one CPU's redistributor.
type Redistributor struct {
	CPU        model.CPU
	EnableLPIs bool
	Pending    []model.INTID
	// Virtual is its VLPI_base registers and scheduled vPE, nil on a
	// backend without vPEs.
	Virtual *VirtualRedistributor
}

// CollectionInfo is one saved collection.
type CollectionInfo struct {
	ICID model.ICID
	// CPU is the target redistributor, nil for a collection that exists
	// (an ITE names it) but is not mapped.
	CPU *model.CPU
}

// DeviceInfo is one mapped device and its events.
type DeviceInfo struct {
	ID          model.DeviceID
	ITT         model.GPA
	EventIDBits int
	Events      []EventInfo
}

// EventInfo is one mapped event: to physical LPI LPI of collection ICID,
// or, Virtual not nil, to a vLPI (LPI and ICID 0).
type EventInfo struct {
	ID      model.EventID
	LPI     model.INTID
	ICID    model.ICID
	Virtual *VirtualEvent
}

// LPIInfo is one non-zero byte of the LPI configuration table.
type LPIInfo struct {
	INTID    model.INTID
	Priority uint8
	Enabled  bool
}

// maxTableRead bounds one table read, whatever a register says.
const maxTableRead = 64 << 20

func readRaw(mem model.Memory, addr model.GPA, size uint64) ([]byte, error) {
	if size > maxTableRead {
		return nil, fmt.Errorf("table of %d bytes at %v is larger than %d MiB: %w", size, addr, maxTableRead>>20, model.ErrInvalidArgument)
	}
	buf := make([]byte, size)
	if err := mem.ReadAt(buf, addr); err != nil {
		return nil, err
	}
	return buf, nil
}

// SaveAndReadTables asks b to save its ITS tables (SaveTables), which
// writes them into guest memory, then reads them back with
// [model.ReadSavedTables], which only reads.
func SaveAndReadTables(b model.Backend) (*model.SavedTables, error) {
	if err := b.SaveTables(); err != nil {
		return nil, fmt.Errorf("saving the ITS tables: %w", err)
	}
	return model.ReadSavedTables(b)
}

// ReadState reads b's state. It saves the ITS tables into guest memory
// first (SaveTables, of every ITS), which is the only change it makes.
func ReadState(b model.Backend) (*State, error) {
	views, err := itsViews(b)
	if err != nil {
		return nil, err
	}
	itses := make([]ITSInfo, len(views))
	tables := make([]*model.SavedTables, len(views))
	for i, v := range views {
		t, err := SaveAndReadTables(v)
		if err != nil {
			return nil, itsError(len(views), i, err)
		}
		tables[i] = t
		itses[i] = ITSInfo{Index: i, Frames: v.Layout().ITSBase, Collections: savedCollections(t), Devices: savedDevices(t)}
		if itses[i].ITS, err = readITSState(v, t); err != nil {
			return nil, itsError(len(views), i, err)
		}
	}
	s := &State{LPIs: []LPIInfo{}}
	if s.Redistributors, err = readRedistributors(b); err != nil {
		return nil, err
	}
	if err := s.readLPIConfiguration(b); err != nil {
		return nil, err
	}
	if b.Capabilities().VirtualLPIs {
		if err := s.readVirtual(views, tables, itses); err != nil {
			return nil, err
		}
	}
	s.ITS, s.Collections, s.Devices, s.VPEs = itses[0].ITS, itses[0].Collections, itses[0].Devices, itses[0].VPEs
	if len(itses) > 1 {
		s.ITSes = itses
	}
	return s, nil
}

// itsViews returns b as each of its ITSes sees it ([model.ITSOf]): b alone
// on a backend with one.
func itsViews(b model.Backend) ([]model.Backend, error) {
	views := []model.Backend{b}
	for i := 1; i < b.Capabilities().ITSes; i++ {
		v, err := model.ITSOf(b, i)
		if err != nil {
			return nil, err
		}
		views = append(views, v)
	}
	return views, nil
}

// itsError says which ITS err is of, on a machine with several.
func itsError(n, i int, err error) error {
	if n == 1 {
		return err
	}
	return fmt.Errorf("ITS %d: %w", i, err)
}

// readITSState reads the command queue's registers, and describes the
// saved tables' GITS_BASER0 and GITS_BASER1.
func readITSState(b model.Backend, t *model.SavedTables) (ITSState, error) {
	v, err := model.ReadITSRegisters(b, model.GITS_CTLR, model.GITS_CBASER, model.GITS_CREADR, model.GITS_CWRITER)
	if err != nil {
		return ITSState{}, err
	}
	ctlr, cbaser, creadr, cwriter := v[0], v[1], v[2], v[3]
	return ITSState{
		Enabled:         ctlr&model.GITS_CTLR_Enabled != 0,
		CBASER:          model.CBASER(cbaser),
		CREADR:          creadr & model.GITS_CQ_OffsetMask,
		CWRITER:         cwriter & model.GITS_CQ_OffsetMask,
		Stalled:         creadr&model.GITS_CREADR_Stalled != 0,
		DeviceTable:     tableBase(t.DeviceBaser),
		CollectionTable: tableBase(t.CollectionBaser),
	}, nil
}

// readRedistributors reads each CPU's GICR_CTLR.EnableLPIs and pending
// LPIs.
func readRedistributors(b model.Backend) ([]Redistributor, error) {
	rds := []Redistributor{}
	for cpu := range b.Capabilities().CPUs {
		c := model.CPU(cpu)
		ctl, err := b.ReadRedistributorRegister(c, model.GICR_CTLR)
		if err != nil {
			return nil, fmt.Errorf("reading CPU %d's GICR_CTLR: %w", cpu, err)
		}
		pend, err := b.Pending(c)
		if err != nil {
			return nil, fmt.Errorf("CPU %d's pending LPIs: %w", cpu, err)
		}
		rds = append(rds, Redistributor{CPU: c, EnableLPIs: ctl&model.GICR_CTLR_EnableLPIs != 0, Pending: append([]model.INTID{}, pend...)})
	}
	return rds, nil
}

// savedCollections returns the saved CTEs by ICID.
func savedCollections(t *model.SavedTables) []CollectionInfo {
	cs := []CollectionInfo{}
	for _, c := range t.Collections {
		ci := CollectionInfo{ICID: c.CTE.ICID}
		if c.CTE.Mapped() {
			cpu := model.CPU(c.CTE.RDbase)
			ci.CPU = &cpu
		}
		cs = append(cs, ci)
	}
	slices.SortFunc(cs, func(a, b CollectionInfo) int { return int(a.ICID) - int(b.ICID) })
	return cs
}

// savedDevices returns the saved DTEs and their ITEs.
func savedDevices(t *model.SavedTables) []DeviceInfo {
	ds := []DeviceInfo{}
	for _, d := range t.Devices {
		di := DeviceInfo{ID: d.ID, ITT: d.DTE.ITTAddr, EventIDBits: int(d.DTE.Size) + 1, Events: []EventInfo{}}
		for _, ev := range d.Events {
			di.Events = append(di.Events, EventInfo{ID: ev.ID, LPI: ev.ITE.INTID, ICID: ev.ITE.ICID})
		}
		ds = append(ds, di)
	}
	return ds
}

// readLPIConfiguration reads the LPI configuration table through
// GICR_PROPBASER (one value for every redistributor; CPU 0's is read) and
// keeps its non-zero bytes.
func (s *State) readLPIConfiguration(b model.Backend) error {
	if b.Capabilities().CPUs == 0 {
		return nil
	}
	v, err := b.ReadRedistributorRegister(0, model.GICR_PROPBASER)
	if err != nil {
		return fmt.Errorf("reading GICR_PROPBASER: %w", err)
	}
	pb := model.PropBaser(v)
	s.PropTable, s.PropTableIDBits = pb.Addr(), pb.IDBits()
	if pb.Addr() == 0 {
		return nil
	}
	bits := min(pb.IDBits(), b.Layout().LPIIDBits)
	size := uint64(1)<<bits - uint64(model.LPIBase)
	buf, err := readRaw(b.Memory(), pb.Addr(), size)
	if err != nil {
		return fmt.Errorf("LPI configuration table: %w", err)
	}
	for i, c := range buf {
		if c != 0 {
			cfg := model.LPIConfig(c)
			s.LPIs = append(s.LPIs, LPIInfo{INTID: model.LPIBase + model.INTID(i), Priority: cfg.Priority(), Enabled: cfg.Enabled()})
		}
	}
	return nil
}

// WriteText writes s for people: one section per table, runs of LPIs with
// the same configuration folded into ranges. With several ITSes, each ITS
// has its own section, "ITS i (frames at ADDR)", holding its registers,
// vPE table, collections and devices; the redistributors and the LPI
// configuration table, which they share, follow once.
func (s *State) WriteText(w io.Writer) error {
	var b strings.Builder
	if len(s.ITSes) > 1 {
		s.writeSeveral(&b)
	} else {
		s.writeOne(&b)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var onOff = map[bool]string{true: "enabled", false: "disabled"}

// writeOne writes the state of a machine with one ITS.
func (s *State) writeOne(b *strings.Builder) {
	writeITSRegisters(b, "ITS", s.ITS)
	fmt.Fprintf(b, "  GICR_PROPBASER table at %v, %d INTID bits\n", s.PropTable, s.PropTableIDBits)
	b.WriteString("redistributors:\n")
	writeRedistributors(b, s.Redistributors)
	if s.ITS.VPETable != nil {
		writeVPEs(b, s.VPEs, s.ITS.GICv41 != nil)
	}
	writeCollections(b, s.Collections)
	writeDevices(b, s.Devices)
	writeLPIs(b, s.LPIs)
}

// writeSeveral writes the state of a machine with several ITSes: a
// section per ITS, its tables indented under its registers, then what the
// ITSes share.
func (s *State) writeSeveral(b *strings.Builder) {
	for _, its := range s.ITSes {
		writeITSRegisters(b, fmt.Sprintf("ITS %d (frames at %v)", its.Index, its.Frames), its.ITS)
		var t strings.Builder
		if its.ITS.VPETable != nil {
			writeVPEs(&t, its.VPEs, its.ITS.GICv41 != nil)
		}
		writeCollections(&t, its.Collections)
		writeDevices(&t, its.Devices)
		for line := range strings.Lines(t.String()) {
			b.WriteString("  " + line)
		}
	}
	fmt.Fprintf(b, "redistributors (shared by ITSes 0..%d):\n", len(s.ITSes)-1)
	fmt.Fprintf(b, "  GICR_PROPBASER table at %v, %d INTID bits\n", s.PropTable, s.PropTableIDBits)
	writeRedistributors(b, s.Redistributors)
	writeLPIs(b, s.LPIs)
}

// writeITSRegisters writes an ITS's registers under the heading head.
func writeITSRegisters(b *strings.Builder, head string, its ITSState) {
	fmt.Fprintf(b, "%s: %s, CREADR %#x, CWRITER %#x", head, onOff[its.Enabled], its.CREADR, its.CWRITER)
	if its.Stalled {
		b.WriteString(", stalled")
	}
	cb := its.CBASER
	fmt.Fprintf(b, "\n  GITS_CBASER %#x (queue at %v, %s)", uint64(cb), cb.Addr(), plural(cb.Pages(), "page"))
	fmt.Fprintf(b, "\n  GITS_BASER0 %v\n  GITS_BASER1 %v\n", its.DeviceTable, its.CollectionTable)
	if its.VPETable != nil {
		fmt.Fprintf(b, "  GITS_BASER2 %v\n", *its.VPETable)
	}
	if g := its.GICv41; g != nil {
		fmt.Fprintf(b, "  GITS_TYPER GICv4.1 (VMAPP=1 nID=%s VSGI=%s)\n", boolBit(g.NID), boolBit(g.VSGI))
	}
}

// writeRedistributors writes one line per CPU (and its VLPI_base
// registers).
func writeRedistributors(b *strings.Builder, rds []Redistributor) {
	for _, r := range rds {
		pend := "none"
		if len(r.Pending) > 0 {
			pend = intidRanges(r.Pending)
		}
		fmt.Fprintf(b, "  CPU %d: LPIs %s, pending: %s\n", r.CPU, onOff[r.EnableLPIs], pend)
		if r.Virtual != nil {
			writeVirtualRedistributor(b, r.Virtual)
		}
	}
}

// writeCollections writes the collections section.
func writeCollections(b *strings.Builder, cs []CollectionInfo) {
	b.WriteString("collections:\n")
	if len(cs) == 0 {
		b.WriteString("  none\n")
	}
	for _, c := range cs {
		if c.CPU == nil {
			fmt.Fprintf(b, "  ICID %d -> unmapped\n", c.ICID)
		} else {
			fmt.Fprintf(b, "  ICID %d -> CPU %d\n", c.ICID, *c.CPU)
		}
	}
}

// writeDevices writes the devices section, each device's events under it.
func writeDevices(b *strings.Builder, ds []DeviceInfo) {
	b.WriteString("devices:\n")
	if len(ds) == 0 {
		b.WriteString("  none\n")
	}
	for _, d := range ds {
		fmt.Fprintf(b, "  DeviceID %#x: ITT at %v, %s, %s mapped\n", uint32(d.ID), d.ITT, plural(d.EventIDBits, "EventID bit"), plural(len(d.Events), "event"))
		for _, e := range d.Events {
			if e.Virtual != nil {
				fmt.Fprintf(b, "    EventID %d -> %v\n", e.ID, *e.Virtual)
				continue
			}
			fmt.Fprintf(b, "    EventID %d -> LPI %d, ICID %d\n", e.ID, e.LPI, e.ICID)
		}
	}
}

// writeLPIs writes the LPI configuration section, runs of LPIs with the
// same configuration folded into ranges.
func writeLPIs(b *strings.Builder, lpis []LPIInfo) {
	b.WriteString("LPI configuration (non-zero bytes of the property table):\n")
	if len(lpis) == 0 {
		b.WriteString("  none\n")
	}
	for i := 0; i < len(lpis); {
		j := i
		for j+1 < len(lpis) && lpis[j+1].INTID == lpis[j].INTID+1 &&
			lpis[j+1].Priority == lpis[i].Priority && lpis[j+1].Enabled == lpis[i].Enabled {
			j++
		}
		id := fmt.Sprint(lpis[i].INTID)
		if j > i {
			id = fmt.Sprintf("%d..%d", lpis[i].INTID, lpis[j].INTID)
		}
		fmt.Fprintf(b, "  %s prio=%#02x %s\n", id, lpis[i].Priority, onOff[lpis[i].Enabled])
		i = j + 1
	}
}

// intidRanges formats ascending INTIDs, folding runs: "8192..8195, 8200".
func intidRanges(ids []model.INTID) string {
	var parts []string
	for i := 0; i < len(ids); {
		j := i
		for j+1 < len(ids) && ids[j+1] == ids[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d..%d", ids[i], ids[j]))
		} else {
			parts = append(parts, fmt.Sprint(ids[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// plural is "1 page" or "n pages".
func plural(n int, word string) string { return fmt.Sprintf("%d %s", n, noun(n, word)) }

// noun is word, with an s unless n is 1.
func noun(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
