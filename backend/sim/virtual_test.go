package sim_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// venv is a GICv4.0 simulator with two CPUs, LPIs enabled on both,
// device 1 (8 events) mapped, and two vPEs' tables allocated: vPE 1's
// VPT at vpt[1], vPE 2's at vpt[2], one vLPI configuration table vprop
// with vINTIDs 8192..8299 enabled at priority 0xA0, and physical LPIs
// 8192..8299 (doorbells among them) enabled at 0xA0.
type venv struct {
	*env
	vpt   [3]model.GPA
	vprop model.GPA
}

const vtestDoorbell = model.INTID(8250)

func openV(t *testing.T, noCache bool) *venv {
	t.Helper()
	e := open(t, model.Config{CPUs: 2, ITSTyper: model.GICv4ITSTyper, NoTranslationCache: noCache})
	v := &venv{env: e}
	e.enable(0, 1)
	e.config(0xA0, true, idRange(8192, 8300)...)
	for i := 1; i <= 2; i++ {
		a, err := e.alloc.Alloc(8<<10, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		v.vpt[i] = a
	}
	a, err := e.alloc.Alloc(4<<10, 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	v.vprop = a
	v.vconfig(0xA0, true, idRange(8192, 8300)...)
	e.must(model.MAPD{DeviceID: 1, Size: 2, ITTAddr: e.itt(3), Valid: true})
	return v
}

func idRange(from, to model.INTID) []model.INTID {
	var out []model.INTID
	for id := from; id < to; id++ {
		out = append(out, id)
	}
	return out
}

// vconfig writes vLPI configuration bytes into the vPEs' table.
func (v *venv) vconfig(prio uint8, enabled bool, vintids ...model.INTID) {
	v.t.Helper()
	for _, id := range vintids {
		b := []byte{byte(model.MakeLPIConfig(prio, enabled))}
		if err := v.b.Memory().WriteAt(b, v.vprop+model.GPA(id-model.LPIBase)); err != nil {
			v.t.Fatal(err)
		}
	}
}

func (v *venv) vmapp(vpe model.VPEID, cpu model.CPU) {
	v.t.Helper()
	v.must(model.VMAPP{VPEID: vpe, RDbase: uint64(cpu), VPTAddr: v.vpt[vpe], VPTSize: 15, Valid: true})
}

// schedule makes vPE vpe resident on cpu, as a hypervisor does:
// GICR_VPROPBASER, then GICR_VPENDBASER with Valid.
func (v *venv) schedule(cpu model.CPU, vpe model.VPEID, idai bool) {
	v.t.Helper()
	prop, err := model.MakeVPropBaser(v.vprop, 16)
	if err != nil {
		v.t.Fatal(err)
	}
	pend, err := model.MakeVPendBaser(v.vpt[vpe], true, idai)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := v.b.WriteRedistributorRegister(cpu, model.GICR_VPROPBASER, uint64(prop)); err != nil {
		v.t.Fatal(err)
	}
	if err := v.b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, uint64(pend)); err != nil {
		v.t.Fatal(err)
	}
}

// deschedule clears GICR_VPENDBASER.Valid on cpu and returns PendingLast.
func (v *venv) deschedule(cpu model.CPU) bool {
	v.t.Helper()
	r, err := v.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := v.b.WriteRedistributorRegister(cpu, model.GICR_VPENDBASER, r&^model.GICR_VPENDBASER_Valid); err != nil {
		v.t.Fatal(err)
	}
	r, err = v.b.ReadRedistributorRegister(cpu, model.GICR_VPENDBASER)
	if err != nil {
		v.t.Fatal(err)
	}
	if model.VPendBaser(r).Valid() || model.VPendBaser(r).Dirty() {
		v.t.Fatalf("GICR_VPENDBASER %#x after descheduling: Valid or Dirty still set", r)
	}
	return model.VPendBaser(r).PendingLast()
}

func (v *venv) vpending(cpu model.CPU) []model.INTID {
	v.t.Helper()
	p, err := v.b.PendingVirtual(cpu)
	if err != nil {
		v.t.Fatal(err)
	}
	return p
}

// vack acknowledges a vLPI in the vPE scheduled on cpu and EOIs it.
func (v *venv) vack(cpu model.CPU) model.INTID {
	v.t.Helper()
	id, err := v.b.AcknowledgeVirtual(cpu)
	if err != nil {
		v.t.Fatal(err)
	}
	if id != model.SpuriousINTID {
		if err := v.b.EOIVirtual(cpu, id); err != nil {
			v.t.Fatal(err)
		}
	}
	return id
}

// vptBit reads vintid's bit in vPE vpe's virtual pending table.
func (v *venv) vptBit(vpe model.VPEID, vintid model.INTID) bool {
	v.t.Helper()
	var b [1]byte
	if err := v.b.Memory().ReadAt(b[:], v.vpt[vpe]+model.GPA(vintid/8)); err != nil {
		v.t.Fatal(err)
	}
	return b[0]>>(vintid%8)&1 != 0
}

func vmodes(t *testing.T, fn func(t *testing.T, v *venv)) {
	for _, m := range []struct {
		name    string
		noCache bool
	}{{"cached", false}, {"uncached", true}} {
		t.Run(m.name, func(t *testing.T) { fn(t, openV(t, m.noCache)) })
	}
}

// A vLPI for a vPE scheduled on its target redistributor is pending for
// the vPE at once: taken through ICV_IAR1_EL1, nothing physical pending,
// nothing in the VPT. Twice: the second MSI hits the translation cache.
func TestVLPIResident(t *testing.T) {
	vmodes(t, func(t *testing.T, v *venv) {
		v.vmapp(1, 0)
		v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: vtestDoorbell})
		v.schedule(0, 1, false)
		for range 2 {
			if d := v.msi(1, 0); d != model.Delivered {
				t.Fatalf("MSI: %v", d)
			}
			if got := v.vpending(0); !slices.Equal(got, []model.INTID{8200}) {
				t.Fatalf("vPE pending %v, want [8200]", got)
			}
			if got := v.pending(0); len(got) != 0 {
				t.Errorf("physical pending %v: the doorbell rang for a resident vPE", got)
			}
			if v.vptBit(1, 8200) {
				t.Error("VPT bit set for a resident vPE")
			}
			if got := v.vack(0); got != 8200 {
				t.Fatalf("vack = %d, want 8200", got)
			}
			if got := v.vack(0); got != model.SpuriousINTID {
				t.Fatalf("second vack = %d, want spurious", got)
			}
		}
	})
}

