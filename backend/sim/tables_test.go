package sim_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/gicits/gicits/its"
	"github.com/gicits/gicits/model"
	"github.com/google/go-cmp/cmp"
)

// kvmGolden programs the scenario whose saved tables were read back from
// real KVM (kvm-vgic-its.md, section 7).
func kvmGolden(e *env) {
	e.config(0xA0, true, 8193, 8194)
	e.must(
		model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true},
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 0x10, EventID: 0, INTID: 8192, ICID: 0},
		model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1},
		model.MAPTI{DeviceID: 0x10, EventID: 2, INTID: 8194, ICID: 0},
		model.DISCARD{DeviceID: 0x10, EventID: 0},
	)
}

func TestSaveTablesKVMGolden(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	kvmGolden(e)
	if err := e.b.SaveTables(); err != nil {
		t.Fatal(err)
	}
	l := e.b.Layout()
	for _, c := range []struct {
		what string
		addr model.GPA
		want uint64
	}{
		{"DTE[0x10]", l.DeviceTable + 0x10*8, 0x800000000800E004},
		{"ITE[0]", 0x40070000, 0},
		{"ITE[1]", 0x40070008, 0x0001000020010001},
		{"ITE[2]", 0x40070010, 0x0000000020020000},
		{"CTE[0]", l.CollectionTable, 0x8000000000000000},
		{"CTE[1]", l.CollectionTable + 8, 0x8000000000010001},
		{"CTE[2]", l.CollectionTable + 16, 0},
	} {
		if got := e.read64(c.addr); got != c.want {
			t.Errorf("%s = %#016x, want %#016x (KVM)", c.what, got, c.want)
		}
	}
}

func TestSavePendingTablesExact(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	e.enable(0, 1)
	kvmGolden(e)
	l := e.b.Layout()
	// A stale bit the save must clear, as a zeroed-then-saved KVM table.
	stale := l.PendTable(0) + model.GPA(9000/8)
	if err := e.b.Memory().WriteAt([]byte{1 << (9000 % 8)}, stale); err != nil {
		t.Fatal(err)
	}
	e.msi(0x10, 1) // 8193 on CPU 1
	e.msi(0x10, 2) // 8194 on CPU 0
	if err := e.b.SaveTables(); err != nil {
		t.Fatal(err)
	}
	mem := e.ramBytes()
	for cpu, want := range map[model.CPU][]model.INTID{0: {8194}, 1: {8193}} {
		table := mem[l.PendTable(cpu)-l.RAMBase:][:l.PendTableSize()]
		var got []model.INTID
		for i := 1024 * 8; i < len(table)*8; i++ {
			if table[i/8]&(1<<(i%8)) != 0 {
				got = append(got, model.INTID(i))
			}
		}
		if !cmp.Equal(got, want) {
			t.Errorf("CPU %d pending table bits %v, want %v", cpu, got, want)
		}
	}
}

