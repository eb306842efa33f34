package inspect_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// v4Machine is a GICv4.0 simulator set up as a hypervisor would: a vPE
// table, device 0x10 with virtual events, vPEs mapped, and vPE 1
// scheduled on CPU 0.
type v4Machine struct {
	b        model.Backend
	vpeTable model.GPA
	vpt      map[model.VPEID]model.GPA
	vprop    model.GPA
}

// alloc allocates size bytes aligned to align from the ITT area, or fails
// the test.
func alloc(tb testing.TB, a *model.Allocator, size, align uint64) model.GPA {
	tb.Helper()
	addr, err := a.Alloc(size, align)
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// setVPETable points GITS_BASER2 at a vPE table of pages 4 KiB pages at
// addr, with the ITS disabled while it does.
func setVPETable(tb testing.TB, b model.Backend, addr model.GPA, pages int, indirect bool) {
	tb.Helper()
	v, err := b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		tb.Fatal(err)
	}
	baser, err := model.Baser(v).WithTable(addr, model.PageSize4K, pages, indirect)
	if err != nil {
		tb.Fatal(err)
	}
	for _, w := range []struct {
		r model.ITSRegister
		v uint64
	}{{model.GITS_CTLR, 0}, {model.GITS_BASER(2), uint64(baser)}, {model.GITS_CTLR, model.GITS_CTLR_Enabled}} {
		if err := b.WriteITSRegister(w.r, w.v); err != nil {
			tb.Fatalf("writing %v: %v", w.r, err)
		}
	}
}

// schedule makes the vPE whose VPT is vpt resident on cpu, with vprop its
// vLPI configuration table (16 vINTID bits).
func schedule(tb testing.TB, b model.Backend, cpu model.CPU, vpt, vprop model.GPA) {
	tb.Helper()
	prop, err := model.MakeVPropBaser(vprop, 16)
	if err != nil {
		tb.Fatal(err)
	}
	pend, err := model.MakeVPendBaser(vpt, true, false)
	if err != nil {
		tb.Fatal(err)
	}
	if err := b.WriteRedistributorRegister(cpu, model.GICR_VPROPBASER, uint64(prop)); err != nil {
		tb.Fatal(err)
	}
	if err := b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, uint64(pend)); err != nil {
		tb.Fatal(err)
	}
}

