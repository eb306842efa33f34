package docs_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// guest is a simulator with LPIs on and collection 0 on CPU 0, as a guest
// driver leaves it, for the guest-side rows of docs/bad-input.md.
type guest struct {
	t testing.TB
	b model.Backend
	l model.Layout
}

func openGuest(t testing.TB) *guest {
	t.Helper()
	l := model.DefaultLayout()
	l.RAMSize = 16 << 20
	l.ITTsSize = 8 << 20
	b, err := model.Open("sim", model.Config{CPUs: 2, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := model.EnableLPIs(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := model.SetLPIConfig(b, model.LPIBase, model.MakeLPIConfig(0xa0, true)); err != nil {
		t.Fatal(err)
	}
	if err := model.SubmitCommands(b, model.MAPC{ICID: 0, RDbase: 0, Valid: true}); err != nil {
		t.Fatal(err)
	}
	return &guest{t: t, b: b, l: b.Layout()}
}

// mapEvent maps (dev, 0) to LPI 8192 on collection 0 with an ITT at itt.
func (g *guest) mapEvent(dev model.DeviceID, itt model.GPA) error {
	return model.SubmitCommands(g.b, model.MAPD{DeviceID: dev, Size: 4, ITTAddr: itt, Valid: true}, model.MAPTI{DeviceID: dev, EventID: 0, INTID: model.LPIBase, ICID: 0})
}

func (g *guest) msi(dev model.DeviceID, ev model.EventID) string {
	d, err := g.b.SignalMSI(model.MSI{Doorbell: g.l.Doorbell(), Data: uint32(ev), DeviceID: dev, DeviceIDValid: true})
	return outcome(d, err)
}

// raw queues packets written straight into the command queue and moves
// GITS_CWRITER past them, as a guest does.
func (g *guest) raw(packets ...model.Packet) error {
	w, err := g.b.ReadITSRegister(model.GITS_CWRITER)
	if err != nil {
		return err
	}
	for _, p := range packets {
		if err := g.b.Memory().WriteAt(p[:], g.l.CommandQueue+model.GPA(w)); err != nil {
			return err
		}
		w += model.CommandSize
	}
	return g.b.WriteITSRegister(model.GITS_CWRITER, w)
}

func (g *guest) reg(r model.ITSRegister) uint64 {
	v, err := g.b.ReadITSRegister(r)
	if err != nil {
		g.t.Fatal(err)
	}
	return v
}

func outcome(d model.Delivery, err error) string {
	if err != nil {
		return "error: " + err.Error()
	}
	return d.String()
}

func errText(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// badGuestInput is the guest-side part of docs/bad-input.md: each case's
// name is its row ID, and what it returns must be the row's text exactly.
var badGuestInput = []struct {
	id  string
	run func(g *guest) string
}{
	// Malformed or unknown commands.
	{id: "G1", run: func(g *guest) string { // unknown opcode
		var p model.Packet
		p[0] = 0x42
		return errText(g.raw(p)) + fmt.Sprintf("; CREADR %#x", g.reg(model.GITS_CREADR))
	}},
	{id: "G2", run: func(g *guest) string { // a GICv4 command (VMAPP)
		var p model.Packet
		p[0] = 0x29
		return errText(g.raw(p))
	}},
	{id: "G3", run: func(g *guest) string { // all-zero packet
		return errText(g.raw(model.Packet{}))
	}},
	{id: "G4", run: func(g *guest) string { // RES0 bits set in a MAPC
		p, _ := model.MAPC{ICID: 1, RDbase: 0, Valid: true}.Encode()
		p[4] = 0xff // DW0[39:32]: DeviceID, RES0 for MAPC
		p[27] = 0xff
		err := g.raw(p)
		return errText(err) + "; then " + errText(model.SubmitCommands(g.b, model.INVALL{ICID: 1}))
	}},
	// IDs out of range.
	{id: "G5", run: func(g *guest) string { // MAPD DeviceID beyond GITS_TYPER.Devbits
		return errText(model.SubmitCommands(g.b, model.MAPD{DeviceID: 1 << 16, Size: 4, ITTAddr: g.l.ITTs, Valid: true}))
	}},
	{id: "G6", run: func(g *guest) string { // MAPD Size beyond GITS_TYPER.ID_bits
		return errText(model.SubmitCommands(g.b, model.MAPD{DeviceID: 1, Size: 16, ITTAddr: g.l.ITTs, Valid: true}))
	}},
	{id: "G7", run: func(g *guest) string { // MAPTI EventID beyond the device's ITT
		return errText(model.SubmitCommands(g.b, model.MAPD{DeviceID: 1, Size: 1, ITTAddr: g.l.ITTs, Valid: true}, model.MAPTI{DeviceID: 1, EventID: 4, INTID: model.LPIBase, ICID: 0}))
	}},
	{id: "G8", run: func(g *guest) string { // MAPTI pINTID not an LPI
		return errText(model.SubmitCommands(g.b, model.MAPD{DeviceID: 1, Size: 4, ITTAddr: g.l.ITTs, Valid: true}, model.MAPTI{DeviceID: 1, EventID: 0, INTID: 100, ICID: 0}))
	}},
	{id: "G9", run: func(g *guest) string { // MAPC RDbase beyond the CPUs
		return errText(model.SubmitCommands(g.b, model.MAPC{ICID: 1, RDbase: 7, Valid: true}))
	}},
	{id: "G10", run: func(g *guest) string { // MAPC ICID beyond the collection table
		return errText(model.SubmitCommands(g.b, model.MAPC{ICID: 0xFFFF, RDbase: 0, Valid: true}))
	}},
	{id: "G11", run: func(g *guest) string { // commands on an unmapped device/event
		return errText(model.SubmitCommands(g.b, model.INT{DeviceID: 9, EventID: 0}, model.DISCARD{DeviceID: 9, EventID: 0}, model.MOVI{DeviceID: 9, EventID: 0, ICID: 0}, model.INV{DeviceID: 9, EventID: 0}, model.CLEAR{DeviceID: 9, EventID: 0}))
	}},
	{id: "G12", run: func(g *guest) string { // MSI: unmapped device
		return g.msi(0x77, 0)
	}},
	{id: "G13", run: func(g *guest) string { // MSI: EventID beyond the ITT
		if err := g.mapEvent(1, g.l.ITTs); err != nil {
			return errText(err)
		}
		return g.msi(1, 1<<20)
	}},
	{id: "G14", run: func(g *guest) string { // MSI not to GITS_TRANSLATER
		d, err := g.b.SignalMSI(model.MSI{Doorbell: g.l.ITSBase, Data: 0, DeviceID: 1, DeviceIDValid: true})
		return outcome(d, err)
	}},
	{id: "G15", run: func(g *guest) string { // MSI without a DeviceID
		d, err := g.b.SignalMSI(model.MSI{Doorbell: g.l.Doorbell(), Data: 0, DeviceID: 1})
		return outcome(d, err)
	}},
	// Tables and queues pointing outside guest memory.
	{id: "G16", run: func(g *guest) string { // ITT outside RAM, then MAPTI and an MSI
		err := g.mapEvent(1, 0x1_0000_0000)
		return errText(err) + "; MSI: " + g.msi(1, 0)
	}},
	{id: "G32", run: func(g *guest) string { // GITS_CBASER outside RAM, the guest writes GITS_CWRITER
		cb, _ := model.MakeCBASER(0x1_0000_0000, 1)
		for _, w := range []struct {
			r model.ITSRegister
			v uint64
		}{{model.GITS_CTLR, 0}, {model.GITS_CBASER, uint64(cb)}, {model.GITS_CTLR, model.GITS_CTLR_Enabled}} {
			if err := g.b.WriteITSRegister(w.r, w.v); err != nil {
				return errText(err)
			}
		}
		err := g.b.WriteITSRegister(model.GITS_CWRITER, 0x20)
		return errText(err) + fmt.Sprintf("; CREADR %#x", g.reg(model.GITS_CREADR))
	}},
	{id: "G17", run: func(g *guest) string { // GITS_CBASER outside RAM
		cb, _ := model.MakeCBASER(0x1_0000_0000, 1)
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CBASER, uint64(cb)); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
			return errText(err)
		}
		return errText(model.SubmitCommands(g.b, model.SYNC{RDbase: 0}))
	}},
	{id: "G18", run: func(g *guest) string { // device table (GITS_BASER0) outside RAM
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		reset := model.Baser(g.reg(model.GITS_BASER(0)))
		bs, err := reset.WithTable(0x1_0000_0000, model.PageSize64K, 1, false)
		if err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_BASER(0), uint64(bs)); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
			return errText(err)
		}
		err = g.mapEvent(1, g.l.ITTs)
		return errText(err) + "; MSI: " + g.msi(1, 0) + "; save: " + errText(g.b.SaveTables())
	}},
	{id: "G19", run: func(g *guest) string { // LPI property table outside RAM
		if err := g.b.WriteRedistributorRegister(1, model.GICR_PROPBASER, uint64(0x1_0000_0000|15)); err != nil {
			return errText(err)
		}
		if err := model.EnableLPIs(g.b, 1); err != nil {
			return errText(err)
		}
		err := model.SubmitCommands(g.b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}, model.MAPD{DeviceID: 1, Size: 4, ITTAddr: g.l.ITTs, Valid: true}, model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 1})
		return errText(err) + "; MSI: " + g.msi(1, 0)
	}},
	// Misaligned bases.
	{id: "G20", run: func(g *guest) string { // GITS_BASER0 address not aligned to its 64 KiB pages
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		v := g.reg(model.GITS_BASER(0)) | 0x1000
		err := g.b.WriteITSRegister(model.GITS_BASER(0), v)
		return errText(err) + fmt.Sprintf("; reads back %#x", g.reg(model.GITS_BASER(0)))
	}},
	{id: "G21", run: func(g *guest) string { // GITS_CBASER not 64 KiB aligned
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		v := g.reg(model.GITS_CBASER) | 0x1000
		if err := g.b.WriteITSRegister(model.GITS_CBASER, v); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
			return errText(err)
		}
		err := model.SubmitCommands(g.b, model.SYNC{RDbase: 0})
		where := "nowhere"
		for _, base := range []model.GPA{g.l.CommandQueue, g.l.CommandQueue + 0x1000} {
			b := make([]byte, 1)
			if g.b.Memory().ReadAt(b, base) == nil && b[0] == byte(model.OpSYNC) {
				where = fmt.Sprintf("%#x", uint64(base))
			}
		}
		return errText(err) + fmt.Sprintf("; reads back %#x; the SYNC was written at %s", g.reg(model.GITS_CBASER), where)
	}},
	{id: "G22", run: func(g *guest) string { // GITS_CWRITER not a multiple of 32
		err := g.b.WriteITSRegister(model.GITS_CWRITER, 0x30)
		return errText(err) + fmt.Sprintf("; CWRITER %#x CREADR %#x", g.reg(model.GITS_CWRITER), g.reg(model.GITS_CREADR))
	}},
	// CWRITER past the queue.
	{id: "G23", run: func(g *guest) string {
		size := uint64(g.l.CommandQueuePages) * 4096
		err := g.b.WriteITSRegister(model.GITS_CWRITER, size+0x20)
		return errText(err) + fmt.Sprintf("; CWRITER %#x CREADR %#x; then ", g.reg(model.GITS_CWRITER), g.reg(model.GITS_CREADR)) + errText(model.SubmitCommands(g.b, model.SYNC{RDbase: 0}))
	}},
	// Enabling with invalid tables.
	{id: "G24", run: func(g *guest) string { // GITS_CTLR.Enabled with GITS_CBASER.Valid clear
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CBASER, 0); err != nil {
			return errText(err)
		}
		err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled)
		return errText(err) + fmt.Sprintf("; CTLR %#x; then ", g.reg(model.GITS_CTLR)) + errText(model.SubmitCommands(g.b, model.SYNC{RDbase: 0}))
	}},
	{id: "G25", run: func(g *guest) string { // enabled with GITS_BASER0.Valid clear
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		reset := g.reg(model.GITS_BASER(0))
		if err := g.b.WriteITSRegister(model.GITS_BASER(0), reset&^(1<<63)); err != nil {
			return errText(err)
		}
		err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled)
		return errText(err) + fmt.Sprintf("; CTLR %#x", g.reg(model.GITS_CTLR))
	}},
	{id: "G31", run: func(g *guest) string { // commands submitted while the ITS is disabled
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		err := g.mapEvent(1, g.l.ITTs)
		s := errText(err) + fmt.Sprintf("; CREADR %#x CWRITER %#x", g.reg(model.GITS_CREADR), g.reg(model.GITS_CWRITER))
		if err := g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled); err != nil {
			return errText(err)
		}
		return s + "; after enabling: MSI " + g.msi(1, 0)
	}},
	{id: "G26", run: func(g *guest) string { // MSI with the ITS disabled
		if err := g.mapEvent(1, g.l.ITTs); err != nil {
			return errText(err)
		}
		if err := g.b.WriteITSRegister(model.GITS_CTLR, 0); err != nil {
			return errText(err)
		}
		return g.msi(1, 0)
	}},
	{id: "G27", run: func(g *guest) string { // MSI to a CPU whose LPIs are off
		if err := model.SubmitCommands(g.b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}, model.MAPD{DeviceID: 1, Size: 4, ITTAddr: g.l.ITTs, Valid: true}, model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 1}); err != nil {
			return errText(err)
		}
		return g.msi(1, 0)
	}},
	{id: "G28", run: func(g *guest) string { // restore from garbage tables
		if err := g.mapEvent(1, g.l.ITTs); err != nil {
			return errText(err)
		}
		before := g.msi(1, 0)
		if err := g.b.SaveTables(); err != nil {
			return errText(err)
		}
		junk := make([]byte, 64)
		for i := range junk {
			junk[i] = 0xff
		}
		if err := g.b.Memory().WriteAt(junk, g.l.DeviceTable+8); err != nil {
			return errText(err)
		}
		err := g.b.RestoreTables()
		return "MSI " + before + "; restore: " + errText(err) + fmt.Sprintf("; CTLR %#x; MSI ", g.reg(model.GITS_CTLR)) + g.msi(1, 0)
	}},
	{id: "G29", run: func(g *guest) string { // CPU interface: a CPU that does not exist, EOI of nothing
		_, err := g.b.Acknowledge(5)
		return errText(err) + "; EOI: " + errText(g.b.EOI(0, model.LPIBase+5))
	}},
	{id: "G30", run: func(g *guest) string { // SetLPIConfig on a non-LPI, or beyond the property table
		return errText(model.SetLPIConfig(g.b, 100, 0)) + "; " + errText(model.SetLPIConfig(g.b, 1<<16, 0))
	}},
	{id: "G33", run: func(g *guest) string { // INT to a CPU whose LPIs are disabled, then a MAPTI
		err := model.SubmitCommands(g.b, model.MAPC{ICID: 1, RDbase: 1, Valid: true}, model.MAPD{DeviceID: 1, Size: 4, ITTAddr: g.l.ITTs, Valid: true},
			model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 1}, model.INT{DeviceID: 1, EventID: 0}, model.MAPTI{DeviceID: 1, EventID: 1, INTID: model.LPIBase + 1, ICID: 0})
		p, perr := g.b.Pending(1)
		return fmt.Sprintf("%s; CPU 1 pending %v %s; MSI to the second event: %s", errText(err), p, errText(perr), g.msi(1, 1))
	}},
	{id: "G34", run: func(g *guest) string { // restore: an ITE whose next leads past the ITT
		if err := g.mapEvent(1, g.l.ITTs); err != nil {
			return errText(err)
		}
		if err := g.b.SaveTables(); err != nil {
			return errText(err)
		}
		ite := model.ITE{Next: 32, INTID: model.LPIBase, ICID: 0}.Encode() // 5 EventID bits: 0..31
		if err := model.WriteUint64(g.b.Memory(), g.l.ITTs, ite); err != nil {
			return errText(err)
		}
		return errText(g.b.RestoreTables()) + "; MSI: " + g.msi(1, 0)
	}},
	{id: "G35", run: func(g *guest) string { // restore: a CTE whose RDbase has bits above 31
		if err := g.mapEvent(1, g.l.ITTs); err != nil {
			return errText(err)
		}
		if err := g.b.SaveTables(); err != nil {
			return errText(err)
		}
		cte := uint64(1)<<63 | (uint64(1)<<32|1)<<16 // ICID 0, RDbase 0x100000001
		if err := model.WriteUint64(g.b.Memory(), g.l.CollectionTable, cte); err != nil {
			return errText(err)
		}
		return errText(g.b.RestoreTables()) + "; MSI: " + g.msi(1, 0)
	}},
	{id: "G36", run: func(g *guest) string { // MAPTI and MAPI naming an ICID beyond the collection table
		if err := model.SubmitCommands(g.b, model.MAPD{DeviceID: 1, Size: 13, ITTAddr: g.l.ITTs, Valid: true}); err != nil {
			return errText(err)
		}
		return errText(model.SubmitCommands(g.b, model.MAPTI{DeviceID: 1, EventID: 0, INTID: model.LPIBase, ICID: 9000}, model.MAPI{DeviceID: 1, EventID: model.EventID(model.LPIBase), ICID: 9000}))
	}},
	{id: "G37", run: func(g *guest) string { // EOI of the spurious INTID
		_, err := g.b.Acknowledge(0)
		return errText(err) + "; " + errText(g.b.EOI(0, model.SpuriousINTID))
	}},
	{id: "G38", run: func(g *guest) string { // the device table moved to a smaller one while a device beyond it is mapped
		if err := g.mapEvent(0x300, g.l.ITTs); err != nil {
			return errText(err)
		}
		// One 4 KiB page: DTEs for DeviceIDs 0..0x1ff.
		small, err := model.MakeBaser(model.BaserDevices, model.TableEntrySize).WithTable(g.l.DeviceTable, model.PageSize4K, 1, false)
		if err != nil {
			return errText(err)
		}
		errs := []error{g.b.WriteITSRegister(model.GITS_CTLR, 0), g.b.WriteITSRegister(model.GITS_BASER(0), uint64(small|1<<63)), g.b.WriteITSRegister(model.GITS_CTLR, model.GITS_CTLR_Enabled)}
		for _, err := range errs {
			if err != nil {
				return errText(err)
			}
		}
		return g.msi(0x300, 0) + "; " + errText(model.SubmitCommands(g.b, model.MAPTI{DeviceID: 0x300, EventID: 1, INTID: model.LPIBase + 1, ICID: 0}))
	}},
}

// TestBadInputGuest runs every guest-side row of docs/bad-input.md on the
// simulator: what each case observes must be the row's text exactly.
func TestBadInputGuest(t *testing.T) {
	rows := docRows(t)
	for _, c := range badGuestInput {
		t.Run(c.id, func(t *testing.T) {
			g := openGuest(t)
			got := c.run(g)
			if os.Getenv("GICITS_PROBE") != "" {
				fmt.Printf("%s\t%s\n", c.id, got)
				return
			}
			want, ok := rows[c.id]
			if !ok {
				t.Fatalf("docs/bad-input.md has no row %s", c.id)
			}
			if got != strings.Join(want.Text, "\n") {
				t.Errorf("%s:\n got %s\nwant %s", c.id, got, strings.Join(want.Text, "\n"))
			}
		})
	}
}
