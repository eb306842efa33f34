package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// v41Setup maps vPE 1 (CPU 1, default doorbell 8250) on a GICv4.1 ITS and
// event 0 of device 0x10 to its vLPI 8192, as docs/tutorial/v41-direct.its.
const v41Setup = `gicv4 version=4.1
cpus 2
ram mib=128
vpetable flat at=0x45000000
lpi 8192..8255 prio=0xa0 enabled
enablelpis all
mapd dev=0x10 bits=4
vlpi 8192..8199 table=0x44100000 prio=0xa0 enabled
vmapp vpe=1 cpu=1 vpt=0x44000000 vconf=0x44100000 db=8250 alloc
vmapti dev=0x10 ev=0 vpe=1 vlpi=8192
`

// TestExplainGICv41: on a GICv4.1 ITS, residency is by vPEID, a resident
// vPE is signalled only with VGrp1En, and a vPE not resident has its
// default doorbell rung when its deschedule asked for it; state decodes
// the GICv4.1 register forms.
func TestExplainGICv41(t *testing.T) {
	for _, tc := range []struct {
		name, steps string
		explain     []string // in the explain text
		state       []string // in the state text
	}{{
		name:  "resident by vPEID",
		steps: "vschedule cpu=1 vpe=1 grp1\nmsi dev=0x10 ev=0\n",
		explain: []string{
			"7. residency of vPE 1 on its redistributor, CPU 1 (GICR_VPENDBASER): ok\n",
			"Valid=1  vPEID=1  VGrp0En=0  VGrp1En=1  Doorbell=0  PendingLast=0  vPE's VPT (VTE)=0x44000000",
			"resident: GICR_VPENDBASER.Valid = 1 names vPEID 1",
			"8. vLPI 8192 for the vPE scheduled on CPU 1 (virtual CPU interface): ok\n",
			"in the vPE's VCONF table (not readable)",
			"pending now; ICV_IAR1_EL1 in the vPE acknowledges it",
		},
		state: []string{
			"  GITS_TYPER GICv4.1 (VMAPP=1 nID=1 VSGI=1)\n",
			"    GICR_VPROPBASER 0x8040000045000780 (Valid=1: vPE configuration table at 0x45000000, flat, 1 x 64 KiB page)\n" +
				"    GICR_VPENDBASER 0x8400000000000001 (Valid=1 vPEID=1 VGrp0En=0 VGrp1En=1 Doorbell=0 PendingLast=0): vPE 1 scheduled (VPT at 0x44000000, from its VTE), vLPIs pending: 8192\n",
			"  vPEID 1: RDbase CPU 1, VPT at 0x44000000, 16 vINTID bits, scheduled on CPU 1, vSGIs pending: none\n",
			"VCONF table and default doorbell",
		},
	}, {
		name:  "not resident, doorbell requested",
		steps: "vschedule cpu=1 vpe=1 grp1\nvdeschedule cpu=1 db\nmsi dev=0x10 ev=0\n",
		explain: []string{
			"not resident: no vPE is scheduled on CPU 1 (GICR_VPENDBASER.Valid = 0)",
			"Dbell_pINTID=1023 (none), not used (GITS_TYPER.nID = 1)  last deschedule=CPU 1: Doorbell=1 PendingLast=0",
			"asked for the default doorbell (GICR_VPENDBASER.Doorbell = 1)",
		},
		state: []string{
			"  CPU 1: LPIs enabled, pending: 8250\n",
			"(Valid=0 vPEID=1 VGrp0En=0 VGrp1En=1 Doorbell=1 PendingLast=0): no vPE scheduled; vPE 1 was descheduled asking for its default doorbell (Doorbell)\n",
			"not scheduled, set in its VPT: 8192, vSGIs pending: none\n",
		},
	}, {
		name:  "not resident, no doorbell requested",
		steps: "vschedule cpu=1 vpe=1 grp1\nvdeschedule cpu=1\nmsi dev=0x10 ev=0\n",
		explain: []string{
			"last deschedule=CPU 1: Doorbell=0 PendingLast=0",
			"asked for no doorbell (GICR_VPENDBASER.Doorbell = 0): nothing tells the hypervisor",
		},
		state: []string{
			"  CPU 1: LPIs enabled, pending: none\n",
			"no vPE scheduled; vPE 1 was descheduled without asking for a doorbell\n",
		},
	}, {
		name:  "not resident, PendingLast",
		steps: "vschedule cpu=1 vpe=1 grp1\nmsi dev=0x10 ev=0\nvdeschedule cpu=1 db\n",
		explain: []string{
			"last deschedule=CPU 1: Doorbell=0 PendingLast=1",
			"found an enabled interrupt pending (PendingLast = 1), so no default doorbell is armed",
		},
		state: []string{"vPE 1 was descheduled with an enabled interrupt pending (PendingLast): no default doorbell armed\n"},
	}, {
		name:  "group 1 disabled",
		steps: "vschedule cpu=1 vpe=1 grp0\nmsi dev=0x10 ev=0\n",
		explain: []string{
			"8. vLPI 8192 for the vPE scheduled on CPU 1 (virtual CPU interface): warn\n",
			"check: GICR_VPENDBASER.VGrp1En = 1 (a vLPI is group 1)",
			"VGrp1En = 0: the vLPI can become pending but is not signalled",
		},
		state: []string{"vPE 1 scheduled (VPT at 0x44000000, from its VTE), vLPIs not signalled (VGrp1En=0), vLPIs pending: 8192\n"},
	}, {
		name:  "scheduled elsewhere",
		steps: "vschedule cpu=0 vpe=1 grp1\nmsi dev=0x10 ev=0\n",
		explain: []string{
			"not resident here: vPE 1 is scheduled on CPU 0, but the ITS delivers its vLPIs to CPU 1 (RDbase)",
			"default doorbell=not armed (resident elsewhere)",
		},
		state: []string{"  vPEID 1: RDbase CPU 1, VPT at 0x44000000, 16 vINTID bits, scheduled on CPU 0, vSGIs pending: none\n"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v41.its")
			if err := os.WriteFile(path, []byte(v41Setup+tc.steps), 0o644); err != nil {
				t.Fatal(err)
			}
			status, stdout, stderr := runArgs(t, "explain", "-script", path, "dev=0x10", "ev=0")
			if status != 0 {
				t.Fatalf("explain: status %d: %s", status, stderr)
			}
			for _, want := range tc.explain {
				if !strings.Contains(stdout, want) {
					t.Errorf("explain lacks %q:\n%s", want, stdout)
				}
			}
			if strings.Contains(stdout, "VPT at 0x0") {
				t.Errorf("explain reads GICR_VPENDBASER as the GICv4.0 form:\n%s", stdout)
			}
			status, stdout, stderr = runArgs(t, "state", "-script", path)
			if status != 0 {
				t.Fatalf("state: status %d: %s", status, stderr)
			}
			for _, want := range tc.state {
				if !strings.Contains(stdout, want) {
					t.Errorf("state lacks %q:\n%s", want, stdout)
				}
			}
		})
	}
}