// openGICv4 opens a two-CPU GICv4.0 simulator and maps, on device 0x10
// (16 events):
//
//	ev 0 -> vPE 1 vLPI 8192 db 8200   vPE 1: CPU 0, 16 bits, scheduled on CPU 0
//	ev 1 -> vPE 1 vLPI 8193 no db
//	ev 2 -> vPE 2 vLPI 8194 db 8201   vPE 2: CPU 1, 16 bits, not scheduled
//	ev 3 -> vPE 2 vLPI 8195 no db
//	ev 4 -> vPE 3 vLPI 8196           vPE 3: never mapped (VTE invalid)
//	ev 5 -> vPE 4 vLPI 20000          vPE 4: CPU 0, 14 bits (mapped after)
//	ev 6 -> vPE 600 vLPI 8192         the vPE table shrinks to 512 VTEs after
//	ev 7 -> LPI 8207, ICID 0          a physical event beside them
//
// with LPIs 8192..8207 and vLPIs 8192..8199 at priority 0xa0, enabled.
func openGICv4(tb testing.TB) *v4Machine {
	tb.Helper()
	b, err := model.Open("sim", model.Config{CPUs: 2, ITSTyper: model.GICv4ITSTyper})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	if !b.Capabilities().VirtualLPIs {
		tb.Fatal("a sim opened with GICv4ITSTyper does not say VirtualLPIs")
	}
	m := &v4Machine{b: b, vpt: map[model.VPEID]model.GPA{}}
	for cpu := range 2 {
		if err := model.EnableLPIs(b, model.CPU(cpu)); err != nil {
			tb.Fatal(err)
		}
	}
	for lpi := model.LPIBase; lpi < model.LPIBase+16; lpi++ {
		if err := model.SetLPIConfig(b, lpi, model.MakeLPIConfig(0xa0, true)); err != nil {
			tb.Fatal(err)
		}
	}
	mem := b.Layout().ITTAllocator()
	m.vpeTable = alloc(tb, mem, 2*model.PageSize4K, model.PageSize4K)
	setVPETable(tb, b, m.vpeTable, 2, false) // 1024 VTEs, for vPE 600
	for _, id := range []model.VPEID{1, 2, 4} {
		m.vpt[id] = alloc(tb, mem, 64<<10, 64<<10)
	}
	m.vprop = alloc(tb, mem, 4<<10, 4<<10)
	cfg := make([]byte, 8)
	for i := range cfg {
		cfg[i] = uint8(model.MakeLPIConfig(0xa0, true))
	}
	if err := b.Memory().WriteAt(cfg, m.vprop); err != nil {
		tb.Fatal(err)
	}
	itt := alloc(tb, mem, model.ITTSize(4, model.VirtualITESize), 256)
	if err := model.SubmitCommands(b,
		model.MAPC{ICID: 0, RDbase: 0, Valid: true},
		model.MAPD{DeviceID: 0x10, Size: 3, ITTAddr: itt, Valid: true},
		model.VMAPP{VPEID: 1, RDbase: 0, VPTAddr: m.vpt[1], VPTSize: 15, Valid: true},
		model.VMAPP{VPEID: 2, RDbase: 1, VPTAddr: m.vpt[2], VPTSize: 15, Valid: true},
		model.VMAPTI{DeviceID: 0x10, EventID: 0, VPEID: 1, VINTID: 8192, Doorbell: 8200},
		model.VMAPTI{DeviceID: 0x10, EventID: 1, VPEID: 1, VINTID: 8193, Doorbell: model.NoDoorbell},
		model.VMAPTI{DeviceID: 0x10, EventID: 2, VPEID: 2, VINTID: 8194, Doorbell: 8201},
		model.VMAPTI{DeviceID: 0x10, EventID: 3, VPEID: 2, VINTID: 8195, Doorbell: model.NoDoorbell},
		model.VMAPTI{DeviceID: 0x10, EventID: 4, VPEID: 3, VINTID: 8196, Doorbell: model.NoDoorbell},
		model.VMAPTI{DeviceID: 0x10, EventID: 5, VPEID: 4, VINTID: 20000, Doorbell: model.NoDoorbell},
		model.VMAPP{VPEID: 4, RDbase: 0, VPTAddr: m.vpt[4], VPTSize: 13, Valid: true},
		model.VMAPTI{DeviceID: 0x10, EventID: 6, VPEID: 600, VINTID: 8192, Doorbell: model.NoDoorbell},
		model.MAPTI{DeviceID: 0x10, EventID: 7, INTID: 8207, ICID: 0},
	); err != nil {
		tb.Fatal(err)
	}
	setVPETable(tb, b, m.vpeTable, 1, false) // 512 VTEs: vPE 600 has none now
	schedule(tb, b, 0, m.vpt[1], m.vprop)
	return m
}

// msi signals event ev of device 0x10 and wants it delivered.
func (m *v4Machine) msi(tb testing.TB, ev model.EventID) {
	tb.Helper()
	msg := m.b.Capabilities().Prepare(model.MSI{Doorbell: m.b.Layout().Doorbell(), Data: uint32(ev), DeviceID: 0x10})
	if d, err := m.b.SignalMSI(msg); err != nil || d != model.Delivered {
		tb.Fatalf("MSI ev=%d: %v %v", ev, d, err)
	}
}

