package inspect_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// Decoding never panics, yields one line per 32 bytes (plus one for a
// partial packet), and a line has no command exactly when it has a fatal
// problem.
func FuzzDecodeQueue(f *testing.F) {
	f.Add(mustEncodeSeed())
	f.Add([]byte{0x29, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := inspect.DecodeQueue(data, 0)
		want := (len(data) + 31) / 32
		if len(lines) != want {
			t.Fatalf("%d lines for %d bytes, want %d", len(lines), len(data), want)
		}
		for _, l := range lines {
			fatal := false
			for _, p := range l.Problems {
				fatal = fatal || p.Fatal
				if p.Offset < l.Offset || p.Offset >= l.Offset+32 {
					t.Errorf("problem %v outside its packet at %#x", p, l.Offset)
				}
			}
			if (l.Command == nil) != (fatal || l.Empty()) {
				t.Errorf("offset %#x: command %v with fatal=%v", l.Offset, l.Command, fatal)
			}
		}
	})
}

func mustEncodeSeed() []byte {
	return []byte{0x0a, 0, 0, 0, 0x10, 0, 0, 0, 1, 0, 0, 0, 1, 0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
}

// ParseHex never panics and never yields more bytes than half the digits.
func FuzzParseHex(f *testing.F) {
	f.Add("0x0a00_0000 # c\nzz 12")
	f.Fuzz(func(t *testing.T, s string) {
		data, _ := inspect.ParseHex(s)
		if 2*len(data) > len(s) {
			t.Fatalf("%d bytes from %d characters", len(data), len(s))
		}
	})
}

// Table decoding never panics, and every entry and problem lies inside
// the input.
func FuzzDecodeTable(f *testing.F) {
	f.Add(uint8(0), le(0x800000000800E004, 0, 0x8000000000000000|3<<49))
	f.Add(uint8(1), le(0, 0x0001000020010001, 0x0000000020020000))
	f.Add(uint8(2), le(0x8000000000000000, 0x8000000000010001, 0))
	f.Add(uint8(3), le(0x8000000040080000, 0x1234))
	f.Fuzz(func(t *testing.T, kind uint8, data []byte) {
		k := inspect.TableKind(kind % 4)
		for _, l := range inspect.DecodeTable(k, data) {
			if l.Offset >= uint64(len(data)) {
				t.Errorf("entry at %#x beyond %d bytes", l.Offset, len(data))
			}
			for _, p := range l.Problems {
				if p.Offset < l.Offset || p.Offset >= l.Offset+8 {
					t.Errorf("problem %v outside its entry at %#x", p, l.Offset)
				}
			}
		}
	})
}

// ParseEntries never panics, and every token becomes an entry or an error,
// in order: tokens are counted here independently of the parser (a byte
// walk over lines, '#' comments and the separators), each token parsed
// alone must give exactly one entry or one error, and the whole text must
// give those same results, an error naming the token and its line, an
// entry without an index taking the one after the previous entry's.
// Entries printed back as INDEX=VALUE parse to themselves. (The result is
// partial by design: entries and errors both come back, so "nil exactly
// when the error is not" does not apply.)
func FuzzParseEntries(f *testing.F) {
	f.Add("0x10=0x800000000800E004 0x1 # note\nxyz, 7=0x_ff")
	f.Add("q=1 2 =3 4= , ,\t0x5\r\n# all comment\n\n=\n1_0=0b11 0o7 18446744073709551616")
	f.Add("0xffffffffffffffff=1 2 a#b c\n\xff,\xc3\x28 9")
	f.Fuzz(func(t *testing.T, s string) {
		entries, errs := inspect.ParseEntries(s)
		toks := entryTokens(s)
		if len(entries)+len(errs) != len(toks) {
			t.Fatalf("%d tokens %+v, but %d entries and %d errors", len(toks), toks, len(entries), len(errs))
		}
		var next uint64
		e, x := 0, 0
		for _, tok := range toks {
			alone, aloneErrs := inspect.ParseEntries(tok.text)
			if len(alone)+len(aloneErrs) != 1 {
				t.Fatalf("token %q alone: %d entries, %d errors; want one of either", tok.text, len(alone), len(aloneErrs))
			}
			if len(aloneErrs) == 1 {
				if x >= len(errs) {
					t.Fatalf("token %q on line %d does not parse alone, but the whole text has no error left for it", tok.text, tok.line)
				}
				err := errs[x]
				x++
				if !errors.Is(err, model.ErrInvalidArgument) {
					t.Errorf("error %v does not wrap ErrInvalidArgument", err)
				}
				if want := fmt.Sprintf("line %d: %q: ", tok.line, tok.text); !strings.HasPrefix(err.Error(), want) {
					t.Errorf("error %q, want it to start %q", err, want)
				}
				continue
			}
			if e >= len(entries) {
				t.Fatalf("token %q on line %d parses alone, but the whole text has no entry left for it", tok.text, tok.line)
			}
			want := alone[0]
			if !strings.Contains(tok.text, "=") {
				want.Index = next
			}
			if entries[e] != want {
				t.Errorf("token %q on line %d: entry %+v, want %+v", tok.text, tok.line, entries[e], want)
			}
			next = entries[e].Index + 1
			e++
		}
		var b strings.Builder
		for _, en := range entries {
			fmt.Fprintf(&b, "%#x=%#x\n", en.Index, en.Raw)
		}
		back, backErrs := inspect.ParseEntries(b.String())
		if len(backErrs) != 0 || !slices.Equal(back, entries) {
			t.Errorf("entries %v printed as %q parse to %v, %v", entries, b.String(), back, backErrs)
		}
	})
}

// entryToken is one token of ParseEntries's input and the line it is on.
type entryToken struct {
	text string
	line int
}

// entryTokens splits s into ParseEntries's tokens without using its code:
// one pass over the bytes (the separators are all ASCII, so no multi-byte
// or invalid UTF-8 sequence can hide one).
func entryTokens(s string) []entryToken {
	var out []entryToken
	line, start, comment := 1, -1, false
	end := func(i int) {
		if start >= 0 {
			out = append(out, entryToken{s[start:i], line})
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			end(i)
			line++
			comment = false
		case comment:
		case c == '#':
			end(i)
			comment = true
		case c == ' ' || c == '\t' || c == ',' || c == '\r':
			end(i)
		case start < 0:
			start = i
		}
	}
	end(len(s))
	return out
}
