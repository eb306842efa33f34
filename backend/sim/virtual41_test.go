package sim_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/gicits/gicits/model"
)

// v41env is a GICv4.1 simulator: venv's set-up (two CPUs, device 1, two
// VPTs, physical LPIs 8192..8299 enabled at 0xA0), with the vLPI
// configuration table vconf 64 KiB aligned (VMAPP's VCONF_addr) holding
// vINTIDs 8192..8299 enabled at 0xA0, and a vPE configuration table for
// every redistributor's GICR_VPROPBASER.
type v41env struct {
	*venv
	vconf model.GPA
}

func openV41(t *testing.T, typer model.ITSTyper) *v41env {
	t.Helper()
	e := open(t, model.Config{CPUs: 2, ITSTyper: typer})
	v := &v41env{venv: &venv{env: e}}
	e.enable(0, 1)
	e.config(0xA0, true, idRange(8192, 8300)...)
	for i := 1; i <= 2; i++ {
		a, err := e.alloc.Alloc(8<<10, 64<<10)
		if err != nil {
			t.Fatal(err)
		}
		v.vpt[i] = a
	}
	a, err := e.alloc.Alloc(64<<10, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	v.vconf = a
	v.vcfg(0xA0, true, idRange(8192, 8300)...)
	table, err := e.alloc.Alloc(64<<10, 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	prop, err := model.MakeVPropBaser41(table, model.PageSize64K, 1, false, true)
	if err != nil {
		t.Fatal(err)
	}
	for cpu := range model.CPU(2) {
		if err := e.b.WriteRedistributorRegister(cpu, model.GICR_VPROPBASER, uint64(prop)); err != nil {
			t.Fatal(err)
		}
	}
	e.must(model.MAPD{DeviceID: 1, Size: 2, ITTAddr: e.itt(3), Valid: true})
	return v
}

func (v *v41env) vcfg(prio uint8, enabled bool, vintids ...model.INTID) {
	v.t.Helper()
	for _, id := range vintids {
		if err := v.b.Memory().WriteAt([]byte{byte(model.MakeLPIConfig(prio, enabled))}, v.vconf+model.GPA(id-model.LPIBase)); err != nil {
			v.t.Fatal(err)
		}
	}
}

// vmapp41 maps vPE vpe to cpu with the GICv4.1 fields: vconf, default
// doorbell db, Alloc and PTZ as given.
func (v *v41env) vmapp41(vpe model.VPEID, cpu model.CPU, db model.INTID, ptz bool) {
	v.t.Helper()
	v.must(model.VMAPP{VPEID: vpe, RDbase: uint64(cpu), VPTAddr: v.vpt[vpe], VPTSize: 15, Valid: true, Alloc: true, PTZ: ptz, VCONFAddr: v.vconf, DefaultDoorbell: db})
}

func (v *v41env) writeRD(cpu model.CPU, reg model.GICRRegister, val uint64) error {
	return v.b.WriteRedistributorRegister(cpu, reg, val)
}

func (v *v41env) readRD(cpu model.CPU, reg model.GICRRegister) uint64 {
	v.t.Helper()
	r, err := v.b.ReadRedistributorRegister(cpu, reg)
	if err != nil {
		v.t.Fatal(err)
	}
	return r
}

func (v *v41env) schedule41(cpu model.CPU, vpe model.VPEID, grp0, grp1 bool) {
	v.t.Helper()
	if err := v.writeRD(cpu, model.GICR_VPENDBASER, uint64(model.MakeVPendBaser41(vpe, true, grp0, grp1, false))); err != nil {
		v.t.Fatal(err)
	}
}

// deschedule41 clears Valid, asking for the doorbell (and writing
// PendingLast) as given, and returns GICR_VPENDBASER as it reads after.
func (v *v41env) deschedule41(cpu model.CPU, db, pendingLast bool) model.VPendBaser41 {
	v.t.Helper()
	w := uint64(model.MakeVPendBaser41(0, false, false, false, db))
	if pendingLast {
		w |= model.GICR_VPENDBASER_PendingLast
	}
	if err := v.writeRD(cpu, model.GICR_VPENDBASER, w); err != nil {
		v.t.Fatal(err)
	}
	return model.VPendBaser41(v.readRD(cpu, model.GICR_VPENDBASER))
}

func (v *v41env) sgir(vpe model.VPEID, sgi uint8) {
	v.t.Helper()
	val, err := model.MakeITSSGIR(vpe, sgi)
	if err != nil {
		v.t.Fatal(err)
	}
	if err := v.b.WriteITSRegister(model.GITS_SGIR, val); err != nil {
		v.t.Fatal(err)
	}
}

// vsgiPending reads vPE vpe's pending vSGIs as a hypervisor does, through
// cpu's GICR_VSGIR and GICR_VSGIPENDR.
func (v *v41env) vsgiPending(cpu model.CPU, vpe model.VPEID) uint64 {
	v.t.Helper()
	if err := v.writeRD(cpu, model.GICR_VSGIR, uint64(vpe)); err != nil {
		v.t.Fatal(err)
	}
	r := v.readRD(cpu, model.GICR_VSGIPENDR)
	if r&model.GICR_VSGIPENDR_Busy != 0 {
		v.t.Fatalf("GICR_VSGIPENDR %#x: Busy in the untimed model", r)
	}
	return r & 0xFFFF
}

// The identification registers of a GICv4.1 model, and of a GICv4.0 one
// for contrast.
func TestGICv41Registers(t *testing.T) {
	for _, tc := range []struct {
		name           string
		typer          model.ITSTyper
		rvpeid, typer2 uint64
	}{
		{"4.1", model.GICv41ITSTyper, model.GICR_TYPER_RVPEID | model.GICR_TYPER_VSGI, 0x8F},
		{"4.0", model.GICv4ITSTyper, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := open(t, model.Config{CPUs: 2, ITSTyper: tc.typer})
			typer, err := e.b.ReadRedistributorRegister(1, model.GICR_TYPER)
			if err != nil || typer&(model.GICR_TYPER_RVPEID|model.GICR_TYPER_VSGI) != tc.rvpeid || typer&model.GICR_TYPER_VLPIS == 0 {
				t.Errorf("GICR_TYPER = %#x, %v; want RVPEID|VSGI = %#x and VLPIS", typer, err, tc.rvpeid)
			}
			if its, _ := e.b.ReadITSRegister(model.GITS_TYPER); its != uint64(tc.typer) {
				t.Errorf("GITS_TYPER = %#x, want %#x", its, uint64(tc.typer))
			}
			var d model.DistributorRegisters = e.b
			if v, err := d.ReadDistributorRegister(model.GICD_TYPER2); err != nil || v != tc.typer2 {
				t.Errorf("GICD_TYPER2 = %#x, %v; want %#x", v, err, tc.typer2)
			}
			for _, bad := range []model.GICDRegister{0x10000, 0xE} {
				if _, err := d.ReadDistributorRegister(bad); !errors.Is(err, model.ErrInvalidArgument) {
					t.Errorf("GICD+%#x: error %v, want ErrInvalidArgument", uint32(bad), err)
				}
			}
			val, _ := model.MakeITSSGIR(1, 1)
			err = e.b.WriteITSRegister(model.GITS_SGIR, val)
			if want := tc.name == "4.0"; errors.Is(err, model.ErrInvalidArgument) != want {
				t.Errorf("GITS_SGIR write: %v (refused: want %v)", err, want)
			}
		})
	}
}

// GICv4.1 residency: GICR_VPENDBASER names a vPEID that VMAPP mapped; the
// vLPI configuration comes from VMAPP's VCONF_addr; VGrp1En gates
// signalling but not pending state.
func TestGICv41ResidencyByVPEID(t *testing.T) {
	v := openV41(t, model.GICv41ITSTyper)
	if err := v.writeRD(0, model.GICR_VPENDBASER, uint64(model.MakeVPendBaser41(1, true, false, true, false))); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("scheduling vPEID 1 before its VMAPP: %v, want ErrInvalidArgument", err)
	}
	v.vmapp41(1, 0, model.NoDoorbell, false)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
	v.schedule41(0, 1, false, true)
	if got := model.VPendBaser41(v.readRD(0, model.GICR_VPENDBASER)); !got.Valid() || got.VPEID() != 1 || !got.VGrp1En() {
		t.Errorf("GICR_VPENDBASER = %#x after scheduling vPE 1", uint64(got))
	}
	v.msi(1, 0)
	if got := v.vpending(0); !slices.Equal(got, []model.INTID{8200}) {
		t.Fatalf("vpending %v, want [8200]", got)
	}
	if got := v.vack(0); got != 8200 {
		t.Fatalf("vack = %d, want 8200", got)
	}
	// Group 1 disabled: pending, not signalled; PendingLast says so.
	v.deschedule41(0, false, false)
	v.schedule41(0, 1, true, false)
	v.msi(1, 0)
	if got := v.vack(0); got != model.SpuriousINTID {
		t.Errorf("vack with VGrp1En = 0: %d, want spurious", got)
	}
	if got := v.vpending(0); !slices.Equal(got, []model.INTID{8200}) {
		t.Errorf("vpending with VGrp1En = 0: %v, want [8200]", got)
	}
	if got := v.deschedule41(0, false, false); !got.PendingLast() || got.Valid() {
		t.Errorf("GICR_VPENDBASER after deschedule = %#x: want PendingLast", uint64(got))
	}
	// The VPROPBASER of the 4.1 form must be valid to schedule.
	if err := v.writeRD(1, model.GICR_VPROPBASER, 0); err != nil {
		t.Fatal(err)
	}
	if err := v.writeRD(1, model.GICR_VPENDBASER, uint64(model.MakeVPendBaser41(1, true, false, true, false))); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("scheduling with GICR_VPROPBASER.Valid = 0: %v, want ErrInvalidArgument", err)
	}
	// Unmapped with Alloc (the last ITS): no redistributor finds it.
	v.must(model.VMAPP{VPEID: 1, Valid: false, Alloc: true})
	if err := v.writeRD(0, model.GICR_VPENDBASER, uint64(model.MakeVPendBaser41(1, true, false, true, false))); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("scheduling vPEID 1 after VMAPP V=0 Alloc=1: %v, want ErrInvalidArgument", err)
	}
}

