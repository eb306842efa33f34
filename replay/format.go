package replay

import (
	"fmt"
	"strconv"
	"strings"
)

// A format is one trace event's message format as QEMU's trace-events file
// writes it, with PRIx64 folded in: literal text and the conversions %x
// (hexadecimal), %d (signed decimal) and %u (unsigned decimal). The log
// backend prints "NAME " and then the message (scripts/tracetool/backend/
// log.py), so a format both parses a line and prints one back.
type format struct {
	text   string
	pieces []piece
}

// A piece is literal text followed by one conversion; the last piece of a
// format has no conversion (verb 0) and holds the text after the last one.
type piece struct {
	lit  string
	verb byte
}

// compileFormat splits s into pieces. A % not followed by x, d or u is a
// programming error in this package's table of events.
func compileFormat(s string) (format, error) {
	f := format{text: s}
	rest := s
	for {
		i := strings.IndexByte(rest, '%')
		if i < 0 {
			f.pieces = append(f.pieces, piece{lit: rest})
			return f, nil
		}
		if i+1 >= len(rest) || !strings.ContainsRune("xdu", rune(rest[i+1])) {
			return format{}, fmt.Errorf("format %q: %% must be followed by x, d or u", s)
		}
		f.pieces = append(f.pieces, piece{lit: rest[:i], verb: rest[i+1]})
		rest = rest[i+2:]
	}
}

// verbs returns the number of conversions.
func (f format) verbs() int { return len(f.pieces) - 1 }

// A mismatch says where a message stops matching its format: at byte col
// of the message, want was expected.
type mismatch struct {
	col  int
	want string
}

// scan matches msg against f and returns one value per conversion: %x and
// %u as they read, %d as the two's complement of the signed value.
func (f format) scan(msg string) ([]uint64, *mismatch) {
	vals := make([]uint64, 0, f.verbs())
	pos := 0
	for _, p := range f.pieces {
		if !strings.HasPrefix(msg[pos:], p.lit) {
			return nil, &mismatch{col: pos + commonPrefix(msg[pos:], p.lit), want: fmt.Sprintf("%q", p.lit)}
		}
		pos += len(p.lit)
		if p.verb == 0 {
			break
		}
		v, n, want := scanNumber(msg[pos:], p.verb)
		if want != "" {
			return nil, &mismatch{col: pos, want: want}
		}
		vals = append(vals, v)
		pos += n
	}
	if pos != len(msg) {
		return nil, &mismatch{col: pos, want: "the end of the line"}
	}
	return vals, nil
}

// scanNumber reads the number a conversion printed at the start of s, and
// returns it, its length, or what was wanted instead.
func scanNumber(s string, verb byte) (uint64, int, string) {
	base, neg := 10, false
	digits := s
	switch verb {
	case 'x':
		base = 16
	case 'd':
		if strings.HasPrefix(s, "-") {
			neg, digits = true, s[1:]
		}
	}
	n := 0
	for n < len(digits) && isDigit(digits[n], base) {
		n++
	}
	what := map[byte]string{'x': "a hexadecimal number", 'd': "a decimal number", 'u': "an unsigned decimal number"}[verb]
	if n == 0 {
		return 0, 0, what
	}
	if neg {
		v, err := strconv.ParseInt("-"+digits[:n], 10, 64)
		if err != nil {
			return 0, 0, what + " that fits 64 bits"
		}
		return uint64(v), n + 1, ""
	}
	v, err := strconv.ParseUint(digits[:n], base, 64)
	if err != nil {
		return 0, 0, what + " that fits 64 bits"
	}
	return v, n, ""
}

func isDigit(c byte, base int) bool {
	switch {
	case c >= '0' && c <= '9':
		return true
	case base == 16:
		return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
	}
	return false
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// print renders vals (one per conversion) as QEMU prints them: hexadecimal
// in lower case without leading zeros, as C's %x does.
func (f format) print(vals []uint64) string {
	var b strings.Builder
	for i, p := range f.pieces {
		b.WriteString(p.lit)
		switch p.verb {
		case 'x':
			b.WriteString(strconv.FormatUint(vals[i], 16))
		case 'u':
			b.WriteString(strconv.FormatUint(vals[i], 10))
		case 'd':
			b.WriteString(strconv.FormatInt(int64(vals[i]), 10))
		}
	}
	return b.String()
}
