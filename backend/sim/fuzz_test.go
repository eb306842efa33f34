package sim_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/gicits/gicits/its"
	"github.com/gicits/gicits/model"
	"github.com/google/go-cmp/cmp"
)

// fuzzLayout is a 5 MiB layout for two CPUs, so each fuzz input opens a
// simulator quickly.
func fuzzLayout() model.Layout {
	l := model.DefaultLayout()
	ram := l.RAMBase
	l.RAMSize = 5 << 20
	l.MaxCPUs = 2
	l.Scratch, l.ScratchSize = ram+0x30_0000, 64<<10
	l.ITTs, l.ITTsSize = ram+0x40_0000, 1<<20
	return l
}

// FuzzCommandQueue writes arbitrary bytes into the command queue (and
// arbitrary values into a few registers) and processes them. Invariants: no
// panic; GITS_CREADR stays inside the queue; every error from a CWRITER
// write is a *model.CommandError with a code or a cause.
func FuzzCommandQueue(f *testing.F) {
	p := func(c model.Command) []byte { pk, _ := c.Encode(); return pk[:] }
	var golden []byte
	for _, c := range []model.Command{
		model.MAPD{DeviceID: 1, Size: 3, ITTAddr: 0x40400000, Valid: true},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPTI{DeviceID: 1, EventID: 2, INTID: 8200, ICID: 1},
		model.INT{DeviceID: 1, EventID: 2},
		model.MOVI{DeviceID: 1, EventID: 2, ICID: 0},
		model.DISCARD{DeviceID: 1, EventID: 2},
		model.MOVALL{RDbase1: 1, RDbase2: 0},
	} {
		golden = append(golden, p(c)...)
	}
	f.Add(uint8(0), golden)
	f.Add(uint8(1), golden)
	f.Add(uint8(2), append(p(model.MAPD{DeviceID: 1 << 16}), 0x21))
	f.Fuzz(func(t *testing.T, ctl uint8, data []byte) {
		cfg := model.Config{CPUs: 2, Layout: fuzzLayout()}
		if ctl&1 != 0 {
			cfg.ErrorPolicy = model.StallOnError
		}
		cfg.NoTranslationCache = ctl&2 != 0
		e := open(t, cfg)
		e.enable(0, 1)
		q := e.b.Layout().CommandQueue
		size := uint64(e.b.Layout().CommandQueuePages) * 4096
		if uint64(len(data)) > size {
			data = data[:size]
		}
		must(t, e.b.Memory().WriteAt(data, q))
		// A few register writes steered by the input's tail.
		if ctl&4 != 0 && len(data) >= 16 {
			reg := model.ITSRegister(binary.LittleEndian.Uint32(data[len(data)-16:]) % 0x200 &^ 3)
			_ = e.b.WriteITSRegister(reg, binary.LittleEndian.Uint64(data[len(data)-8:]))
		}
		for round := range 2 {
			cw := uint64(len(data)) / 32 * 32 % size
			if round == 1 {
				cw |= model.GITS_CWRITER_Retry
			}
			err := e.b.WriteITSRegister(model.GITS_CWRITER, cw)
			for _, ce := range model.CommandErrors(err) {
				if ce.Code == 0 && ce.Cause == nil {
					t.Errorf("command error with neither code nor cause: %v", ce)
				}
			}
			if err != nil && len(model.CommandErrors(err)) == 0 {
				t.Errorf("CWRITER write: %v is not a command error", err)
			}
			cr := e.itsReg(model.GITS_CREADR)
			cb := model.CBASER(e.itsReg(model.GITS_CBASER))
			if cr&model.GITS_CQ_OffsetMask >= uint64(cb.SizeBytes()) {
				t.Errorf("CREADR %#x outside a %d-byte queue", cr, cb.SizeBytes())
			}
		}
		// Whatever state the commands left, these must not panic.
		for ev := range model.EventID(4) {
			_, _ = e.b.SignalMSI(e.msiOf(1, ev))
		}
		_ = e.b.SaveTables()
		_ = e.b.RestoreTables()
		for cpu := range model.CPU(2) {
			_, _ = e.b.Acknowledge(cpu)
		}
	})
}

// FuzzRestoreTables restores from arbitrary collection table, device table
// and ITT bytes (the live device 3000 sits outside the bytes written). Invariants: no panic; a failed restore is a
// *its.TableError and leaves the ITS's state as it was.
func FuzzRestoreTables(f *testing.F) {
	le := func(vs ...uint64) []byte {
		var b []byte
		for _, v := range vs {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return b
	}
	cte0, _ := model.CTE{Valid: true, RDbase: 0, ICID: 0}.Encode()
	cte1, _ := model.CTE{Valid: true, RDbase: 1, ICID: 1}.Encode()
	dte, _ := model.DTE{Valid: true, ITTAddr: 0x40400000, Size: 4}.Encode()
	ite := model.ITE{INTID: 8193, ICID: 1}.Encode()
	f.Add(le(cte0, cte1, 0), le(dte), le(0, ite))
	f.Add(le(cte0), le(dte|1<<49, dte), le(ite|3<<48, 0, 0, ite))
	f.Add(le(cte1|0xFFFF<<16), le(dte), le(model.ITE{INTID: 5, ICID: 1}.Encode()))
	f.Fuzz(func(t *testing.T, colls, devs, itt []byte) {
		e := open(t, model.Config{CPUs: 2, Layout: fuzzLayout()})
		e.enable(0, 1)
		e.config(0xA0, true, 8300)
		e.must(model.MAPD{DeviceID: 3000, Size: 1, ITTAddr: 0x40480000, Valid: true},
			model.MAPC{ICID: 0, RDbase: 1, Valid: true},
			model.MAPTI{DeviceID: 3000, EventID: 1, INTID: 8300, ICID: 0})
		before := e.b.ITS().State()
		l := e.b.Layout()
		clip := func(b []byte, n int) []byte { return b[:min(len(b), n)] }
		must(t, e.b.Memory().WriteAt(clip(colls, 4096), l.CollectionTable))
		must(t, e.b.Memory().WriteAt(clip(devs, 4096), l.DeviceTable))
		must(t, e.b.Memory().WriteAt(clip(itt, 4096), 0x40400000))
		err := e.b.RestoreTables()
		if err == nil {
			return
		}
		var te *its.TableError
		if !errors.As(err, &te) {
			t.Fatalf("restore failed with %v, not a *its.TableError", err)
		}
		if diff := cmp.Diff(before, e.b.ITS().State()); diff != "" {
			t.Fatalf("failed restore (%v) changed the ITS:\n%s", err, diff)
		}
		if d := e.msi(3000, 1); d != model.Delivered {
			t.Fatalf("after failed restore the old mapping is %v", d)
		}
	})
}
