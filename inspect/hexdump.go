package inspect

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gicits/gicits/model"
)

// maxDumpBytes bounds the bytes a hex dump may expand to: a "*" line
// repeats the line before it up to the next offset, whatever that says.
const maxDumpBytes = 64 << 20

// The hex dump formats [ParseHexDump] reads, by their first line.
var (
	// xxd's default: "00000010: 0a00 0000 1000 0000  ....": an offset
	// and a colon, groups of hex digits, two spaces, the ASCII column.
	xxdLine = regexp.MustCompile(`^([0-9a-fA-F]{4,16}): ([0-9a-fA-F]{2,}(?: [0-9a-fA-F]{2,})*)(?:  .*)?$`)
	// od -Ax -tx1: "000010 0a 00 00 00", an offset alone at the end, and
	// with -tx1z an ASCII column ">....<".
	odLine = regexp.MustCompile(`^([0-9a-fA-F]{6,16})((?: [0-9a-fA-F]{2})*)(?: {2,}>.*<)?$`)
	// od's first line holds bytes: a line of hex digits alone is plain
	// text (a doubleword a line, say), not od's offset.
	odFirstLine = regexp.MustCompile(`^[0-9a-fA-F]{6,16}(?: [0-9a-fA-F]{2})+(?: {2,}>.*<)?$`)
)

// HexDump is what [ParseHexDump] read: the bytes, and where they start.
type HexDump struct {
	// Format is "xxd" or "od" for a dump in that format, "" for plain
	// hexadecimal text (see [ParseHex]).
	Format string
	// Start is the offset of Data[0], the dump's first offset (0 for
	// plain text).
	Start uint64
	Data  []byte
	// Gaps are the ranges [from, to) of offsets no line held, filled with
	// zeros so that the bytes after keep their offsets.
	Gaps [][2]uint64
}

// InGap reports whether any byte of [off, off+n) is in one of d's gaps:
// what decodes there is partly made up.
func (d HexDump) InGap(off, n uint64) bool {
	for _, g := range d.Gaps {
		if off < g[1] && g[0] < off+n {
			return true
		}
	}
	return false
}

// DumpFormat names the hex dump format text is in, by its first line that
// is not blank: "xxd" (xxd's default output, any -g and -c), "od" (od -Ax
// -tx1, or -tx1z), or "" for neither.
func DumpFormat(text string) string {
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		switch {
		case line == "":
			continue
		case xxdLine.MatchString(line):
			return "xxd"
		case odFirstLine.MatchString(line):
			return "od"
		}
		return ""
	}
	return ""
}

// ParseHexDump reads a hex dump in a format [DumpFormat] knows, or plain
// hexadecimal text as [ParseHex] does. The offset column and the ASCII
// column of a dump are not data. A "*" line (xxd -a, od without -v) stands
// for the line before it repeated up to the next line's offset. Each line's
// offset must be where the line before it ended. A line that is not of the
// format, or whose offset the dump is past already, is reported with its
// line number and skipped; the bytes of the lines after it keep their
// offsets (a gap is reported, and decoded as zeros).
func ParseHexDump(text string) (HexDump, []error) {
	format := DumpFormat(text)
	if format == "" {
		data, errs := ParseHex(text)
		return HexDump{Data: data}, errs
	}
	pattern := map[string]*regexp.Regexp{"xxd": xxdLine, "od": odLine}[format]
	p := dumpParser{d: HexDump{Format: format}, first: true}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if err := p.line(pattern, line); err != nil {
			p.errs = append(p.errs, fmt.Errorf("line %d: %w: %w", i+1, err, model.ErrInvalidArgument))
		}
	}
	if p.repeat {
		p.errs = append(p.errs, fmt.Errorf("the dump ends with \"*\", so how far the last line repeats is not known: %w", model.ErrInvalidArgument))
	}
	return p.d, p.errs
}

// dumpParser reads a dump line by line.
type dumpParser struct {
	d      HexDump
	errs   []error
	first  bool   // no line read yet
	last   []byte // the bytes of the line before, which "*" repeats
	repeat bool   // a "*" line came, and the next offset ends it
}

// line reads one line of a dump whose lines match pattern.
func (p *dumpParser) line(pattern *regexp.Regexp, line string) error {
	if line == "" {
		return nil
	}
	if line == "*" {
		if len(p.last) == 0 {
			return fmt.Errorf(`"*" repeats no line`)
		}
		p.repeat = true
		return nil
	}
	m := pattern.FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("not a line of %s's dump: %q", p.d.Format, line)
	}
	off, err := strconv.ParseUint(m[1], 16, 64)
	if err != nil {
		return fmt.Errorf("offset %q: %v", m[1], err)
	}
	data, err := hexGroups(m[2])
	if err != nil {
		return err
	}
	if off+uint64(len(data)) < off {
		return fmt.Errorf("offset %#x: the line's %d bytes run past the end of the address space (skipped)", off, len(data))
	}
	if p.first {
		p.d.Start, p.first = off, false
	}
	keep, err := p.fill(off)
	if keep {
		p.d.Data = append(p.d.Data, data...)
		p.last = data
	}
	return err
}

// fill brings the dump up to offset off, where the next line's bytes go:
// after a "*", by repeating the line before; after a line that was
// skipped, or where a line is missing, with zeros, and an error saying so
// (the bytes after keep their offsets). A line at an offset the dump is
// past already is an error, and is skipped (keep is false).
func (p *dumpParser) fill(off uint64) (keep bool, err error) {
	at := p.d.Start + uint64(len(p.d.Data))
	repeat := p.repeat
	p.repeat = false
	switch {
	case off == at:
		return true, nil
	case off < at:
		return false, fmt.Errorf("offset %#x, but the dump is at %#x already (skipped)", off, at)
	case off-p.d.Start > maxDumpBytes:
		return false, fmt.Errorf("offset %#x: the dump would be %d bytes from %#x; at most %d MiB is decoded (skipped)", off, off-p.d.Start, p.d.Start, maxDumpBytes>>20)
	case !repeat || (off-at)%uint64(len(p.last)) != 0:
		p.d.Data = append(p.d.Data, make([]byte, off-at)...)
		p.d.Gaps = append(p.d.Gaps, [2]uint64{at, off})
		return true, fmt.Errorf("offset %#x, but the line before ends at %#x: the bytes from %#x to %#x are missing (decoded as zeros)", off, at, at, off-1)
	}
	for at < off {
		p.d.Data = append(p.d.Data, p.last...)
		at += uint64(len(p.last))
	}
	return true, nil
}

// hexGroups reads space-separated groups of hex digits, bytes in memory
// order (xxd's default groups of two bytes, -g1, -g4, ...).
func hexGroups(s string) ([]byte, error) {
	digits := strings.ReplaceAll(s, " ", "")
	if len(digits)%2 != 0 {
		return nil, fmt.Errorf("%q: an odd number of hexadecimal digits", s)
	}
	out := make([]byte, len(digits)/2)
	for i := range out {
		v, err := strconv.ParseUint(digits[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", s, err)
		}
		out[i] = byte(v)
	}
	return out, nil
}