// A vLPI for a vPE that is not scheduled goes into its VPT and rings its
// per-event doorbell on the vPE's redistributor; with no doorbell only
// the VPT changes. Scheduling the vPE picks the vLPI up.
func TestVLPINotResident(t *testing.T) {
	vmodes(t, func(t *testing.T, v *venv) {
		v.vmapp(1, 1)
		v.must(
			model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: vtestDoorbell},
			model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8201, VPEID: 1, Doorbell: model.NoDoorbell},
		)
		v.msi(1, 1)
		if !v.vptBit(1, 8201) || len(v.pending(0))+len(v.pending(1)) != 0 {
			t.Fatalf("no doorbell: VPT bit %v, physical pending %v %v", v.vptBit(1, 8201), v.pending(0), v.pending(1))
		}
		v.msi(1, 0)
		if !v.vptBit(1, 8200) {
			t.Error("VPT bit of vINTID 8200 not set")
		}
		if got := v.pending(1); !slices.Equal(got, []model.INTID{vtestDoorbell}) {
			t.Errorf("CPU 1 pending %v, want the doorbell %d", got, vtestDoorbell)
		}
		if got := v.pending(0); len(got) != 0 {
			t.Errorf("CPU 0 pending %v: the doorbell rang on the wrong redistributor", got)
		}
		v.schedule(1, 1, false)
		if got := v.vpending(1); !slices.Equal(got, []model.INTID{8200, 8201}) {
			t.Fatalf("after scheduling: vPE pending %v, want [8200 8201]", got)
		}
		if got := v.ack(1); got != vtestDoorbell {
			t.Errorf("physical ack %d, want the doorbell", got)
		}
	})
}