// saveScenarios build states worth saving and restoring.
var saveScenarios = []struct {
	name  string
	cfg   func(*model.Config)
	build func(e *env)
}{
	{"kvm golden", nil, kvmGolden},
	{"large next deltas", func(c *model.Config) {
		// 17 EventID bits, so EventIDs can be more than 2^16 apart.
		c.ITSTyper, _ = model.MakeITSTyper(8, 17, 16, 16)
	}, func(e *env) {
		// DeviceIDs 2^14 apart and EventIDs 2^16 apart overflow next.
		e.must(model.MAPC{ICID: 5, RDbase: 1, Valid: true})
		for _, dev := range []model.DeviceID{1, 1 + model.MaxDTENext + 7, 40000} {
			itt := e.itt(17)
			e.must(model.MAPD{DeviceID: dev, Size: 16, ITTAddr: itt, Valid: true})
			for i, ev := range []model.EventID{0, 3, 3 + model.MaxITENext + 2} {
				e.must(model.MAPTI{DeviceID: dev, EventID: ev, INTID: 8192 + model.INTID(dev%1000)*4 + model.INTID(i), ICID: 5})
			}
		}
	}},
	{"unmapped and orphaned collections", nil, func(e *env) {
		itt := e.itt(4)
		e.must(
			model.MAPD{DeviceID: 7, Size: 3, ITTAddr: itt, Valid: true},
			model.MAPC{ICID: 2, RDbase: 0, Valid: true},
			model.MAPTI{DeviceID: 7, EventID: 1, INTID: 9000, ICID: 9}, // implicit ICID 9
			model.MAPTI{DeviceID: 7, EventID: 2, INTID: 9001, ICID: 2},
			model.MAPC{ICID: 2, RDbase: 0, Valid: false},               // orphans event 2
			model.MAPTI{DeviceID: 7, EventID: 3, INTID: 9000, ICID: 9}, // shares 9000
		)
	}},
	{"two-level 4K device table", func(c *model.Config) {
		c.Layout = smallLayout()
		c.Layout.DeviceTableIndirect = true
		c.Layout.DeviceTablePageSize = model.PageSize4K
		c.Layout.DeviceTablePages = 1
	}, func(e *env) {
		l := e.b.Layout()
		for _, l1 := range []uint64{0, 3, 100} {
			page, err := e.alloc.Alloc(4096, 4096)
			if err != nil {
				e.t.Fatal(err)
			}
			v, _ := model.L1Entry{Valid: true, Addr: page}.Encode()
			if err := model.WriteUint64(e.b.Memory(), l.DeviceTable+model.GPA(l1*8), v); err != nil {
				e.t.Fatal(err)
			}
		}
		e.must(model.MAPC{ICID: 0, RDbase: 1, Valid: true})
		for i, dev := range []model.DeviceID{5, 3*512 + 1, 3*512 + 511, 100 * 512} {
			e.must(model.MAPD{DeviceID: dev, Size: 2, ITTAddr: e.itt(3), Valid: true},
				model.MAPTI{DeviceID: dev, EventID: 2, INTID: 8300 + model.INTID(i), ICID: 0})
		}
	}},
}

func TestSaveRestoreSaveIdentical(t *testing.T) {
	for _, sc := range saveScenarios {
		t.Run(sc.name, func(t *testing.T) {
			cfg := model.Config{CPUs: 2}
			if sc.cfg != nil {
				sc.cfg(&cfg)
			}
			e := open(t, cfg)
			sc.build(e)
			before := e.b.ITS().State()
			if err := e.b.SaveTables(); err != nil {
				t.Fatal(err)
			}
			first := e.ramBytes()
			if err := e.b.RestoreTables(); err != nil {
				t.Fatalf("RestoreTables: %v", err)
			}
			// An orphaned event is saved as a zero ITE, and the restore
			// drops it: the state loses it, and the next save's ITE
			// before it leads past it (the first, as KVM's, led to its
			// zero ITE).
			orphans := sc.name == "unmapped and orphaned collections"
			want := before
			if orphans {
				want = withoutOrphans(before)
			}
			if diff := cmp.Diff(want, e.b.ITS().State()); diff != "" {
				t.Errorf("state after restore (-want +restored):\n%s", diff)
			}
			if err := e.b.SaveTables(); err != nil {
				t.Fatal(err)
			}
			if second := e.ramBytes(); !bytes.Equal(first, second) && !orphans {
				t.Errorf("save → restore → save is not byte-identical")
			}
			// And into a fresh simulator, as a migration does.
			f := open(t, cfg)
			if err := f.b.Memory().WriteAt(first, f.b.Layout().RAMBase); err != nil {
				t.Fatal(err)
			}
			if err := f.b.RestoreTables(); err != nil {
				t.Fatalf("RestoreTables on a fresh simulator: %v", err)
			}
			if diff := cmp.Diff(e.b.ITS().State(), f.b.ITS().State()); diff != "" {
				t.Errorf("migrated state (-source +destination):\n%s", diff)
			}
		})
	}
}