// TestStateJSONGICv41: the GICv4.1 fields of the state document
// (docs/json.md): its.gicv41, redistributors[].virtual.v41 and
// vpes[].vsgi_pending.
func TestStateJSONGICv41(t *testing.T) {
	status, stdout, stderr := runArgs(t, "state", "-format", "json", "-script", "../../docs/tutorial/v41-direct.its")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	var doc struct {
		ITS struct {
			GICv41 *struct{ NID, VSGI bool } `json:"gicv41"`
		} `json:"its"`
		Redistributors []struct {
			Virtual struct {
				VPEs []int  `json:"vpes"`
				VPT  string `json:"vpt"`
				V41  *struct {
					VPEConfigTable struct{ Addr string } `json:"vpe_config_table"`
					VPEID          int                   `json:"vpeid"`
					VGrp1En        bool                  `json:"vgrp1en"`
				} `json:"v41"`
			} `json:"virtual"`
		} `json:"redistributors"`
		VPEs []struct {
			ScheduledOn *int   `json:"scheduled_on"`
			VSGIPending *[]int `json:"vsgi_pending"`
		} `json:"vpes"`
	}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	r := doc.Redistributors[1].Virtual
	if doc.ITS.GICv41 == nil || !doc.ITS.GICv41.NID || r.V41 == nil || r.V41.VPEID != 1 || !r.V41.VGrp1En || r.V41.VPEConfigTable.Addr != "0x45000000" ||
		len(r.VPEs) != 1 || r.VPT != "0x44000000" || len(doc.VPEs) != 1 || doc.VPEs[0].ScheduledOn == nil || doc.VPEs[0].VSGIPending == nil {
		t.Errorf("GICv4.1 fields wrong:\n%s", stdout)
	}
}