// PendingLast says, at deschedule, whether a pending vLPI is enabled; the
// pending state is written to the VPT then.
func TestVPendBaserPendingLast(t *testing.T) {
	v := openV(t, false)
	v.vmapp(1, 0)
	v.must(
		model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell},
		model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8290, VPEID: 1, Doorbell: model.NoDoorbell},
	)
	v.vconfig(0xA0, false, 8290)
	v.schedule(0, 1, false)
	if v.deschedule(0) {
		t.Error("PendingLast with nothing pending")
	}
	v.schedule(0, 1, false)
	v.msi(1, 1) // disabled
	if v.deschedule(0) {
		t.Error("PendingLast with only a disabled vLPI pending")
	}
	if !v.vptBit(1, 8290) {
		t.Error("descheduling did not write the disabled vLPI's pending bit")
	}
	v.schedule(0, 1, false)
	v.msi(1, 0)
	if !v.deschedule(0) {
		t.Error("PendingLast clear with an enabled vLPI pending")
	}
	if !v.vptBit(1, 8200) {
		t.Error("descheduling did not write the pending bit")
	}
}

// IDAI: a VPT the model described at deschedule is trusted on the next
// schedule unless IDAI is set, so a bit written behind its back is seen
// only with IDAI; a VPT never described is always read.
func TestVPendBaserIDAI(t *testing.T) {
	v := openV(t, false)
	v.vmapp(1, 0)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
	poke := func() {
		if err := v.b.Memory().WriteAt([]byte{1 << (8203 % 8)}, v.vpt[1]+8203/8); err != nil {
			t.Fatal(err)
		}
	}
	poke() // never described: read whole
	v.schedule(0, 1, false)
	if got := v.vpending(0); !slices.Equal(got, []model.INTID{8203}) {
		t.Fatalf("first schedule: pending %v, want [8203] from the VPT", got)
	}
	v.vack(0)
	v.deschedule(0)
	poke()
	v.schedule(0, 1, false)
	if got := v.vpending(0); len(got) != 0 {
		t.Errorf("IDAI=0 over a described VPT: pending %v, want none (the table is not read)", got)
	}
	v.deschedule(0)
	poke()
	v.schedule(0, 1, true)
	if got := v.vpending(0); !slices.Equal(got, []model.INTID{8203}) {
		t.Errorf("IDAI=1: pending %v, want [8203]", got)
	}
}

// VMOVI moves an event's vLPI, pending state included, to another vPE;
// VMOVP moves a vPE, so its doorbells ring on the new redistributor.
func TestVMOVIAndVMOVP(t *testing.T) {
	vmodes(t, func(t *testing.T, v *venv) {
		v.vmapp(1, 0)
		v.vmapp(2, 0)
		v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
		v.msi(1, 0)
		v.must(model.VMOVI{DeviceID: 1, EventID: 0, VPEID: 2, D: true, Doorbell: vtestDoorbell})
		if v.vptBit(1, 8200) || !v.vptBit(2, 8200) {
			t.Fatalf("after VMOVI: VPT bits vPE 1 %v, vPE 2 %v; want the pending state moved", v.vptBit(1, 8200), v.vptBit(2, 8200))
		}
		v.must(model.VMOVP{VPEID: 2, RDbase: 1})
		v.schedule(1, 2, false)
		if got := v.vack(1); got != 8200 {
			t.Fatalf("vPE 2 on CPU 1: vack %d, want 8200", got)
		}
		v.deschedule(1)
		v.msi(1, 0)
		if got := v.pending(1); !slices.Equal(got, []model.INTID{vtestDoorbell}) {
			t.Errorf("after VMOVP: CPU 1 pending %v, want the doorbell from VMOVI", got)
		}
		if got := v.pending(0); len(got) != 0 {
			t.Errorf("after VMOVP: CPU 0 pending %v", got)
		}
	})
}