// Restore recreates LPIs: configuration read, pending bit consumed.
func TestRestoreRecreatesLPIs(t *testing.T) {
	e := open(t, model.Config{CPUs: 2})
	e.enable(0, 1)
	kvmGolden(e)
	e.msi(0x10, 1)
	if err := e.b.SaveTables(); err != nil {
		t.Fatal(err)
	}
	f := open(t, model.Config{CPUs: 2})
	if err := f.b.Memory().WriteAt(e.ramBytes(), f.b.Layout().RAMBase); err != nil {
		t.Fatal(err)
	}
	if err := f.b.RestoreTables(); err != nil {
		t.Fatal(err)
	}
	f.enable(0, 1)
	f.takesOnce(1, 8193)
	// The bit was consumed: saving again with nothing pending clears it,
	// and a second restore does not bring the LPI back pending.
	l := f.b.Layout()
	var b [1]byte
	_ = f.b.Memory().ReadAt(b[:], l.PendTable(1)+8193/8)
	if b[0]&(1<<(8193%8)) != 0 {
		t.Error("restore did not consume the pending-table bit of LPI 8193")
	}
	if d := f.msi(0x10, 2); d != model.Delivered {
		t.Errorf("restored event 2: %v, want delivered", d)
	}
	f.takesOnce(0, 8194)
}

func TestRestoreFailureLeavesStateUnchanged(t *testing.T) {
	l := model.DefaultLayout()
	const itt = 0x40070000
	cases := []struct {
		name    string
		corrupt func(e *env)
		table   string
		field   string
	}{
		{"pINTID below 8192", func(e *env) {
			_ = model.WriteUint64(e.b.Memory(), itt+8, model.ITE{INTID: 100, ICID: 1, Next: 1}.Encode())
		}, "ITT of device 0x10", "pINTID"},
		{"ICID without a restored collection", func(e *env) {
			_ = model.WriteUint64(e.b.Memory(), itt+16, model.ITE{INTID: 8194, ICID: 77}.Encode())
		}, "ITT of device 0x10", "ICID"},
		{"Size+1 beyond EventID bits", func(e *env) {
			v, _ := model.DTE{Valid: true, ITTAddr: itt, Size: 16}.Encode()
			_ = model.WriteUint64(e.b.Memory(), l.DeviceTable+0x10*8, v)
		}, "device table", "Size"},
		{"ITT outside guest memory", func(e *env) {
			v, _ := model.DTE{Valid: true, ITTAddr: 0x1000, Size: 4}.Encode()
			_ = model.WriteUint64(e.b.Memory(), l.DeviceTable+0x10*8, v)
		}, "ITT of device 0x10", ""},
		{"CTE RDbase not a CPU", func(e *env) {
			v, _ := model.CTE{Valid: true, RDbase: 9, ICID: 1}.Encode()
			_ = model.WriteUint64(e.b.Memory(), l.CollectionTable+8, v)
		}, "collection table", "RDbase"},
		{"CTE twice", func(e *env) {
			v, _ := model.CTE{Valid: true, RDbase: 0, ICID: 0}.Encode()
			_ = model.WriteUint64(e.b.Memory(), l.CollectionTable+8, v)
		}, "collection table", "ICID"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := open(t, model.Config{CPUs: 2})
			e.enable(0, 1)
			kvmGolden(e)
			if err := e.b.SaveTables(); err != nil {
				t.Fatal(err)
			}
			// Change the live state after the save, so a restore that
			// half-worked would show.
			e.config(0x80, true, 8300)
			e.must(model.MAPD{DeviceID: 0x22, Size: 1, ITTAddr: e.itt(2), Valid: true},
				model.MAPTI{DeviceID: 0x22, EventID: 0, INTID: 8300, ICID: 1})
			before := e.b.ITS().State()
			c.corrupt(e)
			err := e.b.RestoreTables()
			var te *its.TableError
			if !errors.As(err, &te) {
				t.Fatalf("RestoreTables = %v, want a *its.TableError", err)
			}
			if te.Table != c.table || te.Field != c.field {
				t.Errorf("error names table %q field %q, want %q %q (%v)", te.Table, te.Field, c.table, c.field, err)
			}
			if diff := cmp.Diff(before, e.b.ITS().State()); diff != "" {
				t.Errorf("failed restore changed the ITS (-before +after):\n%s", diff)
			}
			if d := e.msi(0x22, 0); d != model.Delivered {
				t.Errorf("MSI after the failed restore: %v, want delivered", d)
			}
			e.takesOnce(1, 8300)
		})
	}
}