// TestExplainVirtual walks each vLPI outcome: resident, not resident with
// and without a doorbell, and each failure of the vPE side.
func TestExplainVirtual(t *testing.T) {
	m := openGICv4(t)
	m.msi(t, 0)
	m.msi(t, 2)
	for _, tc := range []struct {
		name     string
		ev       model.EventID
		verdicts string
		want     []string
	}{
		{"resident", 0, "ok ok ok ok ok ok ok ok", []string{
			"4. interrupt translation entry ITE[0] (ITT at ",
			"   virtual=1 (word bit 31)  vPEID=1  vINTID=8192  Dbell_pINTID=8200  next=1\n",
			"5. vPE table (GITS_BASER2): ok\n",
			"6. vPE table entry VTE[1]: ok\n",
			"   V=1  RDbase=0 (CPU 0)  VPT_addr=",
			"7. residency of vPE 1 on its redistributor, CPU 0 (GICR_VPENDBASER): ok\n",
			"8. vLPI 8192 for the vPE scheduled on CPU 0 (virtual CPU interface): ok\n",
			"   Priority=0xa0  Enable=1  pending=yes\n",
			"   delivered to the vPE scheduled on CPU 0 (pending for its virtual CPU interface): pending now",
		}},
		{"resident-not-pending", 1, "ok ok ok ok ok ok ok info", []string{
			"Dbell_pINTID=1023 (none)",
			"   an MSI now is delivered to the vPE scheduled on CPU 0 (pending for its virtual CPU interface); not pending now",
		}},
		{"not-resident-doorbell", 2, "ok ok ok ok ok ok info info", []string{
			"7. residency of vPE 2 on its redistributor, CPU 1 (GICR_VPENDBASER): info\n",
			"   not resident: no vPE is scheduled on CPU 1 (GICR_VPENDBASER.Valid = 0)\n",
			"8. vPE 2's virtual pending table (not resident): info\n",
			"   VPT bit=byte " + (m.vpt[2] + 8194/8).String() + " bit 2 = 1  Dbell_pINTID=8201  doorbell pending=yes  doorbell Priority=0xa0  doorbell Enable=1\n",
			"   not resident: an MSI sets vINTID 8194's bit in the VPT at " + m.vpt[2].String() + ", and doorbell pINTID 8201 is made pending on CPU 1\n",
		}},
		{"not-resident-no-doorbell", 3, "ok ok ok ok ok ok info info", []string{
			"   VPT bit=byte " + (m.vpt[2] + 8195/8).String() + " bit 3 = 0  Dbell_pINTID=1023 (none)\n",
			"; no doorbell (Dbell_pINTID 1023): nothing tells the hypervisor",
		}},
		{"invalid-vte", 4, "ok ok ok ok ok FAIL", []string{
			"6. vPE table entry VTE[3]: FAIL\n   at " + (m.vpeTable + 3*8).String() + ": 00 00 00 00 00 00 00 00 (0x0000000000000000)\n   V=0\n",
			"   check: the vPE is mapped (VTE valid); E_ITS_INT_UNMAPPED_INTERRUPT (0x010307); IHI 0069 5.3.19 VMAPP (revision H)\n",
			"   no VMAPP vpe=3 with V=1 (or a VMAPP V=0 unmapped it)",
		}},
		{"vintid-beyond-vpt-size", 5, "ok ok ok ok ok FAIL", []string{
			"   V=1  RDbase=0 (CPU 0)  VPT_addr=" + m.vpt[4].String() + "  VPT_size=13 (14 vINTID bits)\n",
			"   check: the vINTID fits the vPE's VPT (vINTID < 2^(VPT_size+1)); E_ITS_INT_UNMAPPED_INTERRUPT",
			"   vINTID 20000 is beyond the 14 vINTID bits of vPE 4's VPT (vINTIDs below 16384): VMAPTI of it now fails with E_ITS_VMAPTI_VIRTUALID_OOR",
		}},
		{"vpeid-beyond-table", 6, "ok ok ok ok ok FAIL", []string{
			"6. vPE table entry VTE[600]: FAIL\n   check: the vPEID lies within the vPE table; E_ITS_INT_UNMAPPED_INTERRUPT (0x010307)",
			"   the flat vPE table holds 512 VTEs (vPEIDs 0..511): vPE 600 has no entry; VMAPP and VMAPTI of vPEID 600 now fail with E_ITS_VMAPP_VPEID_OOR and E_ITS_VMAPTI_VPEID_OOR\n",
		}},
		{"physical-beside", 7, "ok ok ok ok ok ok ok info info", []string{
			"   pINTID=8207  ICID=0  next=0\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			steps, err := inspect.Explain(m.b, 0x10, tc.ev, inspect.ExplainOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var verdicts []string
			for _, s := range steps {
				verdicts = append(verdicts, string(s.Verdict))
			}
			var out strings.Builder
			inspect.WriteSteps(&out, steps)
			if got := strings.Join(verdicts, " "); got != tc.verdicts {
				t.Errorf("verdicts %s, want %s:\n%s", got, tc.verdicts, out.String())
			}
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output:\n%s\nwant it to contain:\n%s", out.String(), want)
				}
			}
		})
	}
}

