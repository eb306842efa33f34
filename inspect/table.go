package inspect

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gicits/gicits/model"
)

// TableKind says which ITS table a dump holds, in KVM's ITS table ABI
// revision 0 (kvm-vgic-its.md, section 7).
type TableKind int

const (
	// DeviceTable: DTEs indexed by DeviceID (a flat table or one
	// second-level page).
	DeviceTable TableKind = iota
	// ITT: ITEs indexed by EventID.
	ITT
	// CollectionTable: CTEs in list order, ended by a zero entry.
	CollectionTable
	// L1Table: first-level entries of a two-level device table, indexed
	// by DeviceID / (L2 page size / 8).
	L1Table
)

var tableKindNames = []string{"dte", "itt", "cte", "l1"}

func (k TableKind) String() string {
	if int(k) < len(tableKindNames) {
		return tableKindNames[k]
	}
	return "table kind " + strconv.Itoa(int(k))
}

// ParseTableKind parses "dte", "itt", "cte" or "l1" (also "device",
// "collection").
func ParseTableKind(s string) (TableKind, error) {
	switch strings.ToLower(s) {
	case "dte", "device", "devices":
		return DeviceTable, nil
	case "itt", "ite":
		return ITT, nil
	case "cte", "collection", "collections":
		return CollectionTable, nil
	case "l1":
		return L1Table, nil
	}
	return 0, fmt.Errorf("unknown table kind %q (want dte, itt, cte or l1): %w", s, model.ErrInvalidArgument)
}

// EntryLine is one decoded table entry.
type EntryLine struct {
	// Index is the entry's index: DeviceID, EventID, list position or L1
	// index.
	Index uint64
	// Offset is the entry's byte offset from the table's start.
	Offset uint64
	Raw    uint64
	// Entry is a model.DTE, model.ITE, model.CTE or model.L1Entry.
	Entry    fmt.Stringer
	Problems []Problem
}

// live reports whether a decoded entry holds a mapping.
func live(e fmt.Stringer) bool {
	switch v := e.(type) {
	case model.DTE:
		return v.Valid
	case model.ITE:
		return v.Valid()
	case model.CTE:
		return v.Valid
	case model.L1Entry:
		return v.Valid
	}
	return false
}

func decodeEntry(kind TableKind, raw uint64) fmt.Stringer {
	switch kind {
	case DeviceTable:
		return model.DecodeDTE(raw)
	case ITT:
		return model.DecodeITE(raw)
	case CollectionTable:
		return model.DecodeCTE(raw)
	default:
		return model.DecodeL1Entry(raw)
	}
}

// RawEntry is a table entry given by value, for decoding entries typed in
// rather than dumped.
type RawEntry struct {
	Index uint64
	Raw   uint64
}

// DecodeEntries decodes entries given by value (index and doubleword),
// checking each as [DecodeTable] does, without the chain checks that need
// the whole table.
func DecodeEntries(kind TableKind, entries []RawEntry) []EntryLine {
	out := make([]EntryLine, 0, len(entries))
	for _, e := range entries {
		l := EntryLine{Index: e.Index, Offset: e.Index * model.TableEntrySize, Raw: e.Raw, Entry: decodeEntry(kind, e.Raw)}
		l.Problems = checkEntry(kind, l)
		out = append(out, l)
	}
	return out
}

// DecodeTable decodes a table dump, data being the table's bytes from its
// first entry. It returns the entries that are not zero (for a collection
// table: the entries before the zero terminator), each checked:
//
//   - a DTE whose Size exceeds KVM's 16 EventID bits, an ITE whose pINTID
//     is below 8192, RES0 bits set, an L1 entry not 64 KiB aligned: the
//     restore of such an entry fails (KVM answers EINVAL);
//   - an entry marked invalid but with other bits set: stale bytes;
//   - a "next" field that does not lead to the next live entry: KVM's
//     restore follows next, so it would skip or stop early.
//
// A trailing partial entry is reported. Decoding never stops early.
func DecodeTable(kind TableKind, data []byte) []EntryLine {
	var out []EntryLine
	n := len(data) / model.TableEntrySize
	for i := range n {
		off := uint64(i * model.TableEntrySize)
		raw := le64(data[off:])
		if raw == 0 {
			if kind == CollectionTable {
				break
			}
			continue
		}
		l := EntryLine{Index: uint64(i), Offset: off, Raw: raw, Entry: decodeEntry(kind, raw)}
		l.Problems = checkEntry(kind, l)
		out = append(out, l)
	}
	if kind == DeviceTable || kind == ITT {
		checkNext(kind, out)
	}
	if rest := len(data) % model.TableEntrySize; rest != 0 {
		off := uint64(n * model.TableEntrySize)
		out = append(out, EntryLine{Index: uint64(n), Offset: off, Problems: []Problem{{
			Offset: off, Field: "entry", Msg: fmt.Sprintf("%d trailing bytes: a table entry is 8 bytes", rest), Fatal: true,
		}}})
	}
	return out
}