func ExampleBackend_SaveTables() {
	b, _ := model.Open("sim", model.Config{CPUs: 2})
	defer b.Close()
	l := b.Layout()
	_ = model.SubmitCommands(b,
		model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40070000, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1},
	)
	_ = b.SaveTables()
	dte, _ := model.ReadUint64(b.Memory(), l.DeviceTable+0x10*8)
	ite, _ := model.ReadUint64(b.Memory(), 0x40070008)
	cte, _ := model.ReadUint64(b.Memory(), l.CollectionTable)
	fmt.Printf("%v\n%v\n%v\n", model.DecodeDTE(dte), model.DecodeITE(ite), model.DecodeCTE(cte))
	// Output:
	// DTE valid itt=0x40070000 bits=5 next=0
	// ITE lpi=8193 icid=1 next=0
	// CTE icid=1 rdbase=1
}

// withoutOrphans is s with its orphaned events left out: what a restore of
// s's save holds.
func withoutOrphans(s its.State) its.State {
	out := s
	out.Devices = nil
	for _, d := range s.Devices {
		evs := d.Events
		d.Events = nil
		for _, ev := range evs {
			if !ev.Orphaned {
				d.Events = append(d.Events, ev)
			}
		}
		out.Devices = append(out.Devices, d)
	}
	return out
}

// TestSaveLeavesNothingStale: devices the ITS discarded leave nothing a
// restore could bring back, in a two-level device table (their DTEs in an
// L2 page) and in their ITTs (reused by a later device): the save zeroes
// every DTE slot without a device, and discarding a device zeroes its
// ITEs.
func TestSaveLeavesNothingStale(t *testing.T) {
	e := open(t, model.Config{CPUs: 1, Layout: func() model.Layout {
		l := smallLayout()
		l.DeviceTableIndirect, l.DeviceTablePageSize, l.DeviceTablePages = true, model.PageSize4K, 1
		return l
	}()})
	l := e.b.Layout()
	page, err := e.alloc.Alloc(4096, 4096)
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := model.L1Entry{Valid: true, Addr: page}.Encode()
	must(t, model.WriteUint64(e.b.Memory(), l.DeviceTable, l1))
	e.enable(0)
	e.config(0xA0, true, 8192)
	itt := e.itt(3)
	e.must(model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPD{DeviceID: 5, Size: 2, ITTAddr: itt, Valid: true},
		model.MAPTI{DeviceID: 5, EventID: 3, INTID: 8192, ICID: 0})
	b0 := e.itsReg(model.GITS_BASER(0))
	must(t, e.b.WriteITSRegister(model.GITS_CTLR, 0))
	must(t, e.b.WriteITSRegister(model.GITS_BASER(0), b0&^(1<<63)))
	must(t, e.b.WriteITSRegister(model.GITS_BASER(0), b0))
	must(t, e.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled))
	e.must(model.MAPD{DeviceID: 6, Size: 2, ITTAddr: itt, Valid: true}) // the same ITT, no event
	must(t, e.b.SaveTables())
	for _, c := range []struct {
		what string
		addr model.GPA
	}{
		{"device 5's DTE in the L2 page", page + 5*8},
		{"device 5's ITE 3 in the ITT device 6 now has", itt + 3*8},
	} {
		if v, err := model.ReadUint64(e.b.Memory(), c.addr); err != nil || v != 0 {
			t.Errorf("%s at %v: %#x (%v), want 0", c.what, c.addr, v, err)
		}
	}
	must(t, e.b.RestoreTables())
	if s := e.b.ITS().State(); len(s.Devices) != 1 || s.Devices[0].DeviceID != 6 || len(s.Devices[0].Events) != 0 {
		t.Errorf("restored %+v, want device 6 alone, with no event", s.Devices)
	}
}