// INT, CLEAR, INV and DISCARD act on the vLPI an event maps to; MOVI
// refuses a virtual event.
func TestPhysicalCommandsOnVLPIs(t *testing.T) {
	vmodes(t, func(t *testing.T, v *venv) {
		v.vmapp(1, 0)
		v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
		v.schedule(0, 1, false)
		v.must(model.INT{DeviceID: 1, EventID: 0})
		if got := v.vpending(0); !slices.Equal(got, []model.INTID{8200}) {
			t.Fatalf("INT: vPE pending %v", got)
		}
		v.must(model.CLEAR{DeviceID: 1, EventID: 0})
		if got := v.vpending(0); len(got) != 0 {
			t.Fatalf("CLEAR: vPE pending %v", got)
		}
		v.vconfig(0x40, true, 8200)
		v.must(model.INT{DeviceID: 1, EventID: 0})
		if err := v.b.SetVirtualPriorityMask(0, 0x80); err != nil {
			t.Fatal(err)
		}
		if got := v.vack(0); got != model.SpuriousINTID {
			t.Errorf("before INV: vack %d, want spurious (cached priority 0xA0 masked by 0x80)", got)
		}
		v.must(model.INV{DeviceID: 1, EventID: 0})
		if got := v.vack(0); got != 8200 {
			t.Errorf("after INV: vack %d, want 8200 at priority 0x40", got)
		}
		if got := v.codes(model.MOVI{DeviceID: 1, EventID: 0, ICID: 0}); !slices.Equal(got, []model.ErrorCode{model.E_ITS_MOVI_UNMAPPED_INTERRUPT}) {
			t.Errorf("MOVI of a virtual event: codes %v", got)
		}
		v.must(model.INT{DeviceID: 1, EventID: 0}, model.DISCARD{DeviceID: 1, EventID: 0})
		if got := v.vpending(0); len(got) != 0 {
			t.Errorf("DISCARD: vPE pending %v, want the pending state gone", got)
		}
		if d := v.msi(1, 0); d != model.Blocked {
			t.Errorf("MSI after DISCARD: %v", d)
		}
	})
}

// The virtual CPU interface's priority mask belongs to the vPE: it
// survives a deschedule and does not touch the physical ICC_PMR_EL1.
func TestVirtualPriorityMaskTravels(t *testing.T) {
	v := openV(t, false)
	v.vmapp(1, 0)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
	v.schedule(0, 1, false)
	if err := v.b.SetVirtualPriorityMask(0, 0x80); err != nil {
		t.Fatal(err)
	}
	v.deschedule(0)
	v.msi(1, 0)
	v.schedule(0, 1, false)
	if got := v.vack(0); got != model.SpuriousINTID {
		t.Errorf("vack %d: the vPE's priority mask 0x80 was lost over a deschedule", got)
	}
	if _, err := v.b.AcknowledgeVirtual(1); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("AcknowledgeVirtual with no vPE scheduled: %v", err)
	}
}