func checkEntry(kind TableKind, l EntryLine) []Problem {
	if l.Raw == 0 {
		return nil // an empty slot
	}
	var ps []Problem
	add := func(byteInEntry uint64, field, format string, args ...any) {
		ps = append(ps, Problem{Offset: l.Offset + byteInEntry, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	switch e := l.Entry.(type) {
	case model.DTE:
		switch {
		case !e.Valid:
			add(7, "V bit 63", "entry is invalid but other bits are set (%#x): stale bytes, ignored by a restore", l.Raw)
		case int(e.Size)+1 > model.KVMITSTyper.EventIDBits():
			add(0, "Size bits 4:0", "%d EventID bits exceed KVM's %d: restore fails (EINVAL)", int(e.Size)+1, model.KVMITSTyper.EventIDBits())
		}
	case model.ITE:
		switch {
		case !e.Valid():
			add(2, "pINTID bits 47:16", "pINTID 0 (invalid entry) but other bits are set (%#x): stale bytes", l.Raw)
		case !e.INTID.IsLPI():
			add(2, "pINTID bits 47:16", "%d is below the LPI range (8192): restore fails (EINVAL)", e.INTID)
		}
	case model.CTE:
		if res := l.Raw & (uint64(0x7FF) << 52); res != 0 {
			add(6, "bits 62:52 (RES0)", "RES0 bits %#x are set", res)
		}
		if !e.Valid {
			add(7, "V bit 63", "entry is invalid but not zero (%#x): a restore stops at the first invalid entry", l.Raw)
		}
	case model.L1Entry:
		if res := l.Raw & (uint64(0x7FF)<<52 | 0xFFFF); res != 0 {
			add(0, "bits 62:52, 15:0 (RES0)", "RES0 bits %#x are set", res)
		}
		if !e.Valid {
			add(7, "V bit 63", "entry is invalid but not zero (%#x): stale bytes", l.Raw)
		}
	}
	return ps
}

// checkNext checks the "next" chain of DTEs and ITEs: each live entry's
// next must be the distance to the following live entry, 0 on the last.
func checkNext(kind TableKind, lines []EntryLine) {
	var liveIdx []int
	for i := range lines {
		if live(lines[i].Entry) {
			liveIdx = append(liveIdx, i)
		}
	}
	for k, i := range liveIdx {
		var next uint64
		var byteInEntry uint64
		var field string
		switch e := lines[i].Entry.(type) {
		case model.DTE:
			next, byteInEntry, field = uint64(e.Next), 6, "next bits 62:49"
		case model.ITE:
			next, byteInEntry, field = uint64(e.Next), 6, "next bits 63:48"
		}
		want := uint64(0)
		if k+1 < len(liveIdx) {
			want = lines[liveIdx[k+1]].Index - lines[i].Index
		}
		if next == want {
			continue
		}
		var msg string
		if want == 0 {
			msg = fmt.Sprintf("next=%d, but this is the last live entry (want 0): a restore reads on from index %d", next, lines[i].Index+next)
		} else {
			msg = fmt.Sprintf("next=%d, but the next live entry is %d further, at index %d: a restore would not find it", next, want, lines[i].Index+want)
		}
		lines[i].Problems = append(lines[i].Problems, Problem{Offset: lines[i].Offset + byteInEntry, Field: field, Msg: msg})
	}
}

// WriteEntries writes one line per entry: index, address (base plus the
// entry's offset; "-" when base is nil, for entries typed in), raw
// doubleword and decoded fields, then one indented line per problem.
func WriteEntries(w io.Writer, kind TableKind, base *model.GPA, lines []EntryLine) error {
	var b strings.Builder
	idx := map[TableKind]string{DeviceTable: "DeviceID", ITT: "EventID", CollectionTable: "#", L1Table: "L1 index"}[kind]
	switch {
	case len(lines) == 0 && base == nil:
		// Entries given by value are shown even when zero: none decoded.
		fmt.Fprintf(&b, "(no entries: none of the values given is a number)\n")
	case len(lines) == 0:
		fmt.Fprintf(&b, "(no entries: the table is all zero)\n")
	default:
		fmt.Fprintf(&b, "%-10s %-12s %-18s %s\n", idx, "address", "raw", "decoded")
	}
	for _, l := range lines {
		index := fmt.Sprintf("%#x", l.Index)
		if kind == ITT || kind == CollectionTable {
			index = strconv.FormatUint(l.Index, 10)
		}
		addr := "-"
		if base != nil {
			addr = (*base + model.GPA(l.Offset)).String()
		}
		if l.Entry == nil {
			fmt.Fprintf(&b, "%-10s %-12s %-18s %s\n", index, addr, "-", "undecodable")
		} else {
			fmt.Fprintf(&b, "%-10s %-12s 0x%016x %v\n", index, addr, l.Raw, l.Entry)
		}
		for _, p := range l.Problems {
			fmt.Fprintf(&b, "           %v\n", p)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ParseEntries parses table entries written as text: white-space or
// comma separated tokens, each a doubleword ("0x800000000800E004") or
// "INDEX=VALUE" ("0x10=0x800000000800E004"); without an index an entry
// takes the one after the previous entry's. A token that does not parse
// is reported with its position and skipped.
func ParseEntries(text string) ([]RawEntry, []error) {
	var out []RawEntry
	var errs []error
	next := uint64(0)
	for ln, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, tok := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' || r == '\r' }) {
			idx, val, hasIdx := strings.Cut(tok, "=")
			if !hasIdx {
				val = idx
			}
			index := next
			if hasIdx {
				v, err := strconv.ParseUint(strings.ReplaceAll(idx, "_", ""), 0, 64)
				if err != nil {
					errs = append(errs, fmt.Errorf("line %d: %q: index %s (skipped): %w", ln+1, tok, notANumber(idx, err), model.ErrInvalidArgument))
					continue
				}
				index = v
			}
			v, err := strconv.ParseUint(strings.ReplaceAll(val, "_", ""), 0, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("line %d: %q: %s (skipped): %w", ln+1, tok, notANumber(val, err), model.ErrInvalidArgument))
				continue
			}
			out = append(out, RawEntry{Index: index, Raw: v})
			next = index + 1
		}
	}
	return out, errs
}

// notANumber says why s, which strconv.ParseUint refused with err, is not
// an entry or index: not a number at all, or too large.
func notANumber(s string, err error) string {
	if errors.Is(err, strconv.ErrRange) {
		return fmt.Sprintf("%q does not fit in 64 bits", s)
	}
	return fmt.Sprintf("%q is not a number (decimal, or hexadecimal with 0x)", s)
}

// DecodeEntryText decodes table entries written as text (see
// [ParseEntries]) as [DecodeEntries] does.
func DecodeEntryText(kind TableKind, text string) ([]EntryLine, []error) {
	entries, errs := ParseEntries(text)
	return DecodeEntries(kind, entries), errs
}

// Window returns the bytes of a memory dump that start at guest address at:
// dump holds guest memory from base. size 0 means to the end of the dump.
// An address outside the dump is an error naming both ranges, and so is a
// dump that would run past the top of the address space.
func Window(dump []byte, base, at model.GPA, size uint64) ([]byte, error) {
	endGPA, err := base.Add(uint64(len(dump)))
	if err != nil {
		return nil, fmt.Errorf("a %d-byte dump at %v: %w", len(dump), base, err)
	}
	end := uint64(endGPA)
	if at < base || uint64(at) > end {
		return nil, fmt.Errorf("address %v is outside the dump [%v, %#x): %w", at, base, end, model.ErrOutOfRange)
	}
	rest := dump[at-base:]
	if size == 0 {
		return rest, nil
	}
	if size > uint64(len(rest)) {
		return nil, fmt.Errorf("%d bytes at %v run past the end of the dump [%v, %#x): %w", size, at, base, end, model.ErrOutOfRange)
	}
	return rest[:size], nil
}
