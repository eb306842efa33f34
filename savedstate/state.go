package savedstate

import (
	"fmt"
	"strings"

	"github.com/gicits/gicits/model"
)

// Version is the version of the file format [State.MarshalBinary] writes
// and [Parse] reads.
const Version = 1

// MaxRegionSize bounds one region, whatever a register or entry says: a
// corrupt file or table must not make a reader allocate gigabytes. KVM's
// largest table, a flat device table of 256 64 KiB pages, is 16 MiB.
const MaxRegionSize = 64 << 20

// maxSourceLen bounds the source backend's name.
const maxSourceLen = 32

// State is an ITS and its redistributors as a save left them: what
// [Restore] needs to rebuild them on another backend. See the package
// documentation for what each field carries and the file format.
type State struct {
	// Source is the name of the backend the state was captured from.
	Source string
	// CPUs is the number of redistributors.
	CPUs int
	// Layout is the guest physical layout of the backend it came from; a
	// backend restoring it is opened with the same ([State.Config]).
	Layout model.Layout
	// ITS holds the ITS registers.
	ITS ITSRegisters
	// Redistributors holds each CPU's registers, by CPU.
	Redistributors []Redistributor
	// Regions holds the guest memory the tables lie in.
	Regions []Region
}

// ITSRegisters are the ITS registers a restore programs (GITS_CTLR,
// GITS_CREADR, GITS_CWRITER, GITS_CBASER, GITS_BASER0, GITS_BASER1) or
// checks (GITS_IIDR, GITS_TYPER).
type ITSRegisters struct {
	CTLR            uint64
	IIDR            uint64
	TYPER           model.ITSTyper
	CBASER          model.CBASER
	CREADR, CWRITER uint64
	DeviceBaser     model.Baser // GITS_BASER0
	CollectionBaser model.Baser // GITS_BASER1
}

// Enabled reports GITS_CTLR.Enabled.
func (r ITSRegisters) Enabled() bool { return r.CTLR&model.GITS_CTLR_Enabled != 0 }

// Redistributor is one CPU's redistributor registers.
type Redistributor struct {
	CTLR      uint64
	PropBaser model.PropBaser
	PendBaser model.PendBaser
}

// EnableLPIs reports GICR_CTLR.EnableLPIs.
func (r Redistributor) EnableLPIs() bool { return r.CTLR&model.GICR_CTLR_EnableLPIs != 0 }

// RegionKind says which table a [Region] holds.
type RegionKind uint8

// The kinds of region. The values are the file's.
const (
	DeviceTable     RegionKind = 1 // at GITS_BASER0 (the level-1 table when indirect)
	DeviceTablePage RegionKind = 2 // a level-2 page of an indirect device table
	ITT             RegionKind = 3 // a mapped device's interrupt translation table
	CollectionTable RegionKind = 4 // at GITS_BASER1
	LPIConfigTable  RegionKind = 5 // at GICR_PROPBASER
	PendingTable    RegionKind = 6 // at a CPU's GICR_PENDBASER
	CommandQueue    RegionKind = 7 // at GITS_CBASER
)

var kindNames = map[RegionKind]string{
	DeviceTable:     "device table",
	DeviceTablePage: "device table page",
	ITT:             "ITT",
	CollectionTable: "collection table",
	LPIConfigTable:  "LPI configuration table",
	PendingTable:    "pending table",
	CommandQueue:    "command queue",
}

func (k RegionKind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("region kind %d", uint8(k))
}

// Region is a range of guest memory and its contents, stored sparsely:
// every byte outside the extents is zero.
type Region struct {
	Kind RegionKind
	// Owner is the DeviceID of an ITT, the CPU of a pending table, the
	// level-1 index of a device table page, and 0 for the others.
	Owner   uint32
	Addr    model.GPA
	Size    uint64
	Extents []Extent
}

// Extent is a run of bytes at Offset in its region.
type Extent struct {
	Offset uint64
	Data   []byte
}

func (r Region) String() string {
	return fmt.Sprintf("%s [%v, +%#x)", describe(r.Kind, r.Owner), r.Addr, r.Size)
}

// describe names the table of kind and owner: "pending table of CPU 1".
func describe(kind RegionKind, owner uint32) string {
	switch kind {
	case ITT:
		return fmt.Sprintf("%v of DeviceID %#x", kind, owner)
	case PendingTable:
		return fmt.Sprintf("%v of CPU %d", kind, owner)
	case DeviceTablePage:
		return fmt.Sprintf("%v (level-1 entry %d)", kind, owner)
	}
	return kind.String()
}

// Bytes returns the region's contents, all Size bytes.
func (r Region) Bytes() []byte {
	buf := make([]byte, r.Size)
	for _, e := range r.Extents {
		copy(buf[e.Offset:], e.Data)
	}
	return buf
}