// The default doorbell rings once for the first enabled vLPI after a
// deschedule that asked for it, unless the vPE had enabled pending
// interrupts (PendingLast) or PendingLast was written as 1. Per-event
// doorbells ring only without GITS_TYPER.nID.
func TestGICv41DefaultDoorbell(t *testing.T) {
	const db, perEvent = model.INTID(8250), model.INTID(8251)
	for _, tc := range []struct {
		name                  string
		typer                 model.ITSTyper
		askDB, writePL        bool
		pendingAtDesch        bool
		disabledFirst         bool
		wantPL                bool
		wantFirst, wantSecond []model.INTID // physical pending on CPU 0 after the first vLPI; after a second one
	}{
		{"requested", model.GICv41ITSTyper, true, false, false, false, false, []model.INTID{db}, nil},
		{"not requested", model.GICv41ITSTyper, false, false, false, false, false, nil, nil},
		{"pending at deschedule", model.GICv41ITSTyper, true, false, true, false, true, nil, nil},
		{"PendingLast written", model.GICv41ITSTyper, true, true, false, false, false, nil, nil},
		{"disabled vLPI first", model.GICv41ITSTyper, true, false, false, true, false, []model.INTID{db}, nil},
		{"individual doorbells", model.GICv41ITSTyper &^ model.ITSTyper(model.GITS_TYPER_nID), false, false, false, false, false, []model.INTID{perEvent}, []model.INTID{perEvent}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := openV41(t, tc.typer)
			v.vcfg(0xA0, false, 8210)
			v.vmapp41(1, 0, db, false)
			v.must(
				model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: perEvent},
				model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8201, VPEID: 1, Doorbell: perEvent},
				model.VMAPTI{DeviceID: 1, EventID: 2, VINTID: 8210, VPEID: 1, Doorbell: model.NoDoorbell},
			)
			v.schedule41(0, 1, false, true)
			if tc.pendingAtDesch {
				v.msi(1, 1)
			}
			if got := v.deschedule41(0, tc.askDB, tc.writePL); got.PendingLast() != tc.wantPL {
				t.Fatalf("PendingLast = %v, want %v", got.PendingLast(), tc.wantPL)
			}
			if tc.disabledFirst {
				v.msi(1, 2)
			}
			v.msi(1, 0)
			if got := v.pending(0); !slices.Equal(got, tc.wantFirst) {
				t.Fatalf("physical pending after the first vLPI: %v, want %v", got, tc.wantFirst)
			}
			for _, id := range tc.wantFirst {
				if got := v.ack(0); got != id {
					t.Fatalf("ack = %d, want %d", got, id)
				}
			}
			v.must(model.CLEAR{DeviceID: 1, EventID: 0})
			v.msi(1, 0)
			if got := v.pending(0); !slices.Equal(got, tc.wantSecond) {
				t.Errorf("physical pending after a second vLPI: %v, want %v (the default doorbell rings once)", got, tc.wantSecond)
			}
			if !v.vptBit(1, 8200) {
				t.Error("the vLPI is not in the VPT")
			}
		})
	}
}

