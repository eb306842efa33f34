package inspect_test

import (
	"testing"

	"github.com/gicits/gicits/inspect"
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

// ParseEntries never panics; every token becomes an entry or an error.
func FuzzParseEntries(f *testing.F) {
	f.Add("0x10=0x800000000800E004 0x1 # note\nxyz, 7=0x_ff")
	f.Fuzz(func(t *testing.T, s string) {
		inspect.ParseEntries(s)
	})
}
