package its

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// noRedistributors satisfies Redistributors for tests that never reach
// an LPI: calling any of its methods panics.
type noRedistributors struct{ Redistributors }

// newWithITTEntrySize returns an ITS over mem whose GITS_TYPER is KVM's
// but with ITT entries of size bytes.
func newWithITTEntrySize(t *testing.T, mem model.Memory, size int) (*ITS, error) {
	t.Helper()
	typer, err := model.MakeITSTyper(size, 16, 16, 16)
	if err != nil {
		t.Fatalf("MakeITSTyper(%d, ...): %v", size, err)
	}
	return New(mem, noRedistributors{}, Config{Typer: typer})
}

// TestITEAddr pins where an event's ITE is: ITT_addr + EventID × the ITT
// entry size of GITS_TYPER (KVM's 8 bytes, QEMU's 12, the largest 16).
func TestITEAddr(t *testing.T) {
	const itt = model.GPA(0x40800000)
	ram, err := model.NewRAM(0x40000000, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		size int
		ev   model.EventID
		want model.GPA
	}{
		{8, 0, 0x40800000},
		{8, 1, 0x40800008},
		{8, 3, 0x40800018},
		{8, 31, 0x408000F8},
		{8, 0xFFFF, 0x40800000 + 0xFFFF*8},
		{12, 0, 0x40800000},
		{12, 1, 0x4080000C},
		{12, 3, 0x40800024},
		{12, 31, 0x40800174},
		{12, 0xFFFF, 0x40800000 + 0xFFFF*12},
		{16, 3, 0x40800030},
	} {
		t.Run(fmt.Sprintf("size=%d/ev=%d", c.size, c.ev), func(t *testing.T) {
			s, err := newWithITTEntrySize(t, ram, c.size)
			if err != nil {
				t.Fatalf("New with %d-byte ITT entries: %v", c.size, err)
			}
			if got := s.Typer().ITTEntrySize(); got != c.size {
				t.Errorf("GITS_TYPER.ITT_entry_size+1 = %d, want %d", got, c.size)
			}
			if got := s.iteAddr(itt, c.ev); got != c.want {
				t.Errorf("ITE of EventID %d with %d-byte entries at %v, want %v", c.ev, c.size, got, c.want)
			}
		})
	}
}

// TestWriteITEWholeEntry checks that an ITE written into an entry larger
// than 8 bytes fills the rest of the entry with zeros and leaves its
// neighbours alone, and reads back.
func TestWriteITEWholeEntry(t *testing.T) {
	for _, size := range []int{8, 12, 16} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			ram, err := model.NewRAM(0x40000000, 16<<20)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newWithITTEntrySize(t, ram, size)
			if err != nil {
				t.Fatal(err)
			}
			const itt = model.GPA(0x40800000)
			junk := bytes.Repeat([]byte{0xEE}, 3*size)
			if err := ram.WriteAt(junk, itt); err != nil {
				t.Fatal(err)
			}
			ite := model.ITE{Next: 1, INTID: 8193, ICID: 2}.Encode()
			if err := s.writeITE(itt, 1, ite); err != nil {
				t.Fatal(err)
			}
			got := make([]byte, 3*size)
			if err := ram.ReadAt(got, itt); err != nil {
				t.Fatal(err)
			}
			want := bytes.Repeat([]byte{0xEE}, 3*size)
			copy(want[size:2*size], make([]byte, size))
			for i := range 8 {
				want[size+i] = byte(ite >> (8 * i))
			}
			if !bytes.Equal(got, want) {
				t.Errorf("entries 0..2 after writing ITE %#x into entry 1:\n got % x\nwant % x", ite, got, want)
			}
			if v, err := s.readITE(itt, 1); err != nil || v != ite {
				t.Errorf("readITE(1) = %#x, %v; want %#x", v, err, ite)
			}
			// Over RAM, commands write ITEs in place.
			if n := testing.AllocsPerRun(10, func() { _ = s.writeITE(itt, 2, ite) }); n != 0 {
				t.Errorf("writeITE allocates %v times, want 0", n)
			}
		})
	}
}

// TestNewRefusesSmallITTEntries: a GITS_TYPER whose ITT entries cannot
// hold the 8-byte ABI revision 0 ITE is refused, naming the size and the
// range; 8..16 bytes are accepted. (No GITS_TYPER says more than 16:
// ITT_entry_size is 4 bits, and model.MakeITSTyper refuses 17.)
func TestNewRefusesSmallITTEntries(t *testing.T) {
	ram, err := model.NewRAM(0x40000000, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	for size := 1; size <= 16; size++ {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			s, err := newWithITTEntrySize(t, ram, size)
			if size >= MinITTEntrySize && size <= MaxITTEntrySize {
				if err != nil || s == nil {
					t.Fatalf("New with %d-byte ITT entries: %v", size, err)
				}
				return
			}
			if s != nil || !errors.Is(err, model.ErrNotSupported) {
				t.Fatalf("New with %d-byte ITT entries = %p, %v; want an error wrapping ErrNotSupported", size, s, err)
			}
			for _, want := range []string{fmt.Sprintf("ITT entry size %d bytes", size), "8..16"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestNewVirtualNeeds: a GICv4.0 ITS needs ITT entries that hold the
// virtual ITE, and redistributors with virtual LPIs; either missing is
// refused with ErrNotSupported, saying which.
func TestNewVirtualNeeds(t *testing.T) {
	ram, err := model.NewRAM(0x40000000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(ram, noRedistributors{}, Config{Typer: model.KVMITSTyper | 1<<1})
	if !errors.Is(err, model.ErrNotSupported) || !strings.Contains(err.Error(), "a virtual ITE needs 12") {
		t.Errorf("New with GITS_TYPER.Virtual and 8-byte ITT entries: %v", err)
	}
	_, err = New(ram, noRedistributors{}, Config{Typer: model.GICv4ITSTyper})
	if !errors.Is(err, model.ErrNotSupported) || !strings.Contains(err.Error(), "no virtual LPIs") {
		t.Errorf("New with GITS_TYPER.Virtual over GICv3 redistributors: %v", err)
	}
}