// Region returns the region of kind and owner, if the state has one.
func (s *State) Region(kind RegionKind, owner uint32) (Region, bool) {
	for _, r := range s.Regions {
		if r.Kind == kind && r.Owner == owner {
			return r, true
		}
	}
	return Region{}, false
}

// Config returns the configuration to open a backend with to restore s
// into it: s's CPU count, layout and GITS_TYPER.
func (s *State) Config() model.Config {
	return model.Config{CPUs: s.CPUs, Layout: s.Layout, ITSTyper: s.ITS.TYPER}
}

// Configure sets the machine of cfg (CPUs, layout, GITS_TYPER) to s's,
// keeping the rest (error policy, translation cache). Where cfg already
// sets one (a scenario's cpus, queue, devtable or colltable settings) to
// something else, it returns an error naming it; cfg is set anyway.
func (s *State) Configure(cfg *model.Config) error {
	var diffs []string
	if cfg.CPUs != 0 && cfg.CPUs != s.CPUs {
		diffs = append(diffs, fmt.Sprintf("cpus %d where the saved state has %d", cfg.CPUs, s.CPUs))
	}
	if cfg.Layout != (model.Layout{}) && cfg.Layout != s.Layout {
		diffs = append(diffs, "a layout (queue, devtable, colltable) other than the saved state's")
	}
	if cfg.ITSTyper != 0 && cfg.ITSTyper != s.ITS.TYPER {
		diffs = append(diffs, fmt.Sprintf("GITS_TYPER %#x where the saved state has %#x", uint64(cfg.ITSTyper), uint64(s.ITS.TYPER)))
	}
	cfg.CPUs, cfg.Layout, cfg.ITSTyper = s.CPUs, s.Layout, s.ITS.TYPER
	if len(diffs) > 0 {
		return fmt.Errorf("the settings ask for %s: the machine comes from the saved state, drop them: %w", strings.Join(diffs, "; "), model.ErrInvalidArgument)
	}
	return nil
}

// ITTAreaInUse returns how many bytes at the start of the layout's ITT
// area ([model.Layout.ITTs]) the state's regions reach into: where guest
// software that allocates more ITTs after a restore starts.
func (s *State) ITTAreaInUse() uint64 {
	var used uint64
	start, end := s.Layout.ITTs, s.Layout.ITTs+model.GPA(s.Layout.ITTsSize)
	for _, r := range s.Regions {
		rEnd := r.Addr + model.GPA(r.Size)
		if r.Addr < end && rEnd > start {
			used = max(used, uint64(min(rEnd, end)-start))
		}
	}
	return used
}

// Validate checks everything the package documentation lists for a valid
// file. The error is a [*FormatError] naming the first field at fault,
// and wraps [model.ErrInvalidArgument].
func (s *State) Validate() error {
	return s.validate(func(string) int64 { return -1 })
}

// validate checks s; at returns the file offset of a field ("layout",
// "its", "cpu N", "region N"), or -1.
func (s *State) validate(at func(string) int64) error {
	bad := func(field, where string, format string, args ...any) error {
		return &FormatError{Offset: at(where), Field: field, Err: fmt.Errorf(format+": %w", append(args, model.ErrInvalidArgument)...)}
	}
	if err := checkSource(s.Source); err != nil {
		return &FormatError{Offset: at("source"), Field: "source name", Err: err}
	}
	if s.CPUs < 1 {
		return bad("CPUs", "cpus", "%d CPUs; want at least 1", s.CPUs)
	}
	if err := s.Layout.Validate(s.CPUs); err != nil {
		return &FormatError{Offset: at("layout"), Field: "layout", Err: err}
	}
	if len(s.Redistributors) != s.CPUs {
		return bad("redistributors", "cpu 0", "%d redistributors for %d CPUs", len(s.Redistributors), s.CPUs)
	}
	if err := s.validateITS(); err != nil {
		return &FormatError{Offset: at("its"), Field: "ITS registers", Err: err}
	}
	return s.validateRegions(at)
}

func checkSource(name string) error {
	if len(name) < 1 || len(name) > maxSourceLen {
		return fmt.Errorf("%d bytes; want 1..%d: %w", len(name), maxSourceLen, model.ErrInvalidArgument)
	}
	for i := range len(name) {
		if c := name[i]; c < 0x21 || c > 0x7E {
			return fmt.Errorf("byte %d is %#02x, not printable ASCII: %w", i, c, model.ErrInvalidArgument)
		}
	}
	return nil
}