// PTZ with Alloc: the VPT is known zero and is not read at the first
// scheduling; without PTZ a bit already in it is pending. The vLPI
// configuration is VCONF_addr's table, whatever the GICv4.0 table says.
func TestGICv41PTZAndVCONF(t *testing.T) {
	for _, ptz := range []bool{false, true} {
		v := openV41(t, model.GICv41ITSTyper)
		if err := v.b.Memory().WriteAt([]byte{1 << (8201 % 8)}, v.vpt[1]+8201/8); err != nil {
			t.Fatal(err)
		}
		v.vmapp41(1, 0, model.NoDoorbell, ptz)
		v.must(model.VMAPTI{DeviceID: 1, EventID: 1, VINTID: 8201, VPEID: 1, Doorbell: model.NoDoorbell})
		v.schedule41(0, 1, false, true)
		got := v.vpending(0)
		if want := !ptz; slices.Contains(got, 8201) != want {
			t.Errorf("PTZ=%v: vpending %v; want 8201 pending %v", ptz, got, want)
		}
	}
	v := openV41(t, model.GICv41ITSTyper)
	v.vcfg(0xA0, false, 8202)
	v.vmapp41(1, 0, model.NoDoorbell, false)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 2, VINTID: 8202, VPEID: 1, Doorbell: model.NoDoorbell})
	v.schedule41(0, 1, false, true)
	v.msi(1, 2)
	if got := v.vack(0); got != model.SpuriousINTID {
		t.Errorf("vack of a vLPI VCONF_addr disables: %d", got)
	}
}

