package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// itsesScenario has two ITSes: one DeviceID on both is two devices, and
// ITS 1 discarded the event both map to LPI 8199.
const itsesScenario = "../../testdata/conformance/itses-shared-lpis.its"

// itsesStateJSON is what state -format json writes after itsesScenario.
const itsesStateJSON = "testdata/itses-shared-lpis.state.json"

// TestStateSeveralITSes: state shows every ITS, each under its own
// heading with its registers, collections and devices, and what they
// share once.
func TestStateSeveralITSes(t *testing.T) {
	const want = `ITS 0 (frames at 0x8080000): enabled, CREADR 0x80, CWRITER 0x80
  GITS_CBASER 0xb80000004000040f (queue at 0x40000000, 16 pages)
  GITS_BASER0 flat devices table at 0x40010000, 8 x 64 KiB pages
  GITS_BASER1 flat collections table at 0x40090000, 1 x 64 KiB page
  collections:
    ICID 0 -> CPU 0
  devices:
    DeviceID 0x10: ITT at 0x40800000, 2 EventID bits, 2 events mapped
      EventID 0 -> LPI 8192, ICID 0
      EventID 1 -> LPI 8199, ICID 0
ITS 1 (frames at 0x8500000): enabled, CREADR 0xa0, CWRITER 0xa0
  GITS_CBASER 0xb800000043f6040f (queue at 0x43f60000, 16 pages)
  GITS_BASER0 flat devices table at 0x43f70000, 8 x 64 KiB pages
  GITS_BASER1 flat collections table at 0x43ff0000, 1 x 64 KiB page
  collections:
    ICID 0 -> CPU 1
  devices:
    DeviceID 0x10: ITT at 0x40800100, 2 EventID bits, 1 event mapped
      EventID 0 -> LPI 8193, ICID 0
redistributors (shared by ITSes 0..1):
  GICR_PROPBASER table at 0x40100000, 16 INTID bits
  CPU 0: LPIs enabled, pending: 8199
  CPU 1: LPIs enabled, pending: none
LPI configuration (non-zero bytes of the property table):
  8192..8199 prio=0xa0 enabled
`
	status, got, stderr := runArgs(t, "state", "-script", itsesScenario)
	if status != 0 || got != want {
		t.Errorf("state -script %s: status %d, stderr %q:\n%s\nwant:\n%s", itsesScenario, status, stderr, got, want)
	}

	status, got, stderr = runArgs(t, "state", "-format", "json", "-script", itsesScenario)
	golden, err := os.ReadFile(itsesStateJSON)
	if status != 0 || err != nil || got != string(golden) {
		t.Errorf("state -format json: status %d, stderr %q, %v; it differs from %s; if the simulator changed on purpose, regenerate it in cmd/itsbench with\n\tgo run . state -format json -script %s >%[4]s\ngot:\n%s", status, stderr, err, itsesStateJSON, itsesScenario, got)
	}
	var doc struct {
		ITS     any
		Devices any
		ITSes   []struct {
			Index            int
			Frames, Doorbell string
			ITS              any
			Devices          any
		}
	}
	if err := json.Unmarshal([]byte(got), &doc); err != nil || len(doc.ITSes) != 2 {
		t.Fatalf("state -format json: %v, %d ITSes; want 2", err, len(doc.ITSes))
	}
	// The fields of one ITS are ITS 0's, for readers of one-ITS documents.
	if i := doc.ITSes[0]; !reflect.DeepEqual(i.ITS, doc.ITS) || !reflect.DeepEqual(i.Devices, doc.Devices) {
		t.Errorf("its and devices are not itses[0]'s:\n%v\n%v", doc.ITS, i.ITS)
	}
	for i, want := range [][2]string{{"0x8080000", "0x8090040"}, {"0x8500000", "0x8510040"}} {
		if e := doc.ITSes[i]; e.Index != i || e.Frames != want[0] || e.Doorbell != want[1] {
			t.Errorf("itses[%d] is ITS %d, frames %s, doorbell %s; want ITS %d, %s, %s", i, e.Index, e.Frames, e.Doorbell, i, want[0], want[1])
		}
	}
}

