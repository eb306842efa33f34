package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// v4Scenario leaves vPE 1 scheduled on CPU 0 with vLPI 8192 pending for
// it, vPE 2 not scheduled with vLPI 8193 in its VPT and doorbell 8201
// pending on CPU 1, and event 3 mapped to vPE 3, which is not.
const v4Scenario = "testdata/explain-v4.its"

// TestStateShowsGICv4: state after a gicv4 scenario shows the vPE table,
// each CPU's GICR_VPROPBASER and GICR_VPENDBASER with the vPE scheduled
// there and its pending vLPIs, the VPT of the vPE that is not, and the
// virtual events; in JSON too.
func TestStateShowsGICv4(t *testing.T) {
	status, stdout, stderr := runArgs(t, "state", "-script", v4Scenario)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{
		"  GITS_BASER2 flat vPEs table at 0x45000000, 1 x 64 KiB page\n",
		"  CPU 0: LPIs enabled, pending: none\n    GICR_VPROPBASER 0x4410078f (table at 0x44100000, 16 INTID bits)\n" +
			"    GICR_VPENDBASER 0x8000000044000780 (Valid=1 IDAI=0 PendingLast=0): vPE 1 scheduled (VPT at 0x44000000), vLPIs pending: 8192\n",
		"  CPU 1: LPIs enabled, pending: 8201\n",
		"    GICR_VPENDBASER 0x0 (Valid=0 IDAI=0 PendingLast=0): no vPE scheduled\n",
		"vPEs (valid vPE table entries):\n" +
			"  vPEID 1: RDbase CPU 0, VPT at 0x44000000, 16 vINTID bits, scheduled on CPU 0\n" +
			"  vPEID 2: RDbase CPU 1, VPT at 0x44010000, 16 vINTID bits, not scheduled, set in its VPT: 8193\n",
		"    EventID 0 -> vpe=1 vlpi=8192 db=8200\n",
		"    EventID 2 -> vpe=2 vlpi=8194 db=none\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("state lacks %q:\n%s", want, stdout)
		}
	}
	status, stdout, _ = runArgs(t, "state", "-format", "json", "-script", v4Scenario)
	var doc struct {
		VPEs []struct {
			VPE         int  `json:"vpe"`
			ScheduledOn *int `json:"scheduled_on"`
			VPTPending  []int
		} `json:"vpes"`
		Devices []struct {
			Events []struct {
				Virtual *struct {
					VPE, VLPI int
					Doorbell  *int
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &doc); status != 0 || err != nil || len(doc.VPEs) != 2 || doc.VPEs[0].ScheduledOn == nil || doc.VPEs[1].ScheduledOn != nil ||
		len(doc.Devices) != 1 || len(doc.Devices[0].Events) != 4 || doc.Devices[0].Events[1].Virtual == nil || *doc.Devices[0].Events[1].Virtual.Doorbell != 8201 {
		t.Errorf("json: status %d, err %v:\n%s", status, err, stdout)
	}
}

// TestExplainWalksAVLPI: explain of a virtual event walks the vPE table
// and the residency of the vPE, to the virtual CPU interface or to the
// VPT and the doorbell, and names what is wrong with an unmapped vPE.
func TestExplainWalksAVLPI(t *testing.T) {
	for _, tc := range []struct {
		ev   string
		want []string
	}{
		{"ev=0", []string{
			"translation of DeviceID 0x10 EventID 0 after " + v4Scenario + "\n",
			"4. interrupt translation entry ITE[0] (ITT at 0x40800000): ok\n   at 0x40800000: 01 00 00 20 00 00 01 00 08 20 00 80 (0x0001000020000001, word 0x80002008)\n" +
				"   virtual=1 (word bit 31)  vPEID=1  vINTID=8192  Dbell_pINTID=8200  next=1\n",
			"5. vPE table (GITS_BASER2): ok\n   0x9a07000045000600\n",
			"6. vPE table entry VTE[1]: ok\n   at 0x45000008: 1f 00 11 00 00 00 00 00 (0x000000000011001f)\n   V=1  RDbase=0 (CPU 0)  VPT_addr=0x44000000  VPT_size=15 (16 vINTID bits)\n",
			"7. residency of vPE 1 on its redistributor, CPU 0 (GICR_VPENDBASER): ok\n",
			"8. vLPI 8192 for the vPE scheduled on CPU 0 (virtual CPU interface): ok\n   at 0x44100000: a3\n   Priority=0xa0  Enable=1  pending=yes\n" +
				"   delivered to the vPE scheduled on CPU 0 (pending for its virtual CPU interface): pending now; ICV_IAR1_EL1 in the vPE acknowledges it\n",
		}},
		{"ev=1", []string{
			"7. residency of vPE 2 on its redistributor, CPU 1 (GICR_VPENDBASER): info\n",
			"8. vPE 2's virtual pending table (not resident): info\n   at 0x44010400: 02\n" +
				"   VPT bit=byte 0x44010400 bit 1 = 1  Dbell_pINTID=8201  doorbell pending=yes  doorbell Priority=0xa0  doorbell Enable=1\n" +
				"   not resident: an MSI sets vINTID 8193's bit in the VPT at 0x44010000, and doorbell pINTID 8201 is made pending on CPU 1\n",
		}},
		{"ev=2", []string{
			"   not resident: an MSI sets vINTID 8194's bit in the VPT at 0x44010000; no doorbell (Dbell_pINTID 1023)",
		}},
		{"ev=3", []string{
			"6. vPE table entry VTE[3]: FAIL\n   at 0x45000018: 00 00 00 00 00 00 00 00 (0x0000000000000000)\n   V=0\n" +
				"   check: the vPE is mapped (VTE valid); E_ITS_INT_UNMAPPED_INTERRUPT (0x010307); IHI 0069 5.3.19 VMAPP (revision H)\n",
		}},
	} {
		status, stdout, stderr := runArgs(t, "explain", "-script", v4Scenario, "dev=0x10", tc.ev)
		if status != 0 {
			t.Fatalf("explain %s: status %d: %s", tc.ev, status, stderr)
		}
		for _, want := range tc.want {
			if !strings.Contains(stdout, want) {
				t.Errorf("explain %s lacks:\n%s\noutput:\n%s", tc.ev, want, stdout)
			}
		}
	}
}