func (s *State) validateITS() error {
	r := s.ITS
	if rev := r.IIDR >> 12 & 0xF; rev != 0 {
		return fmt.Errorf("GITS_IIDR %#x says ITS table ABI revision %d; this format carries revision 0: %w", r.IIDR, rev, model.ErrInvalidArgument)
	}
	// An ITT entry holds the 8-byte ABI revision 0 ITE in its first 8
	// bytes: KVM's are 8 bytes, QEMU's 12, and the simulator takes any
	// size GITS_TYPER can say from 8 up (package its). A restore needs a
	// backend with the same size (checkTarget).
	if n := r.TYPER.ITTEntrySize(); n < model.TableEntrySize {
		return fmt.Errorf("GITS_TYPER %#x has %d-byte ITT entries, too small for the %d-byte ITS table ABI revision 0 ITE: %w", uint64(r.TYPER), n, model.TableEntrySize, model.ErrInvalidArgument)
	}
	if r.CBASER.Valid() {
		size := uint64(r.CBASER.SizeBytes())
		for _, q := range []struct {
			name string
			v    uint64
		}{{"GITS_CREADR", r.CREADR}, {"GITS_CWRITER", r.CWRITER}} {
			if off := q.v & model.GITS_CQ_OffsetMask; off >= size {
				return fmt.Errorf("%s offset %#x is beyond the %d-byte command queue: %w", q.name, off, size, model.ErrInvalidArgument)
			}
		}
	}
	return nil
}

type regionKey struct {
	kind  RegionKind
	owner uint32
}

func (s *State) validateRegions(at func(string) int64) error {
	seen := map[regionKey]bool{}
	for i, r := range s.Regions {
		where := fmt.Sprintf("region %d", i)
		field := fmt.Sprintf("region %d (%v)", i, r)
		if _, ok := kindNames[r.Kind]; !ok {
			return &FormatError{Offset: at(where), Field: fmt.Sprintf("region %d", i), Err: fmt.Errorf("kind %d is not a region kind (1..7): %w", uint8(r.Kind), model.ErrInvalidArgument)}
		}
		if err := s.checkRegion(r); err != nil {
			return &FormatError{Offset: at(where), Field: field, Err: err}
		}
		k := regionKey{r.Kind, r.Owner}
		if seen[k] {
			return &FormatError{Offset: at(where), Field: field, Err: fmt.Errorf("appears twice: %w", model.ErrInvalidArgument)}
		}
		seen[k] = true
	}
	for _, want := range s.requiredRegions() {
		if !seen[regionKey{want.kind, want.owner}] {
			return &FormatError{Offset: at("regions"), Field: "regions", Err: fmt.Errorf("no %s region, though %s: %w", describe(want.kind, want.owner), want.because, model.ErrInvalidArgument)}
		}
	}
	return nil
}

type required struct {
	kind    RegionKind
	owner   uint32
	because string
}

// requiredRegions lists the regions the registers say exist.
func (s *State) requiredRegions() []required {
	var out []required
	if s.ITS.DeviceBaser.Valid() {
		out = append(out, required{DeviceTable, 0, "GITS_BASER0 is valid"})
	}
	if s.ITS.CollectionBaser.Valid() {
		out = append(out, required{CollectionTable, 0, "GITS_BASER1 is valid"})
	}
	if s.ITS.CBASER.Valid() {
		out = append(out, required{CommandQueue, 0, "GITS_CBASER is valid"})
	}
	prop := s.Redistributors[0].PropBaser
	if prop.Addr() != 0 && uint64(1)<<min(prop.IDBits(), s.Layout.LPIIDBits) > uint64(model.LPIBase) {
		out = append(out, required{LPIConfigTable, 0, "GICR_PROPBASER names one"})
	}
	for cpu, rd := range s.Redistributors {
		if rd.PendBaser.Addr() != 0 {
			out = append(out, required{PendingTable, uint32(cpu), fmt.Sprintf("CPU %d's GICR_PENDBASER names one", cpu)})
		}
	}
	return out
}

