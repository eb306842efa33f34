package replay

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// replaySim replays tr on a fresh simulator with the CPUs tr needs.
func replaySim(t *testing.T, tr *Trace) *Report {
	t.Helper()
	b, err := model.Open("sim", BackendConfig(tr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rep, err := Run(tr, b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// edited returns testdata file name with some lines (numbered from 1)
// replaced, parsed.
func edited(t *testing.T, name string, lines map[int]func(string) string) *Trace {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Split(string(b), "\n")
	for n, edit := range lines {
		was := all[n-1]
		if all[n-1] = edit(was); all[n-1] == was {
			t.Fatalf("%s:%d: the edit changes nothing in %q", name, n, was)
		}
	}
	tr, err := Parse(strings.NewReader(strings.Join(all, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func replace(old, new string) func(string) string {
	return func(s string) string { return strings.Replace(s, old, new, 1) }
}

func TestReplayOfLinuxBootAgrees(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	rep := replaySim(t, tr)
	for _, f := range rep.Findings {
		t.Error(f)
	}
	if rep.CPUs != 2 || rep.Commands != 21 || rep.Translations != 5 || rep.RegisterWrites != 3 {
		t.Errorf("replayed %d CPUs, %d commands, %d MSIs, %d register writes; want 2, 21, 5, 3", rep.CPUs, rep.Commands, rep.Translations, rep.RegisterWrites)
	}
	l := model.DefaultLayout()
	if want := []ITTMapping{{Guest: 0x40123400, Backend: l.ITTs, DeviceID: 8, EventIDBits: 2, Line: 46}}; fmt.Sprint(rep.ITTs) != fmt.Sprint(want) {
		t.Errorf("ITTs %+v, want %+v", rep.ITTs, want)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"replayed 123 lines (121 events) on sim with 2 CPUs: 21 commands, 5 MSIs, 0 acknowledges checked, 3 register writes\n",
		"  CPUs: 2, as the highest processor number its redistributor events name is 1\n",
		"  line 25 (and 7 more): SYNC's RDbase, which QEMU does not trace",
		"  line 28 (and 1 more): INVALL's ICID, which QEMU does not trace",
		"every LPI mapped is configured 0xa3",
		"  line 7: GITS_BASER0: the guest's devices table at 0x40090000",
		"  line 46: ITTs: 1 guest ITT (the first at 0x40123400, for device 0x8) placed anew in the backend's ITT area from 0x40800000: the guest read GITS_TYPER 0x1f0001efb1: 12-byte ITT entries, the backend's are 8 bytes",
		"  line 44: gicv3_dist_write: an event this replay does not use\n",
		"ok: the sim backend agrees with the trace\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, text.String())
		}
	}
}

func TestReplayDivergenceNamesTheLine(t *testing.T) {
	for _, tc := range []struct {
		name            string
		edits           map[int]func(string) string
		line            int
		want, got, what string
	}{{
		name:  "QEMU delivered on another CPU",
		edits: map[int]func(string) string{81: replace("RDBase 0x1", "RDBase 0x0")},
		line:  78, what: "MSI dev=0x8 ev=1",
		want: "LPI 8193 on CPU 0 (QEMU's table reads at lines 79-81)",
		got:  "CPU 0 had no LPI to acknowledge; pending: LPI 8193 on CPU 1",
	}, {
		name:  "QEMU delivered another LPI",
		edits: map[int]func(string) string{84: replace("intid 0x2000", "intid 0x2005")},
		line:  82, what: "MSI dev=0x8 ev=0",
		want: "LPI 8197 on CPU 0 (QEMU's table reads at lines 83-85)",
		got:  "CPU 0 acknowledged LPI 8192; pending: nothing pending on any CPU",
	}, {
		name:  "QEMU dropped what the backend delivers",
		edits: map[int]func(string) string{84: replace("valid 1 inttype 1", "valid 0 inttype 1")},
		line:  82, what: "MSI dev=0x8 ev=0",
		want: "not delivered: event 0 is not mapped to a physical LPI (QEMU read the ITE at line 84)",
		got:  "delivered: LPI 8192 on CPU 0",
	}, {
		name:  "QEMU delivered what the backend blocks",
		edits: map[int]func(string) string{122: replace("data 0x0", "data 0x1"), 123: func(string) string { return goldenLine(t, "gicv3_its_dte_read") }},
		line:  122, what: "MSI dev=0x8 ev=1",
		got:  "blocked (no translation)",
		want: "LPI 8193 on CPU 1 (QEMU's table reads at lines 123-125)",
	}, {
		name:  "QEMU accepted a command the backend rejects",
		edits: map[int]func(string) string{36: replace("RDbase 0x1", "RDbase 0x5")},
		line:  36, what: "MAPC icid=1 rdbase=5",
		want: "accepted: QEMU wrote the CTE at line 37",
		got:  "rejected: E_ITS_MAPC_PROCNUM_OOR",
	}, {
		name:  "QEMU ignored a command the backend runs",
		edits: map[int]func(string) string{47: func(string) string { return "ITS MAPD: invalid device ID field 0x8 >= 0x8" }},
		line:  46, what: "MAPD dev=0x8 bits=2 itt=0x40800000",
		want: "rejected: QEMU wrote no DTE after it: it ignored the command",
		got:  "accepted",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tr := edited(t, "boot-2cpu.log", tc.edits)
			if tc.line == 122 {
				tr = withTail(t, tr)
			}
			rep := replaySim(t, tr)
			if len(rep.Findings) == 0 {
				t.Fatal("no divergence")
			}
			f := rep.Findings[0]
			if f.Line != tc.line || f.What != tc.what || f.Want != tc.want || !strings.HasPrefix(f.Got, tc.got) {
				t.Errorf("first divergence:\n%v\nwant line %d: %s: want %s; got %s...", f, tc.line, tc.what, tc.want, tc.got)
			}
		})
	}
}

// goldenLine returns the golden line of an event kind.
func goldenLine(t *testing.T, name string) string {
	for _, g := range golden {
		if g.want.Name() == name {
			return g.line
		}
	}
	t.Fatalf("no golden %s", name)
	return ""
}

// withTail makes the trace's last MSI one QEMU delivered (to LPI 8193 on
// CPU 1) although the guest unmapped the device just before.
func withTail(t *testing.T, tr *Trace) *Trace {
	tail := []Event{
		ITERead{ITTAddr: 0x40123400, EventID: 1, Valid: true, IntType: IntTypePhysical, INTID: 8193, ICID: 1, Doorbell: 1023},
		CTERead{ICID: 1, Valid: true, RDbase: 1},
	}
	for _, e := range tail {
		tr.Lines++
		tr.Records = append(tr.Records, Record{Line: tr.Lines, Event: e})
	}
	return tr
}

func TestReplayNotesCommandsBothRejected(t *testing.T) {
	tr := edited(t, "boot-2cpu.log", map[int]func(string) string{
		36: replace("RDbase 0x1", "RDbase 0x5"),
		37: func(string) string { return "ITS MAPC: invalid RDBASE 5" },
	})
	rep := replaySim(t, tr)
	var notes []string
	for _, n := range rep.Notes {
		if n.Kind == Rejected {
			notes = append(notes, n.String())
		}
	}
	if want := "line 36: commands QEMU and the backend both rejected (the first: MAPC icid=1 rdbase=5: QEMU wrote no CTE after it: it ignored the command; the backend: E_ITS_MAPC_PROCNUM_OOR)"; len(notes) != 1 || notes[0] != want {
		t.Errorf("rejected notes %q, want %q", notes, want)
	}
	// With collection 1 unmapped, the MSI QEMU delivered to CPU 1 (it
	// mapped the collection later... here, never) diverges; the MAPC does
	// not.
	for _, f := range rep.Findings {
		if f.Line == 36 {
			t.Errorf("a command both rejected is a divergence: %v", f)
		}
	}
}

func TestReplayChecksTheOrderOfAcknowledges(t *testing.T) {
	rep := replaySim(t, parseTestdata(t, "acks.log"))
	if !rep.OK() || rep.Acknowledges != 2 {
		t.Errorf("acks.log: %d acknowledges, findings %v; want 2 and none", rep.Acknowledges, rep.Findings)
	}
	swapped := edited(t, "acks.log", map[int]func(string) string{
		33: replace("value 0x2010", "value 0x2011"),
		35: replace("value 0x2011", "value 0x2010"),
	})
	rep = replaySim(t, swapped)
	want := []Finding{
		{Line: 33, Event: "gicv3_icc_iar1_read", What: "acknowledge on CPU 0", Want: "LPI 8209", Got: "LPI 8208"},
		{Line: 35, Event: "gicv3_icc_iar1_read", What: "acknowledge on CPU 0", Want: "LPI 8208", Got: "LPI 8209"},
	}
	if fmt.Sprint(rep.Findings) != fmt.Sprint(want) {
		t.Errorf("findings\n%v\nwant\n%v", rep.Findings, want)
	}
}

func TestReplayWithoutTableEventsUsesTheGuestsMappings(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	var kept []Record
	for _, r := range tr.Records {
		switch r.Event.(type) {
		case DTERead, DTEWrite, ITERead, ITEWrite, CTERead, CTEWrite:
			continue
		}
		kept = append(kept, r)
	}
	tr.Records = kept
	rep := replaySim(t, tr)
	if !rep.OK() || rep.Translations != 5 {
		t.Errorf("%d MSIs, findings %v", rep.Translations, rep.Findings)
	}
	// Before the MAPD V=0 at line 119, event 1 goes where MOVI (line 87)
	// moved it: LPI 8193 on CPU 0.
	var before []Record
	for _, r := range tr.Records {
		if r.Line < 118 {
			before = append(before, r)
		}
	}
	tr.Records = append(before, Record{Line: 200, Event: TranslationWrite{Offset: 0x40, Data: 1, Size: 4, RequesterID: 8}})
	if lpi, cpu, err := guestAfter(tr).Translate(8, 1); lpi != 8193 || cpu != 0 || err != nil {
		t.Fatalf("the guest translates dev 8 ev 1 to LPI %d on CPU %d (%v)", lpi, cpu, err)
	}
	rep = replaySim(t, tr)
	if !rep.OK() || rep.Translations != 5 {
		t.Errorf("%d MSIs, findings %v", rep.Translations, rep.Findings)
	}
}

// guestAfter returns the guest once every record of tr is applied.
func guestAfter(tr *Trace) *Guest {
	g := NewGuest(tr)
	for _, r := range tr.Records {
		g.Apply(r)
	}
	return g
}

func TestReplayOfGzippedTimestampedTrace(t *testing.T) {
	plain, err := os.ReadFile("testdata/boot-2cpu.log")
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	for i, line := range strings.SplitAfter(string(plain), "\n") {
		if line != "" {
			fmt.Fprintf(zw, "4321@1700000000.%06d:%s", i, line)
		}
	}
	zw.Close()
	tr, err := Parse(&z)
	if err != nil {
		t.Fatal(err)
	}
	rep := replaySim(t, tr)
	if !rep.OK() || rep.Commands != 21 || rep.Translations != 5 {
		t.Errorf("%d commands, %d MSIs, findings %v", rep.Commands, rep.Translations, rep.Findings)
	}
}

func TestRunRefusesTooFewCPUs(t *testing.T) {
	b, err := model.Open("sim", model.Config{CPUs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep, err := Run(parseTestdata(t, "boot-2cpu.log"), b, Options{})
	if rep != nil || !errors.Is(err, model.ErrInvalidArgument) || !strings.Contains(err.Error(), "the trace's guest has 2 CPUs") {
		t.Errorf("Run on 1 CPU: %v, %v", rep, err)
	}
}

func TestRunStopsOnAClosedBackend(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	b, err := model.Open("sim", BackendConfig(tr))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := Run(tr, b, Options{}); !errors.Is(err, model.ErrClosed) {
		t.Errorf("Run on a closed backend: %v", err)
	}
}

func TestRunLogsEveryReplayedEvent(t *testing.T) {
	tr := parseTestdata(t, "wrong-cpu.log")
	b, err := model.Open("sim", BackendConfig(tr))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var log bytes.Buffer
	if _, err := Run(tr, b, Options{Log: &log}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"line 46: gicv3_its_cmd_mapd: MAPD dev=0x8 bits=2 itt=0x40800000\n",
		"line 78: gicv3_its_translation_write: DIVERGES: MSI dev=0x8 ev=1: want LPI 8193 on CPU 0",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log does not say %q:\n%s", want, log.String())
		}
	}
}

func TestReplayOfATraceWithoutTableWrites(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	var kept []Record
	for _, r := range tr.Records {
		switch r.Event.(type) {
		case DTEWrite, ITEWrite, CTEWrite:
			continue
		}
		kept = append(kept, r)
	}
	tr.Records = kept
	if rep := replaySim(t, tr); !rep.OK() {
		t.Errorf("without table writes, a command is not known to be ignored: %v", rep.Findings)
	}
}

// TestReplayFindsMapOverLiveEventWithoutAnMSI: QEMU overwrites the ITE of
// an event mapped again; the simulator, as KVM, keeps the old one. The
// replay shows it at the MAPTI, with no MSI after it to reveal it.
func TestReplayFindsMapOverLiveEventWithoutAnMSI(t *testing.T) {
	rep := replaySim(t, mustParse(t, "lint-map-over-live-event.log"))
	if len(rep.Findings) != 1 || rep.Findings[0].Line != 45 || !strings.Contains(rep.Findings[0].Got, "keeps LPI 8192 in collection 0") {
		t.Fatalf("want one finding at line 45, the backend keeping LPI 8192; got %v", rep.Findings)
	}
	// The same MAPTI of an event not mapped before is no finding.
	clean := replaySim(t, mustParse(t, "lint-missing-inv.log"))
	if len(clean.Findings) != 0 {
		t.Errorf("fresh mappings: want no finding, got %v", clean.Findings)
	}
}
