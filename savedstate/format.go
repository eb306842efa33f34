package savedstate

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"slices"

	"github.com/gicits/gicits/model"
)

// Magic is the first 8 bytes of a saved-state file.
const Magic = "GICITSST"

const (
	headerSize   = 16 // magic, version, flags, length
	checksumSize = 4
	regionHeader = 1 + 3 + 4 + 8 + 8 + 4 // kind, reserved, owner, addr, size, extent count
	extentHeader = 4 + 4                 // offset, length
	// maxFileSize bounds a file: the length field is 32 bits.
	maxFileSize = 1<<32 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layoutFields lists model.Layout's fields in file order, as pointers
// into one Layout.
func layoutFields(l *model.Layout) []struct {
	name string
	gpa  *model.GPA
	u64  *uint64
	n    *int
	b    *bool
} {
	type f = struct {
		name string
		gpa  *model.GPA
		u64  *uint64
		n    *int
		b    *bool
	}
	return []f{
		{name: "GICDBase", gpa: &l.GICDBase},
		{name: "ITSBase", gpa: &l.ITSBase},
		{name: "GICRBase", gpa: &l.GICRBase},
		{name: "RAMBase", gpa: &l.RAMBase},
		{name: "RAMSize", u64: &l.RAMSize},
		{name: "CommandQueue", gpa: &l.CommandQueue},
		{name: "CommandQueuePages", n: &l.CommandQueuePages},
		{name: "DeviceTable", gpa: &l.DeviceTable},
		{name: "DeviceTablePageSize", n: &l.DeviceTablePageSize},
		{name: "DeviceTablePages", n: &l.DeviceTablePages},
		{name: "DeviceTableIndirect", b: &l.DeviceTableIndirect},
		{name: "CollectionTable", gpa: &l.CollectionTable},
		{name: "CollectionTablePageSize", n: &l.CollectionTablePageSize},
		{name: "CollectionTablePages", n: &l.CollectionTablePages},
		{name: "PropTable", gpa: &l.PropTable},
		{name: "LPIIDBits", n: &l.LPIIDBits},
		{name: "PendTables", gpa: &l.PendTables},
		{name: "Scratch", gpa: &l.Scratch},
		{name: "ScratchSize", u64: &l.ScratchSize},
		{name: "ITTs", gpa: &l.ITTs},
		{name: "ITTsSize", u64: &l.ITTsSize},
		{name: "MaxCPUs", n: &l.MaxCPUs},
	}
}

// maxLayoutInt bounds the layout's int fields in a file (counts, sizes in
// pages, bits), so that they convert to int anywhere.
const maxLayoutInt = 1 << 30

// MarshalBinary encodes s in the file format, after [State.Validate]: it
// never writes a file [Parse] refuses.
func (s *State) MarshalBinary() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	b := make([]byte, 0, s.encodedSize())
	b = append(b, Magic...)
	b = le.AppendUint16(b, Version)
	b = le.AppendUint16(b, 0)
	b = le.AppendUint32(b, 0) // length, filled in below
	b = append(b, byte(len(s.Source)))
	b = append(b, s.Source...)
	b = le.AppendUint32(b, uint32(s.CPUs))
	l := s.Layout
	for _, f := range layoutFields(&l) {
		var v uint64
		switch {
		case f.gpa != nil:
			v = uint64(*f.gpa)
		case f.u64 != nil:
			v = *f.u64
		case f.n != nil:
			v = uint64(*f.n)
		case *f.b:
			v = 1
		}
		b = le.AppendUint64(b, v)
	}
	r := s.ITS
	for _, v := range []uint64{r.CTLR, r.IIDR, uint64(r.TYPER), uint64(r.CBASER), r.CREADR, r.CWRITER, uint64(r.DeviceBaser), uint64(r.CollectionBaser)} {
		b = le.AppendUint64(b, v)
	}
	for _, rd := range s.Redistributors {
		b = le.AppendUint64(b, rd.CTLR)
		b = le.AppendUint64(b, uint64(rd.PropBaser))
		b = le.AppendUint64(b, uint64(rd.PendBaser))
	}
	b = le.AppendUint32(b, uint32(len(s.Regions)))
	for _, reg := range s.Regions {
		b = append(b, byte(reg.Kind), 0, 0, 0)
		b = le.AppendUint32(b, reg.Owner)
		b = le.AppendUint64(b, uint64(reg.Addr))
		b = le.AppendUint64(b, reg.Size)
		b = le.AppendUint32(b, uint32(len(reg.Extents)))
		for _, e := range reg.Extents {
			b = le.AppendUint32(b, uint32(e.Offset))
			b = le.AppendUint32(b, uint32(len(e.Data)))
			b = append(b, e.Data...)
		}
	}
	if len(b)+checksumSize > maxFileSize {
		return nil, fmt.Errorf("saved state: %d bytes do not fit the format's 32-bit length: %w", len(b)+checksumSize, model.ErrInvalidArgument)
	}
	le.PutUint32(b[12:], uint32(len(b)+checksumSize))
	return le.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

// encodedSize returns the size of s's file.
func (s *State) encodedSize() int {
	n := headerSize + 1 + len(s.Source) + 4 + 22*8 + 8*8 + 3*8*len(s.Redistributors) + 4 + checksumSize
	for _, r := range s.Regions {
		n += regionHeader
		for _, e := range r.Extents {
			n += extentHeader + len(e.Data)
		}
	}
	return n
}

// WriteFile writes s to the named file, which it creates or truncates.
func (s *State) WriteFile(name string) error {
	data, err := s.MarshalBinary()
	if err != nil {
		return err
	}
	return os.WriteFile(name, data, 0o644)
}

// ReadFile reads and parses the named saved-state file. Errors name the
// file.
func ReadFile(name string) (*State, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Parse decodes a saved-state file and validates it (see the package
// documentation). It returns a State exactly when the error is nil; the
// error is a [*FormatError] naming the byte offset and the field at fault,
// and wraps [model.ErrInvalidArgument]. A file it accepts encodes back
// ([State.MarshalBinary]) to the same bytes.
func Parse(data []byte) (*State, error) {
	if err := checkEnvelope(data); err != nil {
		return nil, err
	}
	r := &reader{data: data[:len(data)-checksumSize], off: headerSize}
	s := &State{}
	offsets := map[string]int64{}
	mark := func(name string) { offsets[name] = int64(r.off) }

	mark("source")
	n := int(r.u8("source name length"))
	if r.err == nil && (n < 1 || n > maxSourceLen) {
		r.fail("source name length", "%d; want 1..%d", n, maxSourceLen)
	}
	s.Source = string(r.bytes("source name", n))
	mark("cpus")
	cpus := r.u32("CPUs")
	if r.err == nil && (cpus < 1 || cpus > maxLayoutInt) {
		r.fail("CPUs", "%d; want 1..%d", cpus, maxLayoutInt)
	}
	s.CPUs = int(cpus)
	mark("layout")
	r.layout(&s.Layout)
	if r.err == nil && s.CPUs > s.Layout.MaxCPUs {
		r.last = int(offsets["cpus"])
		r.fail("CPUs", "%d; the layout has pending tables for %d (MaxCPUs)", s.CPUs, s.Layout.MaxCPUs)
	}
	mark("its")
	s.ITS = ITSRegisters{
		CTLR: r.u64("GITS_CTLR"), IIDR: r.u64("GITS_IIDR"), TYPER: model.ITSTyper(r.u64("GITS_TYPER")),
		CBASER: model.CBASER(r.u64("GITS_CBASER")), CREADR: r.u64("GITS_CREADR"), CWRITER: r.u64("GITS_CWRITER"),
		DeviceBaser: model.Baser(r.u64("GITS_BASER0")), CollectionBaser: model.Baser(r.u64("GITS_BASER1")),
	}
	// Each CPU needs 24 bytes: a count the file cannot hold is refused
	// before anything is allocated for it.
	if r.err == nil && uint64(cpus)*24 > uint64(r.left()) {
		r.last = r.off
		r.fail("redistributors", "%d CPUs need %d bytes, %d are left", cpus, uint64(cpus)*24, r.left())
	}
	for cpu := 0; r.err == nil && cpu < s.CPUs; cpu++ {
		mark(fmt.Sprintf("cpu %d", cpu))
		f := func(reg string) string { return fmt.Sprintf("CPU %d %s", cpu, reg) }
		s.Redistributors = append(s.Redistributors, Redistributor{
			CTLR: r.u64(f("GICR_CTLR")), PropBaser: model.PropBaser(r.u64(f("GICR_PROPBASER"))), PendBaser: model.PendBaser(r.u64(f("GICR_PENDBASER"))),
		})
	}
	mark("regions")
	count := r.u32("region count")
	if r.err == nil && uint64(count)*regionHeader > uint64(r.left()) {
		r.fail("region count", "%d regions need at least %d bytes, %d are left", count, uint64(count)*regionHeader, r.left())
	}
	for i := 0; r.err == nil && i < int(count); i++ {
		mark(fmt.Sprintf("region %d", i))
		s.Regions = append(s.Regions, r.region(i))
	}
	if r.err == nil && r.left() > 0 {
		r.last = r.off
		r.fail("end", "%d bytes after the last region, before the checksum", r.left())
	}
	if r.err != nil {
		return nil, r.err
	}
	if err := s.validate(func(name string) int64 {
		if off, ok := offsets[name]; ok {
			return off
		}
		return -1
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// checkEnvelope checks the header and the checksum.
func checkEnvelope(data []byte) error {
	le := binary.LittleEndian
	bad := func(off int64, field, format string, args ...any) error {
		return &FormatError{Offset: off, Field: field, Err: fmt.Errorf(format+": %w", append(args, model.ErrInvalidArgument)...)}
	}
	switch {
	case len(data) == 0:
		return bad(0, "magic", "the file is empty")
	case len(data) < len(Magic) || string(data[:len(Magic)]) != Magic:
		return bad(0, "magic", "not a gicits saved-state file (it does not start with %q)", Magic)
	case len(data) < headerSize:
		return bad(int64(len(data)), "header", "the file ends inside the %d-byte header", headerSize)
	}
	if v := le.Uint16(data[8:]); v != Version {
		return bad(8, "version", "version %d; this gicits reads version %d", v, Version)
	}
	if f := le.Uint16(data[10:]); f != 0 {
		return bad(10, "flags", "%#04x; every bit is reserved and must be 0", f)
	}
	if n := le.Uint32(data[12:]); uint64(n) != uint64(len(data)) {
		what := "truncated"
		if uint64(n) < uint64(len(data)) {
			what = "followed by other data"
		}
		return bad(12, "length", "the header says %d bytes, the file has %d: %s", n, len(data), what)
	}
	if len(data) < headerSize+checksumSize {
		return bad(int64(headerSize), "checksum", "the file ends before its checksum")
	}
	body, sum := data[:len(data)-checksumSize], le.Uint32(data[len(data)-checksumSize:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return bad(int64(len(body)), "checksum", "CRC-32C %#08x, the bytes before it give %#08x: the file is corrupt", sum, got)
	}
	return nil
}

// reader reads little-endian fields with a sticky error, as
// bufio.Scanner does: after the first failure every read returns zero and
// the error names the first field that failed.
type reader struct {
	data []byte
	off  int
	last int // where the field read last starts: what fail blames
	err  error
}

func (r *reader) left() int { return len(r.data) - r.off }

// fail records what is wrong with the field read last (or, when a read
// found the file too short, the field it could not read).
func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = &FormatError{Offset: int64(r.last), Field: field, Err: fmt.Errorf(format+": %w", append(args, model.ErrInvalidArgument)...)}
	}
}

// bytes returns the next n bytes, not a copy.
func (r *reader) bytes(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	r.last = r.off
	if n < 0 || n > r.left() {
		r.fail(field, "the file ends %d bytes into the field's %d", r.left(), n)
		return nil
	}
	b := r.data[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) u8(field string) uint8 {
	if b := r.bytes(field, 1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if b := r.bytes(field, 4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if b := r.bytes(field, 8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) layout(l *model.Layout) {
	for _, f := range layoutFields(l) {
		v := r.u64("layout " + f.name)
		if r.err != nil {
			return
		}
		switch {
		case f.gpa != nil:
			*f.gpa = model.GPA(v)
		case f.u64 != nil:
			*f.u64 = v
		case f.n != nil:
			if v > maxLayoutInt {
				r.fail("layout "+f.name, "%d; want at most %d", v, maxLayoutInt)
				return
			}
			*f.n = int(v)
		default:
			if v > 1 {
				r.fail("layout "+f.name, "%d; want 0 or 1", v)
				return
			}
			*f.b = v == 1
		}
	}
}

// region reads region i's header and extents.
func (r *reader) region(i int) Region {
	field := func(name string) string { return fmt.Sprintf("region %d %s", i, name) }
	var reg Region
	reg.Kind = RegionKind(r.u8(field("kind")))
	if pad := r.bytes(field("reserved bytes"), 3); r.err == nil && (pad[0]|pad[1]|pad[2]) != 0 {
		r.fail(field("reserved bytes"), "% x; want 0", pad)
	}
	reg.Owner = r.u32(field("owner"))
	reg.Addr = model.GPA(r.u64(field("address")))
	reg.Size = r.u64(field("size"))
	if r.err == nil && (reg.Size == 0 || reg.Size > MaxRegionSize) {
		r.fail(field("size"), "%#x; want 1..%#x", reg.Size, MaxRegionSize)
	}
	n := r.u32(field("extent count"))
	if r.err == nil && uint64(n)*(extentHeader+1) > uint64(r.left()) {
		r.fail(field("extent count"), "%d extents need at least %d bytes, %d are left", n, uint64(n)*(extentHeader+1), r.left())
	}
	var next uint64
	for j := 0; r.err == nil && j < int(n); j++ {
		ef := func(name string) string { return field(fmt.Sprintf("extent %d %s", j, name)) }
		off := uint64(r.u32(ef("offset")))
		if r.err == nil && off < next {
			r.fail(ef("offset"), "%#x overlaps or precedes the extent before it (which ends at %#x)", off, next)
		}
		length := uint64(r.u32(ef("length")))
		switch {
		case r.err != nil:
		case length == 0:
			r.fail(ef("length"), "0; an extent holds at least one byte")
		case off+length > reg.Size:
			r.fail(ef("length"), "[%#x, +%#x) is outside the %#x-byte region", off, length, reg.Size)
		}
		data := r.bytes(ef("bytes"), int(length))
		if r.err == nil {
			reg.Extents = append(reg.Extents, Extent{Offset: off, Data: slices.Clone(data)})
			next = off + length
		}
	}
	return reg
}