// checkRegion checks one region against the layout and the registers.
func (s *State) checkRegion(r Region) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf(format+": %w", append(args, model.ErrInvalidArgument)...)
	}
	l := s.Layout
	switch {
	case r.Size == 0 || r.Size > MaxRegionSize:
		return bad("size %#x; want 1..%#x", r.Size, MaxRegionSize)
	case r.Addr < l.RAMBase || uint64(r.Addr-l.RAMBase) > l.RAMSize || r.Size > l.RAMSize-uint64(r.Addr-l.RAMBase):
		return bad("not inside RAM [%v, +%#x)", l.RAMBase, l.RAMSize)
	case r.Addr < l.Scratch+model.GPA(l.ScratchSize) && l.Scratch < r.Addr+model.GPA(r.Size):
		return bad("overlaps the scratch area [%v, +%#x), which a backend keeps for itself", l.Scratch, l.ScratchSize)
	}
	if err := checkExtents(r); err != nil {
		return err
	}
	its, prop := s.ITS, s.Redistributors[0].PropBaser
	lpiBits := min(prop.IDBits(), l.LPIIDBits)
	exactly := func(reg string, valid bool, addr model.GPA, size uint64) error {
		switch {
		case r.Owner != 0:
			return bad("owner %d; want 0", r.Owner)
		case !valid:
			return bad("%s is not valid", reg)
		case r.Addr != addr || r.Size != size:
			return bad("%s says [%v, +%#x)", reg, addr, size)
		}
		return nil
	}
	startsAt := func(reg string, addr model.GPA, maxSize uint64) error {
		switch {
		case addr == 0:
			return bad("%s is 0", reg)
		case r.Addr != addr:
			return bad("%s says it starts at %v", reg, addr)
		case r.Size > maxSize:
			return bad("larger than the %#x bytes GICR_PROPBASER.IDbits allows", maxSize)
		}
		return nil
	}
	switch r.Kind {
	case DeviceTable:
		return exactly("GITS_BASER0", its.DeviceBaser.Valid(), its.DeviceBaser.Addr(), its.DeviceBaser.SizeBytes())
	case CollectionTable:
		return exactly("GITS_BASER1", its.CollectionBaser.Valid(), its.CollectionBaser.Addr(), its.CollectionBaser.SizeBytes())
	case CommandQueue:
		return exactly("GITS_CBASER", its.CBASER.Valid(), its.CBASER.Addr(), uint64(its.CBASER.SizeBytes()))
	case LPIConfigTable:
		if r.Owner != 0 {
			return bad("owner %d; want 0", r.Owner)
		}
		return startsAt("GICR_PROPBASER", prop.Addr(), uint64(1)<<lpiBits-uint64(model.LPIBase))
	case PendingTable:
		if r.Owner >= uint32(s.CPUs) {
			return bad("CPU %d of %d", r.Owner, s.CPUs)
		}
		return startsAt(fmt.Sprintf("CPU %d's GICR_PENDBASER", r.Owner), s.Redistributors[r.Owner].PendBaser.Addr(), uint64(1)<<lpiBits/8)
	case DeviceTablePage:
		dev := its.DeviceBaser
		switch {
		case !dev.Valid() || !dev.Indirect():
			return bad("GITS_BASER0 is not a valid two-level table")
		case uint64(r.Owner) >= dev.SizeBytes()/model.TableEntrySize:
			return bad("level-1 entry %d is beyond the %d-entry level-1 table", r.Owner, dev.SizeBytes()/model.TableEntrySize)
		case r.Size != uint64(dev.PageSize()) || !r.Addr.IsAligned(uint64(dev.PageSize())):
			return bad("a level-2 page is one %d-byte page, aligned to its size", dev.PageSize())
		}
	case ITT:
		switch {
		case !r.Addr.IsAligned(256):
			return bad("an ITT is 256-byte aligned")
		case uint64(r.Owner) >= uint64(1)<<its.TYPER.DeviceIDBits():
			return bad("DeviceID %#x does not fit GITS_TYPER's %d DeviceID bits", r.Owner, its.TYPER.DeviceIDBits())
		}
	}
	return nil
}

// checkExtents checks that the extents are non-empty, ascending, not
// overlapping and inside the region.
func checkExtents(r Region) error {
	var next uint64
	for i, e := range r.Extents {
		switch {
		case len(e.Data) == 0:
			return fmt.Errorf("extent %d is empty: %w", i, model.ErrInvalidArgument)
		case e.Offset < next:
			return fmt.Errorf("extent %d at offset %#x overlaps or precedes the one before it (which ends at %#x): %w", i, e.Offset, next, model.ErrInvalidArgument)
		case e.Offset > r.Size || uint64(len(e.Data)) > r.Size-e.Offset:
			return fmt.Errorf("extent %d [%#x, +%#x) is outside the %#x-byte region: %w", i, e.Offset, len(e.Data), r.Size, model.ErrInvalidArgument)
		}
		next = e.Offset + uint64(len(e.Data))
	}
	return nil
}

// FormatError is what is wrong with a saved-state file or [State]: the
// field and, for a file, the byte offset where it starts.
type FormatError struct {
	// Offset is the byte offset in the file of the field, or -1 for a
	// State not read from a file.
	Offset int64
	// Field names the field.
	Field string
	Err   error
}

func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("saved state: %s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("saved state: byte %#x (%s): %v", e.Offset, e.Field, e.Err)
}

func (e *FormatError) Unwrap() error { return e.Err }
