package model_test

import (
	"errors"
	"testing"

	"github.com/gicits/gicits/model"
)

// Every ITS of a layout gets its own frames and tables, 64 KiB aligned, in
// RAM, overlapping nothing of another ITS, and the ITT allocator no
// longer hands out the ITT area's top, where the tables are.
func TestLayoutForITS(t *testing.T) {
	l := model.DefaultLayout()
	l.ITSes = 4
	if err := l.Validate(2); err != nil {
		t.Fatal(err)
	}
	type span struct{ a, n uint64 }
	var taken []span
	take := func(what string, a model.GPA, n uint64) {
		for _, s := range taken {
			if uint64(a) < s.a+s.n && s.a < uint64(a)+n {
				t.Errorf("%s [%v, +%#x) overlaps another ITS's", what, a, n)
			}
		}
		taken = append(taken, span{uint64(a), n})
	}
	for i := range 4 {
		v, err := l.ForITS(i)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && v != l {
			t.Errorf("ForITS(0) = %+v, want the layout", v)
		}
		take("frames", v.ITSBase, model.ITSFrameSize)
		take("queue", v.CommandQueue, 64<<10)
		take("device table", v.DeviceTable, 512<<10)
		take("collection table", v.CollectionTable, 64<<10)
		if i > 0 && (v.ITSBase != l.ExtraITSBase+model.GPA(uint64(i-1)*model.ITSFrameSize) || uint64(v.CommandQueue)%(64<<10) != 0 || v.CommandQueue < l.ITTs) {
			t.Errorf("ITS %d: frames %v, queue %v", i, v.ITSBase, v.CommandQueue)
		}
		if _, err := v.CBASER(); err != nil {
			t.Errorf("ITS %d: %v", i, err)
		}
	}
	a := l.ITTAllocator()
	last, err := a.Alloc(1, 1)
	for err == nil {
		var p model.GPA
		if p, err = a.Alloc(64<<10, 64<<10); err == nil {
			last = p
		}
	}
	third, _ := l.ForITS(3)
	if last >= third.CommandQueue {
		t.Errorf("the ITT allocator handed out %v, inside the tables of ITS 3 (from %v)", last, third.CommandQueue)
	}
	if _, err := l.ForITS(4); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("ForITS(4) of 4: %v", err)
	}
}

func TestLayoutITSesRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*model.Layout)
	}{
		{"17 ITSes", func(l *model.Layout) { l.ITSes = 17 }},
		{"negative", func(l *model.Layout) { l.ITSes = -1 }},
		{"frames over GICR", func(l *model.Layout) { l.ITSes = 2; l.ExtraITSBase = l.GICRBase + 0x20000 }},
		{"frames over ITS 0", func(l *model.Layout) { l.ITSes = 2; l.ExtraITSBase = l.ITSBase }},
		{"frames misaligned", func(l *model.Layout) { l.ITSes = 2; l.ExtraITSBase += 0x1000 }},
		{"tables beyond the ITT area", func(l *model.Layout) { l.ITSes = 16; l.ITTsSize = 8 << 20 }},
	} {
		l := model.DefaultLayout()
		tc.edit(&l)
		if err := l.Validate(2); !errors.Is(err, model.ErrInvalidArgument) {
			t.Errorf("%s: Validate = %v, want ErrInvalidArgument", tc.name, err)
		}
	}
}