// TestExplainVirtualTwoLevel walks a two-level vPE table: through a valid
// level-1 entry to the VTE, and to the level-1 entry that is not valid
// once the hypervisor takes the second-level page away.
func TestExplainVirtualTwoLevel(t *testing.T) {
	b, err := model.Open("sim", model.Config{CPUs: 1, ITSTyper: model.GICv4ITSTyper})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := model.EnableLPIs(b, 0); err != nil {
		t.Fatal(err)
	}
	mem := b.Layout().ITTAllocator()
	l1 := alloc(t, mem, model.PageSize4K, model.PageSize4K)
	l2 := alloc(t, mem, model.PageSize4K, model.PageSize4K)
	vpt := alloc(t, mem, 64<<10, 64<<10)
	itt := alloc(t, mem, model.ITTSize(1, model.VirtualITESize), 256)
	setVPETable(t, b, l1, 1, true) // 512 L1 entries of 512 vPEs each
	entry, err := model.L1Entry{Valid: true, Addr: l2}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := model.WriteUint64(b.Memory(), l1+8, entry); err != nil { // vPEIDs 512..1023
		t.Fatal(err)
	}
	if err := model.SubmitCommands(b,
		model.MAPD{DeviceID: 0x10, Size: 0, ITTAddr: itt, Valid: true},
		model.VMAPP{VPEID: 600, RDbase: 0, VPTAddr: vpt, VPTSize: 15, Valid: true},
		model.VMAPTI{DeviceID: 0x10, EventID: 0, VPEID: 600, VINTID: 8192, Doorbell: model.NoDoorbell},
	); err != nil {
		t.Fatal(err)
	}
	walk := func() string {
		t.Helper()
		steps, err := inspect.Explain(b, 0x10, 0, inspect.ExplainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		inspect.WriteSteps(&out, steps)
		return out.String()
	}
	out := walk()
	for _, want := range []string{
		"5. vPE table (GITS_BASER2): ok\n",
		"6. level-1 vPE table entry [1] (vPEIDs 512..1023): ok\n   at " + (l1 + 8).String(),
		"   V=1  L2 page=" + l2.String() + "\n",
		"7. vPE table entry VTE[600]: ok\n   at " + (l2 + 88*8).String(),
		"8. residency of vPE 600 on its redistributor, CPU 0 (GICR_VPENDBASER): info\n",
		"9. vPE 600's virtual pending table (not resident): info\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("two-level walk:\n%s\nwant it to contain:\n%s", out, want)
		}
	}
	if err := model.WriteUint64(b.Memory(), l1+8, 0); err != nil {
		t.Fatal(err)
	}
	out = walk()
	want := "6. level-1 vPE table entry [1] (vPEIDs 512..1023): FAIL\n   at " + (l1 + 8).String() + ": 00 00 00 00 00 00 00 00 (0x0000000000000000)\n   V=0\n" +
		"   check: the L1 entry is valid (a second-level page is provided); E_ITS_INT_UNMAPPED_INTERRUPT (0x010307); IHI 0069 12.19.1 GITS_BASER<n>, 5.3.19 VMAPP (revision H)\n" +
		"   no second-level page for vPEIDs 512..1023: vPE 600 has no VTE; VMAPP and VMAPTI of vPEID 600 now fail with E_ITS_VMAPP_VPEID_OOR and E_ITS_VMAPTI_VPEID_OOR\n"
	if !strings.HasSuffix(out, want) {
		t.Errorf("walk with the L1 entry taken away:\n%s\nwant it to end with:\n%s", out, want)
	}
}