// INVDB makes the redistributors read the default doorbell's
// configuration again: disabled behind their back, the doorbell is still
// taken until INVDB.
func TestGICv41INVDB(t *testing.T) {
	const db = model.INTID(8250)
	for _, invdb := range []bool{false, true} {
		v := openV41(t, model.GICv41ITSTyper)
		v.vmapp41(1, 0, db, false)
		v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
		ring := func() {
			v.schedule41(0, 1, false, true)
			v.must(model.CLEAR{DeviceID: 1, EventID: 0}) // nothing pending: the doorbell stays requested
			v.deschedule41(0, true, false)
			v.msi(1, 0)
		}
		ring()
		if got := v.ack(0); got != db {
			t.Fatalf("ack = %d, want the doorbell %d", got, db)
		}
		prop, err := v.b.Layout().PropBaser()
		if err != nil {
			t.Fatal(err)
		}
		if err := v.b.Memory().WriteAt([]byte{byte(model.MakeLPIConfig(0xA0, false))}, prop.Addr()+model.GPA(db-model.LPIBase)); err != nil {
			t.Fatal(err)
		}
		if invdb {
			v.must(model.INVDB{VPEID: 1})
		}
		ring()
		want := db
		if invdb {
			want = model.SpuriousINTID
		}
		if got := v.ack(0); got != want {
			t.Errorf("INVDB %v: ack = %d, want %d", invdb, got, want)
		}
	}
}

