package model_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

func TestDefaultLayoutIsValidAndMatchesKVMDoc(t *testing.T) {
	l := model.DefaultLayout()
	for _, cpus := range []int{1, 2, 32} {
		if err := l.Validate(cpus); err != nil {
			t.Errorf("DefaultLayout().Validate(%d): %v", cpus, err)
		}
	}
	if l.Doorbell() != 0x08090040 {
		t.Errorf("Doorbell = %v, want ITS base 0x08080000 + 0x10040", l.Doorbell())
	}
	if l.PropTableSize() != 65536-8192 || l.PendTableSize() != 8192 || l.PendTableStride() != 64<<10 {
		t.Errorf("prop %d, pend %d, stride %d", l.PropTableSize(), l.PendTableSize(), l.PendTableStride())
	}
	if l.PendTable(3) != l.PendTables+3*0x10000 {
		t.Errorf("PendTable(3) = %v", l.PendTable(3))
	}
	if l.MaxINTID() != 65535 {
		t.Errorf("MaxINTID = %d", l.MaxINTID())
	}
}

func TestLayoutValidateNamesTheRegionAtFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*model.Layout)
		cpus   int
		want   string
	}{
		{"too many CPUs", func(*model.Layout) {}, 33, "33 CPUs out of range 1..32"},
		{"zero CPUs", func(*model.Layout) {}, 0, "0 CPUs"},
		{"queue misaligned", func(l *model.Layout) { l.CommandQueue += 0x1000 }, 1, "command queue at 0x40001000 is not 65536-byte aligned"},
		{"queue outside RAM", func(l *model.Layout) { l.CommandQueue = 0x1000_0000 }, 1, "command queue [0x10000000, 0x10010000) is outside RAM"},
		{"tables overlap", func(l *model.Layout) { l.CollectionTable = l.DeviceTable }, 1, "collection table [0x40010000, +0x10000) overlaps device table"},
		{"ITT area past RAM", func(l *model.Layout) { l.ITTsSize += 1 << 20 }, 1, "ITT area"},
		{"too many INTID bits for RAM", func(l *model.Layout) { l.LPIIDBits = 24 }, 1, "overlaps"},
		{"INTID bits out of range", func(l *model.Layout) { l.LPIIDBits = 13 }, 1, "LPIIDBits 13 out of range 14..32"},
		{"bad page size", func(l *model.Layout) { l.DeviceTablePageSize = 8192 }, 1, "device table: GITS_BASER: page size 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := model.DefaultLayout()
			tc.change(&l)
			err := l.Validate(tc.cpus)
			if !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate = %v, want ErrInvalidArgument containing %q", err, tc.want)
			}
		})
	}
}

func TestAllocator(t *testing.T) {
	a := model.NewAllocator(0x1000, 0x1000)
	p, err := a.Alloc(0x10, 256)
	if err != nil || p != 0x1000 {
		t.Fatalf("first Alloc = %v, %v", p, err)
	}
	q, err := a.Alloc(0x100, 256)
	if err != nil || q != 0x1100 {
		t.Fatalf("second Alloc = %v, %v; want the next 256-byte boundary", q, err)
	}
	if _, err := a.Alloc(0x1000, 256); !errors.Is(err, model.ErrOutOfRange) {
		t.Errorf("Alloc past the region: error = %v, want ErrOutOfRange", err)
	}
	if r, err := a.Alloc(0xE00, 256); err != nil || r != 0x1200 {
		t.Errorf("a failed Alloc must not consume space: got %v, %v", r, err)
	}
	if model.ITTSize(5, 8) != 256 || model.ITTSize(1, 8) != 256 || model.ITTSize(10, 8) != 8192 {
		t.Errorf("ITTSize: %d %d %d", model.ITTSize(5, 8), model.ITTSize(1, 8), model.ITTSize(10, 8))
	}
}

func TestRAM(t *testing.T) {
	r, err := model.NewRAM(0x4000_0000, 0x1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := model.WriteUint64(r, 0x4000_0FF8, 0x1122334455667788); err != nil {
		t.Fatal(err)
	}
	if v, err := model.ReadUint64(r, 0x4000_0FF8); err != nil || v != 0x1122334455667788 {
		t.Errorf("ReadUint64 = %#x, %v", v, err)
	}
	var b [1]byte
	if err := r.ReadAt(b[:], 0x4000_0FFF); err != nil || b[0] != 0x11 {
		t.Errorf("little-endian: last byte = %#x, %v", b[0], err)
	}
	for _, addr := range []model.GPA{0x4000_0FF9, 0x3FFF_FFFF, 0x4000_1000, 0xFFFF_FFFF_FFFF_FFFC} {
		err := model.WriteUint64(r, addr, 1)
		var me *model.MemoryError
		if !errors.As(err, &me) || !errors.Is(err, model.ErrOutOfRange) || me.Addr != addr {
			t.Errorf("WriteUint64 at %v: error = %v, want *MemoryError at that address", addr, err)
		}
	}
	if v, _ := model.ReadUint64(r, 0x4000_0FF8); v != 0x1122334455667788 {
		t.Errorf("a failed write changed memory: %#x", v)
	}
	if err := model.Zero(r, 0x4000_0FF8, 8); err != nil {
		t.Fatal(err)
	}
	if v, _ := model.ReadUint64(r, 0x4000_0FF8); v != 0 {
		t.Errorf("after Zero: %#x", v)
	}
}