// The GICv4.0 command errors, each from a command that fails and changes
// nothing.
func TestVirtualCommandErrorCodes(t *testing.T) {
	const beyond = model.VPEID(8192) // the sim's vPE table: one 64 KiB page of 8-byte VTEs
	cases := []struct {
		code model.ErrorCode
		cmd  model.Command
	}{
		{model.E_ITS_VMAPP_VPEID_OOR, model.VMAPP{VPEID: beyond, RDbase: 0, VPTAddr: 0x4100_0000, VPTSize: 15, Valid: true}},
		{model.E_ITS_VMAPP_PROCNUM_OOR, model.VMAPP{VPEID: 3, RDbase: 2, VPTAddr: 0x4100_0000, VPTSize: 15, Valid: true}},
		{model.E_ITS_VMAPP_VPTSIZE_OOR, model.VMAPP{VPEID: 3, RDbase: 0, VPTAddr: 0x4100_0000, VPTSize: 16, Valid: true}},
		{model.E_ITS_VMAPP_VPTSIZE_OOR, model.VMAPP{VPEID: 3, RDbase: 0, VPTAddr: 0x4100_0000, VPTSize: 12, Valid: true}},
		{model.E_ITS_VMAPTI_DEVICE_OOR, model.VMAPTI{DeviceID: 1 << 16, EventID: 0, VINTID: 8192, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_UNMAPPED_DEVICE, model.VMAPTI{DeviceID: 9, EventID: 0, VINTID: 8192, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_ID_OOR, model.VMAPTI{DeviceID: 1, EventID: 8, VINTID: 8192, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_VPEID_OOR, model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8192, VPEID: beyond, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_VIRTUALID_OOR, model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8191, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_VIRTUALID_OOR, model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 1 << 16, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPTI_PHYSICALID_OOR, model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8192, VPEID: 1, Doorbell: 100}},
		{model.E_ITS_VMAPI_DEVICE_OOR, model.VMAPI{DeviceID: 1 << 16, EventID: 0, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPI_UNMAPPED_DEVICE, model.VMAPI{DeviceID: 9, EventID: 0, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPI_ID_OOR, model.VMAPI{DeviceID: 1, EventID: 8, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPI_VPEID_OOR, model.VMAPI{DeviceID: 1, EventID: 1, VPEID: beyond, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPI_VIRTUALID_OOR, model.VMAPI{DeviceID: 1, EventID: 1, VPEID: 1, Doorbell: model.NoDoorbell}},
		{model.E_ITS_VMAPI_PHYSICALID_OOR, model.VMAPI{DeviceID: 2, EventID: 8193, VPEID: 1, Doorbell: 1 << 16}},
		{model.E_ITS_VMOVI_DEVICE_OOR, model.VMOVI{DeviceID: 1 << 16, EventID: 0, VPEID: 2}},
		{model.E_ITS_VMOVI_UNMAPPED_DEVICE, model.VMOVI{DeviceID: 9, EventID: 0, VPEID: 2}},
		{model.E_ITS_VMOVI_ID_OOR, model.VMOVI{DeviceID: 1, EventID: 8, VPEID: 2}},
		{model.E_ITS_VMOVI_UNMAPPED_INTERRUPT, model.VMOVI{DeviceID: 1, EventID: 5, VPEID: 2}},
		{model.E_ITS_VMOVI_UNMAPPED_INTERRUPT, model.VMOVI{DeviceID: 1, EventID: 2, VPEID: 2}}, // a physical event
		{model.E_ITS_VMOVI_VPEID_OOR, model.VMOVI{DeviceID: 1, EventID: 0, VPEID: beyond}},
		{model.E_ITS_VMOVI_PHYSICALID_OOR, model.VMOVI{DeviceID: 1, EventID: 0, VPEID: 2, D: true, Doorbell: 5}},
		{model.E_ITS_VMOVI_VIRTUALID_OOR, model.VMOVI{DeviceID: 1, EventID: 3, VPEID: 2}}, // vINTID 1<<15 beyond vPE 2's 15 bits
		{model.E_ITS_VMOVP_VPEID_OOR, model.VMOVP{VPEID: beyond, RDbase: 1}},
		{model.E_ITS_VMOVP_PROCNUM_OOR, model.VMOVP{VPEID: 1, RDbase: 2}},
		{model.E_ITS_VSYNC_VPEID_OOR, model.VSYNC{VPEID: beyond}},
		{model.E_ITS_VINVALL_VPEID_OOR, model.VINVALL{VPEID: beyond}},
	}
	covered := map[model.ErrorCode]bool{}
	for _, c := range cases {
		covered[c.code] = true
		t.Run(c.code.String()+"/"+c.cmd.String(), func(t *testing.T) {
			v := openV(t, false)
			v.vmapp(1, 0)
			v.must(
				model.VMAPP{VPEID: 2, RDbase: 0, VPTAddr: v.vpt[2], VPTSize: 14, Valid: true},
				model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell},
				model.VMAPTI{DeviceID: 1, EventID: 3, VINTID: 1 << 15, VPEID: 1, Doorbell: model.NoDoorbell},
				model.MAPC{ICID: 0, RDbase: 0, Valid: true},
				model.MAPTI{DeviceID: 1, EventID: 2, INTID: 8192, ICID: 0},
				model.MAPD{DeviceID: 2, Size: 13, ITTAddr: v.itt(14), Valid: true},
			)
			before := v.b.ITS().State()
			if got := v.codes(c.cmd); !slices.Equal(got, []model.ErrorCode{c.code}) {
				t.Fatalf("%v: codes %v, want [%v]", c.cmd, got, c.code)
			}
			if after := v.b.ITS().State(); !statesEqual(before, after) {
				t.Errorf("failing %v changed the ITS", c.cmd)
			}
		})
	}
	for _, code := range model.ErrorCodes() {
		if isVirtualCode(code) && !covered[code] && !gicv41Code(code) { // GICv4.1's: virtual41_test.go
			t.Errorf("no test case for %v", code)
		}
	}
}

// isVirtualCode reports whether code is a GICv4 command's: its command
// byte is a V* opcode (0x20 and up).
func isVirtualCode(code model.ErrorCode) bool { return uint32(code)>>8&0xFF >= 0x20 }

// The resident fast path allocates nothing.
func TestVLPIFastPathAllocs(t *testing.T) {
	v := openV(t, false)
	v.vmapp(1, 0)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
	v.schedule(0, 1, false)
	m := v.msiOf(1, 0)
	v.msi(1, 0) // fill the cache
	if n := testing.AllocsPerRun(100, func() { _, _ = v.b.SignalMSI(m) }); n != 0 {
		t.Errorf("SignalMSI of a cached vLPI to a resident vPE allocates %v times", n)
	}
}

// GICR_TYPER says VLPIS and Dirty on a GICv4.0 simulator, not on a GICv3
// one, whose redistributors have no VLPI_base frame.
func TestGICv4Redistributor(t *testing.T) {
	v := openV(t, false)
	typer, err := v.b.ReadRedistributorRegister(0, model.GICR_TYPER)
	if err != nil || typer&(model.GICR_TYPER_VLPIS|model.GICR_TYPER_Dirty) != model.GICR_TYPER_VLPIS|model.GICR_TYPER_Dirty {
		t.Errorf("GICv4: GICR_TYPER %#x, %v", typer, err)
	}
	b3 := open(t, model.Config{})
	typer, _ = b3.b.ReadRedistributorRegister(0, model.GICR_TYPER)
	if typer&model.GICR_TYPER_VLPIS != 0 {
		t.Errorf("GICv3: GICR_TYPER %#x says VLPIS", typer)
	}
	if err := b3.b.WriteRedistributorRegister(0, model.GICR_VPENDBASER, 0); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("GICv3: GICR_VPENDBASER write: %v, want ErrInvalidArgument", err)
	}
	if _, err := b3.b.AcknowledgeVirtual(0); !errors.Is(err, model.ErrNotSupported) {
		t.Errorf("GICv3: AcknowledgeVirtual: %v, want ErrNotSupported", err)
	}
}

// Saving writes virtual ITEs in the simulator's format; restoring them is
// refused, saying why, and leaves the ITS as it was.
func TestSaveRestoreVirtual(t *testing.T) {
	v := openV(t, false)
	v.vmapp(1, 0)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: vtestDoorbell})
	if err := v.b.SaveTables(); err != nil {
		t.Fatalf("SaveTables: %v", err)
	}
	before := v.b.ITS().State()
	err := v.b.RestoreTables()
	if !errors.Is(err, model.ErrNotSupported) || !strings.Contains(err.Error(), "GICv4") {
		t.Errorf("RestoreTables over GICv4 state: %v, want ErrNotSupported naming GICv4", err)
	}
	if after := v.b.ITS().State(); !statesEqual(before, after) {
		t.Error("a refused restore changed the ITS")
	}
}

// gicv41Code reports whether code is one only a GICv4.1 ITS reports
// (TestGICv41CommandErrors covers them).
func gicv41Code(code model.ErrorCode) bool {
	switch code {
	case model.E_ITS_INVDB_VPEID_OOR, model.E_ITS_VSGI_VPEID_OOR, model.E_ITS_VMAPP_PHYSICALID_OOR, model.E_ITS_VMOVP_PHYSICALID_OOR:
		return true
	}
	return false
}