// vSGIs: VSGI configures (Clear 0, pending kept) or clears (Clear 1,
// configuration kept); GITS_SGIR makes one pending; they compete with
// vLPIs by priority (lower vINTID first among equals), Group 0 ones and
// those of a vPE with VGrp1En = 0 are not taken by ICV_IAR1_EL1; GICR_VSGIR
// then GICR_VSGIPENDR reads the pending ones of any vPE.
func TestGICv41VSGI(t *testing.T) {
	v := openV41(t, model.GICv41ITSTyper)
	v.vmapp41(1, 0, 8250, false)
	v.must(
		model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell},
		model.VSGI{VPEID: 1, VINTID: 3, Priority: 0x80, Group: true, Enable: true},
		model.VSGI{VPEID: 1, VINTID: 5, Priority: 0xA0, Group: true, Enable: true},
		model.VSGI{VPEID: 1, VINTID: 6, Priority: 0x10, Group: false, Enable: true},
	)
	v.schedule41(0, 1, true, true)
	v.msi(1, 0)
	v.sgir(1, 5)
	v.sgir(1, 3)
	v.sgir(1, 6)
	if got := v.vpending(0); !slices.Equal(got, []model.INTID{3, 5, 6, 8200}) {
		t.Fatalf("vpending %v, want [3 5 6 8200]", got)
	}
	if got := v.vsgiPending(1, 1); got != 1<<3|1<<5|1<<6 {
		t.Errorf("GICR_VSGIPENDR = %#x, want 0x68", got)
	}
	for _, want := range []model.INTID{3, 5, 8200, model.SpuriousINTID} {
		if got := v.vack(0); got != want {
			t.Fatalf("vack = %d, want %d (vSGI 6 is Group 0: not ICV_IAR1_EL1's)", got, want)
		}
	}
	// Clear 1: pending cleared, configuration kept.
	v.must(model.VSGI{VPEID: 1, VINTID: 6, Clear: true})
	if got := v.vsgiPending(0, 1); got != 0 {
		t.Errorf("GICR_VSGIPENDR after VSGI Clear = %#x, want 0", got)
	}
	v.sgir(1, 3)
	// Clear 0, Enable 0: configuration written, pending kept.
	v.must(model.VSGI{VPEID: 1, VINTID: 3, Priority: 0x80, Group: true, Enable: false})
	if got := v.vsgiPending(0, 1); got != 1<<3 {
		t.Errorf("GICR_VSGIPENDR after a VSGI configuration write = %#x, want 0x8", got)
	}
	if got := v.vack(0); got != model.SpuriousINTID {
		t.Errorf("vack of a disabled vSGI: %d", got)
	}
	v.must(model.VSGI{VPEID: 1, VINTID: 3, Priority: 0x80, Group: true, Enable: true})
	if got := v.vack(0); got != 3 {
		t.Errorf("vack after enabling vSGI 3: %d, want 3", got)
	}
	// Not resident: the vSGI waits in the vPE's record, and rings the
	// default doorbell when it was asked for.
	v.deschedule41(0, true, false)
	v.sgir(1, 5)
	if got := v.vsgiPending(1, 1); got != 1<<5 {
		t.Errorf("GICR_VSGIPENDR of a descheduled vPE = %#x, want 0x20", got)
	}
	if got := v.pending(0); !slices.Equal(got, []model.INTID{8250}) {
		t.Errorf("physical pending after a vSGI to a descheduled vPE: %v, want the doorbell", got)
	}
	v.schedule41(1, 1, false, true)
	if got := v.vack(1); got != 5 {
		t.Errorf("vack on CPU 1 after scheduling there: %d, want vSGI 5", got)
	}
	// Unknown vPEIDs read nothing; GITS_SGIR to an unmapped vPE is ignored.
	v.sgir(2, 1)
	if got := v.vsgiPending(0, 2); got != 0 {
		t.Errorf("GICR_VSGIPENDR of unmapped vPE 2 = %#x", got)
	}
}