// TestExplainVirtualNoVPETable: an event mapped to a vPE while GITS_BASER2
// held a table, walked after the hypervisor cleared the register's Valid.
func TestExplainVirtualNoVPETable(t *testing.T) {
	m := openGICv4(t)
	v, err := m.b.ReadITSRegister(model.GITS_BASER(2))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		r model.ITSRegister
		v uint64
	}{{model.GITS_CTLR, 0}, {model.GITS_BASER(2), v &^ (1 << 63)}, {model.GITS_CTLR, model.GITS_CTLR_Enabled}} {
		if err := m.b.WriteITSRegister(w.r, w.v); err != nil {
			t.Fatal(err)
		}
	}
	steps, err := inspect.Explain(m.b, 0x10, 0, inspect.ExplainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	last := steps[len(steps)-1]
	if last.Title != "vPE table (GITS_BASER2)" || last.Verdict != inspect.Fail || last.Code != model.E_ITS_INT_UNMAPPED_INTERRUPT || last.Check != "GITS_BASER2 is a valid vPE table" {
		t.Errorf("last step %+v, want GITS_BASER2 failing", last)
	}
}

// TestReadStateGICv4 is the state of openGICv4's machine after an MSI to
// the resident vPE and one to the other, with 72 vINTIDs set by hand in
// vPE 4's VPT (64 listed, 8 counted).
func TestReadStateGICv4(t *testing.T) {
	m := openGICv4(t)
	m.msi(t, 0)
	m.msi(t, 2)
	ones := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	if err := m.b.Memory().WriteAt(ones, m.vpt[4]+1100); err != nil {
		t.Fatal(err)
	}
	s, err := inspect.ReadState(m.b)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := s.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	want := `ITS: enabled, CREADR 0x1a0, CWRITER 0x1a0
  GITS_CBASER 0xb80000004000040f (queue at 0x40000000, 16 pages)
  GITS_BASER0 flat devices table at 0x40010000, 8 x 64 KiB pages
  GITS_BASER1 flat collections table at 0x40090000, 1 x 64 KiB page
  GITS_BASER2 flat vPEs table at 0x40800000, 1 x 4 KiB page
  GICR_PROPBASER table at 0x40100000, 16 INTID bits
redistributors:
  CPU 0: LPIs enabled, pending: none
    GICR_VPROPBASER 0x4084078f (table at 0x40840000, 16 INTID bits)
    GICR_VPENDBASER 0x8000000040810780 (Valid=1 IDAI=0 PendingLast=0): vPE 1 scheduled (VPT at 0x40810000), vLPIs pending: 8192
  CPU 1: LPIs enabled, pending: 8201
    GICR_VPROPBASER 0x0 (no vLPI configuration table)
    GICR_VPENDBASER 0x0 (Valid=0 IDAI=0 PendingLast=0): no vPE scheduled
vPEs (valid vPE table entries):
  vPEID 1: RDbase CPU 0, VPT at 0x40810000, 16 vINTID bits, scheduled on CPU 0
  vPEID 2: RDbase CPU 1, VPT at 0x40820000, 16 vINTID bits, not scheduled, set in its VPT: 8194
  vPEID 4: RDbase CPU 0, VPT at 0x40830000, 14 vINTID bits, not scheduled, set in its VPT: 8800..8863 and 8 more
collections:
  ICID 0 -> CPU 0
devices:
  DeviceID 0x10: ITT at 0x40841000, 4 EventID bits, 8 events mapped
    EventID 0 -> vpe=1 vlpi=8192 db=8200
    EventID 1 -> vpe=1 vlpi=8193 db=none
    EventID 2 -> vpe=2 vlpi=8194 db=8201
    EventID 3 -> vpe=2 vlpi=8195 db=none
    EventID 4 -> vpe=3 vlpi=8196 db=none
    EventID 5 -> vpe=4 vlpi=20000 db=none
    EventID 6 -> vpe=600 vlpi=8192 db=none
    EventID 7 -> LPI 8207, ICID 0
LPI configuration (non-zero bytes of the property table):
  8192..8207 prio=0xa0 enabled
`
	if out.String() != want {
		t.Errorf("state:\n%s\nwant:\n%s", out.String(), want)
	}
	var js bytes.Buffer
	if err := s.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		ITS struct {
			VPETable map[string]any `json:"vpe_table"`
		}
		Redistributors []struct {
			Virtual map[string]any
		}
		VPEs    []map[string]any
		Devices []struct{ Events []map[string]any }
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		got  any
		want string
	}{
		{"its.vpe_table", doc.ITS.VPETable, `{"addr":"0x40800000","indirect":false,"page_size":4096,"pages":1,"type":"vPEs","valid":true}`},
		{"redistributors[0].virtual", doc.Redistributors[0].Virtual, `{"idai":false,"pending":[8192],"pending_last":false,"valid":true,"vpendbaser":"0x8000000040810780","vpes":[1],"vprop_table":{"addr":"0x40840000","id_bits":16},"vpropbaser":"0x4084078f","vpt":"0x40810000"}`},
		{"vpes[0]", doc.VPEs[0], `{"rdbase":0,"scheduled_on":0,"vintid_bits":16,"vpe":1,"vpt":"0x40810000","vpt_pending":[],"vpt_pending_more":0,"vte":"0x40800008"}`},
		{"vpes[2].vpt_pending_more", doc.VPEs[2]["vpt_pending_more"], `8`},
		{"vpes[1]", doc.VPEs[1], `{"rdbase":1,"scheduled_on":null,"vintid_bits":16,"vpe":2,"vpt":"0x40820000","vpt_pending":[8194],"vpt_pending_more":0,"vte":"0x40800010"}`},
		{"devices[0].events[0]", doc.Devices[0].Events[0], `{"ev":0,"virtual":{"doorbell":8200,"vlpi":8192,"vpe":1}}`},
		{"devices[0].events[1]", doc.Devices[0].Events[1], `{"ev":1,"virtual":{"doorbell":null,"vlpi":8193,"vpe":1}}`},
		{"devices[0].events[7]", doc.Devices[0].Events[7], `{"ev":7,"icid":0,"lpi":8207}`},
	} {
		if got, _ := json.Marshal(tc.got); string(got) != tc.want {
			t.Errorf("%s: %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

// TestReadStateGICv3HasNoVirtualPart: on a backend without vPEs the state
// has none of the GICv4.0 part, in text or JSON.
func TestReadStateGICv3HasNoVirtualPart(t *testing.T) {
	s, err := inspect.ReadState(openMapped(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	var text, js bytes.Buffer
	s.WriteText(&text)
	s.WriteJSON(&js)
	if s.ITS.VPETable != nil || s.VPEs != nil || s.Redistributors[0].Virtual != nil {
		t.Errorf("GICv3 state has a virtual part: %+v", s)
	}
	for _, word := range []string{"vPE", "VPROPBASER", "VPENDBASER", "BASER2"} {
		if strings.Contains(text.String(), word) {
			t.Errorf("GICv3 state text mentions %s:\n%s", word, text.String())
		}
	}
	for _, field := range []string{`"vpe_table"`, `"vpes"`, `"virtual"`} {
		if strings.Contains(js.String(), field) {
			t.Errorf("GICv3 state JSON has %s:\n%s", field, js.String())
		}
	}
}

// TestTraceKeepsTheVirtualCPUInterface: a traced GICv4.0 backend still
// offers the virtual CPU interface, so state sees the pending vLPIs; the
// wrapper of a backend without one does not claim one.
func TestTraceKeepsTheVirtualCPUInterface(t *testing.T) {
	m := openGICv4(t)
	m.msi(t, 0)
	traced := inspect.Trace(m.b, slog.New(slog.NewTextHandler(discard{}, nil)))
	if _, ok := traced.(model.VirtualCPUInterface); !ok {
		t.Fatal("the traced GICv4.0 backend does not implement model.VirtualCPUInterface")
	}
	s, err := inspect.ReadState(traced)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Redistributors[0].Virtual.Pending; len(got) != 1 || got[0] != 8192 {
		t.Errorf("traced: vLPIs pending on CPU 0: %v, want [8192]", got)
	}
	var plain model.Backend = struct{ model.Backend }{openMapped(t, 1)} // hides every optional interface
	if _, ok := inspect.Trace(plain, slog.New(slog.NewTextHandler(discard{}, nil))).(model.VirtualCPUInterface); ok {
		t.Error("the wrapper of a backend without a virtual CPU interface claims one")
	}
}
