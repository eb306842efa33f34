package replay

import (
	"testing"

	"github.com/gicits/gicits/model"
)

func TestGuestFollowsTheTrace(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	g := NewGuest(tr)
	for _, r := range tr.Records {
		if r.Line == 78 {
			if lpi, cpu, err := g.Translate(8, 1); lpi != 8193 || cpu != 1 || err != nil {
				t.Errorf("before the MOVI, dev 8 ev 1 translates to LPI %d on CPU %d (%v); want 8193 on CPU 1", lpi, cpu, err)
			}
			if d := g.Devices[8]; d == nil || d.ITT != 0x40123400 || d.EventIDBits != 2 || d.Line != 46 || len(d.Events) != 3 {
				t.Errorf("device 8: %+v", d)
			}
		}
		g.Apply(r)
	}
	if !g.ITS.Enabled() || g.ITS.Lines[model.GITS_CTLR] != 14 || model.ITSTyper(g.ITS.TYPER).ITTEntrySize() != 12 {
		t.Errorf("ITS registers %+v", g.ITS)
	}
	if model.CBASER(g.ITS.CBASER).Addr() != 0x400b0000 || model.Baser(g.ITS.BASER[1]).Type() != model.BaserCollections {
		t.Errorf("CBASER %#x, BASER1 %#x", g.ITS.CBASER, g.ITS.BASER[1])
	}
	for cpu, rd := range g.Redistributors {
		if !rd.LPIsEnabled() || model.PropBaser(rd.PROPBASER).Addr() != 0x400c0000 {
			t.Errorf("CPU %d: %+v", cpu, rd)
		}
	}
	if len(g.Devices) != 0 {
		t.Errorf("devices after MAPD V=0: %v", g.Devices)
	}
	if got := g.MappedCollections(); len(got) != 2 || g.Collections[1].CPU != 1 || g.Collections[1].Line != 36 {
		t.Errorf("collections %v", g.Collections)
	}
	if _, _, err := g.Translate(8, 0); err == nil || err.Error() != "device 0x8 is not mapped" {
		t.Errorf("Translate after MAPD V=0: %v", err)
	}
}

func TestGuestNumbersCPUsAsQEMUsVirtMachine(t *testing.T) {
	g := &Guest{}
	for _, tc := range []struct {
		aff uint32
		cpu model.CPU
		ok  bool
	}{
		{0x0, 0, true}, {0x7, 7, true}, {0xF, 15, true}, {0x100, 16, true}, {0x10203, 0x1023, true},
		{0x10, 0, false}, {0x1000000, 0, false},
	} {
		cpu, ok := g.CPUOf(tc.aff)
		if ok != tc.ok || ok && cpu != tc.cpu {
			t.Errorf("CPUOf(%#x) = %d, %v; want %d, %v", tc.aff, cpu, ok, tc.cpu, tc.ok)
		}
	}
	// A GICR_TYPER read says it exactly.
	tr := &Trace{Records: []Record{{Line: 1, Event: RedistRead{Affinity: 0x10, Offset: 8, Data: 0x10_0000_0511, Size: 8}}}}
	if cpu, ok := NewGuest(tr).CPUOf(0x10); !ok || cpu != 5 {
		t.Errorf("with GICR_TYPER: CPUOf(0x10) = %d, %v; want 5", cpu, ok)
	}
	if n, from := CPUs(tr); n != 6 || from != "the highest processor number its redistributor events name is 5" {
		t.Errorf("CPUs = %d (%s)", n, from)
	}
}

func TestGuestAssemblesRegisterHalves(t *testing.T) {
	g := NewGuest(&Trace{})
	g.Apply(Record{Line: 1, Event: ITSWrite{Offset: 0x84, Data: 0xb8000000, Size: 4}})
	g.Apply(Record{Line: 2, Event: ITSWrite{Offset: 0x80, Data: 0x400b040f, Size: 4}})
	if g.ITS.CBASER != 0xb8000000400b040f || g.ITS.Lines[model.GITS_CBASER] != 2 {
		t.Errorf("CBASER %#x written at line %d", g.ITS.CBASER, g.ITS.Lines[model.GITS_CBASER])
	}
}
