package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const routeScenario = "../../docs/tutorial/route.its"

func TestExplainWalksToTheCPU(t *testing.T) {
	status, stdout, stderr := runArgs(t, "explain", "-script", routeScenario, "dev=0x10", "ev=1")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	for _, want := range []string{
		"translation of DeviceID 0x10 EventID 1 after " + routeScenario + "\n",
		"3. device table entry DTE[0x10]: ok\n",
		"4. interrupt translation entry ITE[1] (ITT at 0x40800000): ok\n",
		"5. collection ICID 1: ok\n",
		"8. pending state of LPI 8193 on CPU 1: ok\n",
		"probe=acknowledged first\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}

}

func TestExplainNamesTheFailingCheck(t *testing.T) {
	status, stdout, stderr := runArgs(t, "explain", "-script", routeScenario, "dev=0x11", "ev=0")
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	want := "3. device table entry DTE[0x11]: FAIL\n   at 0x40010088: 00 00 00 00 00 00 00 00 (0x0000000000000000)\n   V=0\n   check: the device is mapped (DTE valid); E_ITS_INT_UNMAPPED_DEVICE (0x010304); IHI 0069 6.3.11\n"
	if !strings.Contains(stdout, want) {
		t.Errorf("output:\n%s\nwant it to contain:\n%s", stdout, want)
	}
	status, stdout, _ = runArgs(t, "explain", "-format", "json", "-script", routeScenario, "dev=0x10", "ev=3")
	var doc struct {
		Schema  string
		Version int
		Steps   []struct {
			Verdict, Addr string
			Error         *struct{ Name, Code string }
		}
	}
	err := json.Unmarshal([]byte(stdout), &doc)
	if status != 0 || err != nil || doc.Schema != "gicits-explain" || doc.Version != 1 || len(doc.Steps) != 4 {
		t.Fatalf("json: status %d, err %v; want a gicits-explain document, version 1, of 4 steps:\n%s", status, err, stdout)
	}
	last := doc.Steps[3]
	if last.Verdict != "FAIL" || last.Addr != "0x40800018" || last.Error == nil || *last.Error != (struct{ Name, Code string }{"E_ITS_INT_UNMAPPED_INTERRUPT", "0x010307"}) {
		t.Errorf("json: the last step is %+v (error %v); want FAIL at 0x40800018 with E_ITS_INT_UNMAPPED_INTERRUPT, 0x010307:\n%s", last, last.Error, stdout)
	}
}

func TestExplainAndStateUsageErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.its")
	os.WriteFile(bad, []byte("frobnicate dev=1\n"), 0o644)
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"explain", "dev=1", "ev=1"}, 2, "-script FILE or -restore FILE is required"},
		{[]string{"explain", "-script", routeScenario, "dev=1"}, 2, "want dev=D ev=E"},
		{[]string{"explain", "-script", routeScenario, "dev=x", "ev=1"}, 2, `argument "dev=x": dev must be a 32-bit number`},
		{[]string{"explain", "-script", routeScenario, "lpi=1"}, 2, `argument "lpi=1": want dev=D ev=E`},
		{[]string{"explain", "-backend", "qemu", "-script", routeScenario, "dev=1", "ev=1"}, 2, `-backend "qemu": want one of`},
		{[]string{"state"}, 2, "-script FILE or -restore FILE is required"},
		{[]string{"state", "-script", routeScenario, "-format", "xml"}, 2, `-format "xml": want text or json`},
		{[]string{"state", "-script", "/nonexistent.its"}, 2, "nonexistent.its"},
		{[]string{"state", "-script", bad}, 5, "itsbench state: scenario: " + bad + ":1:1: want a statement"},
	} {
		status, _, stderr := runArgs(t, tc.args...)
		if status != tc.status || !strings.Contains(stderr, tc.want) {
			t.Errorf("itsbench %s: status %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), status, stderr, tc.status, tc.want)
		}
	}
}

func TestStateIsTheSameShapeInTextAndJSON(t *testing.T) {
	status, stdout, stderr := runArgs(t, "state", "-script", routeScenario)
	if status != 0 {
		t.Fatalf("status %d: %s", status, stderr)
	}
	if !strings.Contains(stdout, "  CPU 1: LPIs enabled, pending: 8193\n") || !strings.Contains(stdout, "    EventID 1 -> LPI 8193, ICID 1\n") {
		t.Errorf("state:\n%s", stdout)
	}
	status, stdout, _ = runArgs(t, "state", "-format", "json", "-script", routeScenario)
	var s struct {
		Devices []struct {
			Events []struct{ LPI int } `json:"events"`
		} `json:"devices"`
	}
	if err := json.Unmarshal([]byte(stdout), &s); status != 0 || err != nil || len(s.Devices) != 1 || len(s.Devices[0].Events) != 2 {
		t.Errorf("json: status %d, err %v:\n%s", status, err, stdout)
	}
}

func TestExplainReadsTheL1EntryOfATwoLevelTable(t *testing.T) {
	const file = "testdata/explain-indirect.its"
	_, stdout, _ := runArgs(t, "explain", "-script", file, "dev=0x2345", "ev=1")
	for _, want := range []string{
		"3. level-1 device table entry [1] (DeviceIDs 0x2000..0x3fff): ok\n",
		"4. device table entry DTE[0x2345]: ok\n",
		"10. CPU 0 interface (acknowledge now?): ok\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	_, stdout, _ = runArgs(t, "explain", "-script", file, "dev=0x5345", "ev=1")
	if want := "3. level-1 device table entry [2] (DeviceIDs 0x4000..0x5fff): FAIL\n"; !strings.Contains(stdout, want) {
		t.Errorf("output lacks %q:\n%s", want, stdout)
	}
}