// TestStateOneITSHasNoITSes: the document of a machine with one ITS has
// no itses, as before there were several.
func TestStateOneITSHasNoITSes(t *testing.T) {
	status, got, stderr := runArgs(t, "state", "-format", "json", "-script", routeScenario)
	if status != 0 || strings.Contains(got, `"itses"`) || strings.Contains(got, "doorbell") {
		t.Errorf("status %d, stderr %q; want no itses:\n%s", status, stderr, got)
	}
	status, got, _ = runArgs(t, "explain", "-format", "json", "-script", routeScenario, "dev=0x10", "ev=1")
	if status != 0 || strings.Contains(got, `"its"`) || strings.Contains(got, "doorbell") {
		t.Errorf("explain: status %d; want no its nor doorbell:\n%s", status, got)
	}
}

// TestExplainITS: -its N walks ITS N's tables (the same DeviceID is
// another device there) and names its doorbell.
func TestExplainITS(t *testing.T) {
	for _, tc := range []struct {
		its  string
		want []string
	}{
		{"0", []string{
			"translation of DeviceID 0x10 EventID 0 by ITS 0 (MSI doorbell GITS_TRANSLATER at 0x8090040) after " + itsesScenario + "\n",
			"   Valid=1  Type=devices  Indirect=0  Entry_Size=8  Page_Size=64 KiB  Size=8 pages  Physical_Address=0x40010000\n",
			"   pINTID=8192  ICID=0  next=1\n",
			"6. target redistributor CPU 0: ok\n",
		}},
		{"1", []string{
			"translation of DeviceID 0x10 EventID 0 by ITS 1 (MSI doorbell GITS_TRANSLATER at 0x8510040) after " + itsesScenario + "\n",
			"   Valid=1  Type=devices  Indirect=0  Entry_Size=8  Page_Size=64 KiB  Size=8 pages  Physical_Address=0x43f70000\n",
			"3. device table entry DTE[0x10]: ok\n   at 0x43f70080: ",
			"4. interrupt translation entry ITE[0] (ITT at 0x40800100): ok\n",
			"   pINTID=8193  ICID=0  next=0\n",
			"5. collection ICID 0: ok\n   at 0x43ff0000: ",
			"6. target redistributor CPU 1: ok\n",
		}},
	} {
		status, got, stderr := runArgs(t, "explain", "-probe=false", "-its", tc.its, "-script", itsesScenario, "dev=0x10", "ev=0")
		if status != 0 {
			t.Fatalf("-its %s: status %d: %s", tc.its, status, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("-its %s: output lacks %q:\n%s", tc.its, w, got)
			}
		}
	}
	// ITS 1 discarded event 1: its walk fails where ITS 0's goes on.
	_, got, _ := runArgs(t, "explain", "-its", "1", "-script", itsesScenario, "dev=0x10", "ev=1")
	if !strings.Contains(got, "4. interrupt translation entry ITE[1] (ITT at 0x40800100): FAIL\n") {
		t.Errorf("-its 1 ev=1: want the ITE to fail (ITS 1 discarded it):\n%s", got)
	}
	status, got, stderr := runArgs(t, "explain", "-format", "json", "-its", "1", "-script", itsesScenario, "dev=0x10", "ev=0")
	var doc struct {
		ITS      *int
		Doorbell string
		Steps    []struct{ Step, Value string }
	}
	if err := json.Unmarshal([]byte(got), &doc); status != 0 || err != nil || doc.ITS == nil || *doc.ITS != 1 || doc.Doorbell != "0x8510040" || len(doc.Steps) < 2 || doc.Steps[1].Value != "0x9907000043f70607" {
		t.Errorf("json: status %d, %v, stderr %q; want its 1, doorbell 0x8510040, ITS 1's GITS_BASER0:\n%s", status, err, stderr, got)
	}
}

// TestStateSaveRefusesSeveralITSes: a saved-state file holds one ITS, so
// -save on several is refused, and a file already there is kept.
func TestStateSaveRefusesSeveralITSes(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vm.state")
	if err := os.WriteFile(file, []byte("kept"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, stdout, stderr := runArgs(t, "state", "-script", itsesScenario, "-save", file)
	if status != 2 || stdout != "" || !strings.Contains(stderr, "the machine has 2 ITSes and a saved-state file holds one") {
		t.Errorf("status %d, stdout %q, stderr %q; want 2, nothing shown, the refusal", status, stdout, stderr)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "kept" {
		t.Errorf("-save changed %s: %q, %v", file, b, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(m) > 0 {
		t.Errorf("-save left %v behind", m)
	}
}