// TestITTEntrySize: with GITS_TYPER's ITT entries of 8, 12 (QEMU's) or 16
// bytes, EventID n's ITE is at ITT + size×n, live and saved, the rest of
// each entry zero; the MSI walk reads it there (guest software zeroing it
// there blocks the uncached walk), and a restore into a fresh simulator
// reads it back.
func TestITTEntrySize(t *testing.T) {
	for _, size := range []int{8, 12, 16} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			modes(t, func(t *testing.T, cfg model.Config) {
				typer, err := model.MakeITSTyper(size, 16, 16, 16)
				if err != nil {
					t.Fatal(err)
				}
				cfg.ITSTyper = typer
				e := open(t, cfg)
				if got := e.b.Capabilities().ITTEntrySize; got != size {
					t.Fatalf("Capabilities().ITTEntrySize = %d, want %d", got, size)
				}
				e.enable(0, 1)
				e.config(0xA0, true, 8192, 8193, 8194)
				itt, err := e.alloc.Alloc(model.ITTSize(2, size), 256)
				if err != nil {
					t.Fatal(err)
				}
				junk := bytes.Repeat([]byte{0xEE}, 4*size)
				if err := e.b.Memory().WriteAt(junk, itt); err != nil {
					t.Fatal(err)
				}
				events := map[model.EventID]model.INTID{0: 8192, 1: 8193, 3: 8194}
				e.must(model.MAPD{DeviceID: 0x10, Size: 1, ITTAddr: itt, Valid: true}, model.MAPC{ICID: 1, RDbase: 1, Valid: true})
				for ev := range model.EventID(4) {
					if intid, ok := events[ev]; ok {
						e.must(model.MAPTI{DeviceID: 0x10, EventID: ev, INTID: intid, ICID: 1})
					}
				}
				checkEntries := func(when string, next map[model.EventID]uint16) {
					t.Helper()
					for ev, intid := range events {
						addr := itt + model.GPA(size*int(ev))
						want := make([]byte, size)
						binary.LittleEndian.PutUint64(want, model.ITE{Next: next[ev], INTID: intid, ICID: 1}.Encode())
						got := make([]byte, size)
						if err := e.b.Memory().ReadAt(got, addr); err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, want) {
							t.Errorf("%s: entry of EventID %d at %v = % x, want % x", when, ev, addr, got, want)
						}
					}
				}
				checkEntries("live", nil)
				for ev, intid := range events {
					if d := e.msi(0x10, ev); d != model.Delivered {
						t.Errorf("MSI ev=%d: %v, want delivered", ev, d)
					}
					e.takesOnce(1, intid)
				}
				if err := e.b.SaveTables(); err != nil {
					t.Fatal(err)
				}
				checkEntries("saved", map[model.EventID]uint16{0: 1, 1: 2})

				f := open(t, cfg)
				if err := f.b.Memory().WriteAt(e.ramBytes(), f.b.Layout().RAMBase); err != nil {
					t.Fatal(err)
				}
				if err := f.b.RestoreTables(); err != nil {
					t.Fatalf("RestoreTables: %v", err)
				}
				if diff := cmp.Diff(e.b.ITS().State(), f.b.ITS().State()); diff != "" {
					t.Errorf("restored state (-saved +restored):\n%s", diff)
				}
				f.enable(0, 1)
				if d := f.msi(0x10, 3); d != model.Delivered {
					t.Errorf("restored MSI ev=3: %v, want delivered", d)
				}
				f.takesOnce(1, 8194)

				if cfg.NoTranslationCache {
					// The walk reads ITE 1 at ITT + size: zeroed there,
					// it no longer matches the ITS's record.
					if err := model.WriteUint64(f.b.Memory(), itt+model.GPA(size), 0); err != nil {
						t.Fatal(err)
					}
					if d := f.msi(0x10, 1); d != model.Blocked {
						t.Errorf("MSI ev=1 with its ITE at %v zeroed: %v, want blocked", itt+model.GPA(size), d)
					}
				}
			})
		})
	}
}