// GICR_INVLPIR and GICR_INVALLR with V name a vPE: its vLPI configuration
// is read again from VCONF_addr's table.
func TestGICv41RegisterInvalidation(t *testing.T) {
	for _, reg := range []model.GICRRegister{model.GICR_INVLPIR, model.GICR_INVALLR} {
		t.Run(reg.String(), func(t *testing.T) {
			v := openV41(t, model.GICv41ITSTyper)
			v.vcfg(0xA0, false, 8200)
			v.vmapp41(1, 1, model.NoDoorbell, false)
			v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
			v.schedule41(1, 1, false, true)
			v.msi(1, 0)
			v.vcfg(0x90, true, 8200)
			if got := v.vack(1); got != model.SpuriousINTID {
				t.Fatalf("vack before the invalidation = %d: the configuration was re-read unasked", got)
			}
			val := model.MakeInvVLPIR(1, 8200)
			if reg == model.GICR_INVALLR {
				val = model.MakeInvVLPIR(1, 0)
			}
			if err := v.writeRD(0, reg, model.MakeInvVLPIR(2, 8200)); err != nil { // another vPE: nothing
				t.Fatal(err)
			}
			if got := v.vack(1); got != model.SpuriousINTID {
				t.Fatalf("vack after invalidating another vPE = %d", got)
			}
			if err := v.writeRD(0, reg, val); err != nil {
				t.Fatal(err)
			}
			if got := v.vack(1); got != 8200 {
				t.Errorf("vack after %v V=1 = %d, want 8200", reg, got)
			}
		})
	}
}

// The GICv4.1 commands' errors, and their absence on a GICv4.0 ITS,
// which refuses them as unknown.
func TestGICv41CommandErrors(t *testing.T) {
	const beyond = model.VPEID(8192)
	for _, tc := range []struct {
		code model.ErrorCode
		cmd  model.Command
	}{
		{model.E_ITS_INVDB_VPEID_OOR, model.INVDB{VPEID: beyond}},
		{model.E_ITS_VSGI_VPEID_OOR, model.VSGI{VPEID: beyond, VINTID: 1, Enable: true}},
		{model.E_ITS_VMAPP_PHYSICALID_OOR, model.VMAPP{VPEID: 3, VPTAddr: 0x4100_0000, VPTSize: 15, Valid: true, Alloc: true, DefaultDoorbell: 100}},
		{model.E_ITS_VMOVP_PHYSICALID_OOR, model.VMOVP{VPEID: 1, RDbase: 1, DB: true, DefaultDoorbell: 100}},
	} {
		v := openV41(t, model.GICv41ITSTyper)
		before := v.b.ITS().State()
		if got := v.codes(tc.cmd); !slices.Equal(got, []model.ErrorCode{tc.code}) {
			t.Errorf("%v: codes %v, want [%v]", tc.cmd, got, tc.code)
		}
		if after := v.b.ITS().State(); !statesEqual(before, after) {
			t.Errorf("failing %v changed the ITS", tc.cmd)
		}
	}
	v := openV(t, false)
	if err := model.SubmitCommands(v.b, model.INVDB{VPEID: 1}); err == nil {
		t.Error("INVDB on a GICv4.0 ITS: no error")
	}
}

// VMOVP with DB (GICv4.1) moves the vPE and replaces its default
// doorbell: the next vLPI for it, not scheduled, rings the new doorbell
// on the new redistributor.
func TestGICv41VMOVPDefaultDoorbell(t *testing.T) {
	v := openV41(t, model.GICv41ITSTyper)
	v.vmapp41(1, 0, 8250, false)
	v.must(model.VMAPTI{DeviceID: 1, EventID: 0, VINTID: 8200, VPEID: 1, Doorbell: model.NoDoorbell})
	v.schedule41(0, 1, false, true)
	v.deschedule41(0, true, false)
	v.must(model.VMOVP{VPEID: 1, RDbase: 1, DB: true, DefaultDoorbell: 8252})
	v.msi(1, 0)
	if got := v.pending(1); !slices.Equal(got, []model.INTID{8252}) {
		t.Errorf("CPU 1 pending %v, want the new default doorbell 8252", got)
	}
	if got := v.pending(0); len(got) != 0 {
		t.Errorf("CPU 0 pending %v: the old doorbell rang, or on the old redistributor", got)
	}
}
