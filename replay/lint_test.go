package replay

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// TestLintOfRealLinuxTraces: Linux's driver, in every real trace, breaks
// no rule; informational findings are allowed.
func TestLintOfRealLinuxTraces(t *testing.T) {
	files, err := filepath.Glob(realTraces)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no real traces match %s", realTraces)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			tr, err := ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, m := range Lint(tr, nil) {
				if m.Informational {
					t.Log(m)
					continue
				}
				if n++; n <= 20 {
					t.Error(m)
				}
			}
			if n > 20 {
				t.Errorf("... and %d more", n-20)
			}
		})
	}
}

// TestLintRules: each rule's misuse trace in testdata (lint-RULE.log, a
// clean start with the misuse at its end) breaks that rule and no other,
// at the line of the misuse; the clean start breaks none.
func TestLintRules(t *testing.T) {
	// The dump-based rules' traces come with the dumps that show the
	// misuse; the clean start is checked with both dumps.
	bothDumps := func(t *testing.T, tr *Trace) *Memory {
		m := queueDump(t, tr, map[uint32]uint64{3: 1, 10: 1})
		p := propDump(t, tr, map[model.INTID]model.LPIConfig{0x2000: 0xa3})
		if err := m.Add(p.Dumps[0].Name, p.Dumps[0].GPA, p.Dumps[0].Data); err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		rule *Rule
		line int
		mem  func(*testing.T, *Trace) *Memory
	}{
		{nil, 0, bothDumps},
		{RuleMissingInv, 53, func(t *testing.T, tr *Trace) *Memory {
			return propDump(t, tr, map[model.INTID]model.LPIConfig{0x2000: 0xa3, 0x2001: 0xa3})
		}},
		{RuleMissingSync, 45, nil},
		{RuleSyncWrongRedistributor, 45, func(t *testing.T, tr *Trace) *Memory {
			return queueDump(t, tr, map[uint32]uint64{3: 1, 8: 1})
		}},
		{RuleMapOverLiveEvent, 45, nil},
		{RuleLPIMappedTwice, 45, nil},
		{RuleLPIOutOfRange, 45, nil},
		{RuleEventBeyondSize, 45, nil},
		{RuleUnmappedDevice, 45, nil},
		{RuleUnmappedEvent, 45, nil},
		{RuleUnmappedCollection, 45, nil},
		{RuleUnmapLiveCollection, 45, nil},
		{RuleUnmapLiveDevice, 45, nil},
		{RuleRemapLiveDevice, 45, nil},
		{RuleITTOverlap, 45, nil},
		{RuleMSIUnmapped, 44, nil},
		{RuleMSILPIsDisabled, 45, nil},
		{RuleMSIDisabledLPI, 59, func(t *testing.T, tr *Trace) *Memory {
			return propDump(t, tr, map[model.INTID]model.LPIConfig{0x2000: 0xa3})
		}},
		{RuleEventsOnOfflinedCPU, 54, nil},
	} {
		name := "clean"
		if tc.rule != nil {
			name = tc.rule.Name
		}
		t.Run(name, func(t *testing.T) {
			tr, err := ParseFile(filepath.Join("testdata", "lint-"+name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			var mem *Memory
			if tc.mem != nil {
				mem = tc.mem(t, tr)
			}
			// A rule's own finding counts whether or not it is
			// informational (events-on-offlined-cpu is); other rules'
			// informational findings do not.
			var found []Misuse
			for _, m := range Lint(tr, mem) {
				if !m.Informational || m.Rule == tc.rule {
					found = append(found, m)
				}
			}
			if tc.rule == nil {
				for _, m := range found {
					t.Error(m)
				}
				return
			}
			for _, m := range found {
				t.Log(m)
			}
			if len(found) != 1 || found[0].Rule != tc.rule || found[0].Line != tc.line {
				t.Errorf("want one %s finding at line %d; got %d:", tc.rule.Name, tc.line, len(found))
				for _, m := range found {
					t.Error(m)
				}
			}
		})
	}
}

// TestLintRulesHaveMisuseTraces: every rule in Rules has its misuse trace.
func TestLintRulesHaveMisuseTraces(t *testing.T) {
	for _, r := range Rules {
		if _, err := ParseFile(filepath.Join("testdata", "lint-"+r.Name+".log")); err != nil {
			t.Errorf("rule %s: %v", r.Name, err)
		}
	}
}

// TestLintOfRealTracesIsNotVacuous: in each real trace, the SYNC after the
// first MAPTI taken out is a missing-sync finding at that MAPTI, and the
// first DISCARD taken out leaves its event live: a finding where the
// driver unmaps or remaps the device (or maps the event again); and the
// first MOVI taken out leaves an event on a CPU that goes offline.
func TestLintOfRealTracesIsNotVacuous(t *testing.T) {
	files, _ := filepath.Glob(realTraces)
	if len(files) == 0 {
		t.Skipf("no real traces match %s", realTraces)
	}
	for _, file := range files {
		tr, err := ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		mapti := firstIndex(tr, 0, func(e Event) bool { _, ok := e.(CmdMAPTI); return ok })
		sync := firstIndex(tr, mapti, func(e Event) bool { _, ok := e.(CmdSYNC); return ok })
		if got := lintWithout(tr, sync); len(got) != 1 || got[0].Rule != RuleMissingSync || got[0].Line != tr.Records[mapti].Line {
			t.Errorf("%s: without the SYNC at line %d: want one missing-sync finding at line %d, got %v", file, tr.Records[sync].Line, tr.Records[mapti].Line, got)
		}
		discard := firstIndex(tr, 0, func(e Event) bool { _, ok := e.(CmdDISCARD); return ok })
		got := lintWithout(tr, discard)
		if len(got) == 0 || !slices.Contains([]*Rule{RuleUnmapLiveDevice, RuleRemapLiveDevice, RuleMapOverLiveEvent}, got[0].Rule) {
			t.Errorf("%s: without the DISCARD at line %d: want a live-event finding, got %v", file, tr.Records[discard].Line, got)
		}
		// In the hotplug traces, Linux MOVIs every event off a CPU before
		// it goes offline: without the first MOVI, one stays behind (an
		// informational finding: a CPU back from suspend looks the same).
		if movi := firstIndex(tr, 0, func(e Event) bool { _, ok := e.(CmdMOVI); return ok }); movi >= 0 {
			cut := *tr
			cut.Records = slices.Delete(slices.Clone(tr.Records), movi, movi+1)
			got := Lint(&cut, nil)
			if len(got) != 1 || got[0].Rule != RuleEventsOnOfflinedCPU || !got[0].Informational {
				t.Errorf("%s: without the MOVI at line %d: want one informational events-on-offlined-cpu finding, got %v", file, tr.Records[movi].Line, got)
			}
		}
	}
}

func firstIndex(tr *Trace, from int, match func(Event) bool) int {
	for i := from; i < len(tr.Records); i++ {
		if match(tr.Records[i].Event) {
			return i
		}
	}
	return -1
}

// lintWithout lints tr without its record i, and returns what is not
// informational.
func lintWithout(tr *Trace, i int) []Misuse {
	cut := *tr
	cut.Records = slices.Delete(slices.Clone(tr.Records), i, i+1)
	var found []Misuse
	for _, m := range Lint(&cut, nil) {
		if !m.Informational {
			found = append(found, m)
		}
	}
	return found
}

// TestLintRulesDocumented: docs/drivers.md's table has a row for every
// rule, with its IHI 0069 section, and none for a rule that does not
// exist.
func TestLintRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/drivers.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| ([^|]+) \\|").FindAllStringSubmatch(string(doc), -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	for _, r := range Rules {
		if got, ok := rows[r.Name]; !ok || got != r.Section {
			t.Errorf("docs/drivers.md: rule %s: want a row with section %q, have %q", r.Name, r.Section, got)
		}
		delete(rows, r.Name)
	}
	for name := range rows {
		t.Errorf("docs/drivers.md: a row for %s, which is not a rule", name)
	}
}

// TestLintInformational: a device mapped again, with no event mapped, is
// informational: worth a line, not misuse.
func TestLintInformational(t *testing.T) {
	const log = `gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x10 Size 0x0 ITT_addr 0x402000 V 1
gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x10 Size 0x1 ITT_addr 0x402000 V 1
`
	tr, err := Parse(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	ms := Lint(tr, nil)
	if len(ms) != 1 || !ms[0].Informational || ms[0].Rule != RuleRemapLiveDevice || ms[0].Line != 2 || Misuses(ms) {
		t.Fatalf("want one informational remap-live-device finding at line 2; got %v", ms)
	}
	var out strings.Builder
	if err := WriteLint(&out, ms, Gaps(tr, nil)); err != nil {
		t.Fatal(err)
	}
	if want := "lint: 1 finding (1 informational):\n  line 2: remap-live-device (informational) (IHI 0069 6.3.11): device 0x10, mapped at line 1 with no live event, is mapped again without MAPD V=0 first\n"; !strings.HasPrefix(out.String(), want) {
		t.Errorf("WriteLint:\n%s\nwant it to start with\n%s", out.String(), want)
	}
	// Without dumps, it says which rules it could not check, and why.
	for _, want := range []string{"lint: not checked, for lack of a memory dump (-mem):\n", "  missing-inv: needs the LPI property table's dump\n", "  sync-wrong-redistributor: needs the command queue's dump\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("WriteLint without dumps:\n%s\nwant it to hold %q", out.String(), want)
		}
	}
}

// TestMissingSyncAcrossWrites: a SYNC may come in a GITS_CWRITER write of
// its own after the command (Xen's driver does that), but not after
// another command.
func TestMissingSyncAcrossWrites(t *testing.T) {
	const (
		mapti  = "gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x8 EventID 0x1 ICID 0x0 pINTID 0x2001\n"
		mapti2 = "gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x8 EventID 0x2 ICID 0x0 pINTID 0x2002\n"
		sync   = "gicv3_its_cmd_sync GICv3 ITS: command SYNC\n"
		write  = "gicv3_its_write GICv3 ITS write: offset 0x88 data 0x100 size 4\n"
		prefix = "gicv3_its_cmd_mapc GICv3 ITS: command MAPC ICID 0x0 RDbase 0x0 V 1\n" + sync +
			"gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Size 0x1 ITT_addr 0x487bda V 1\n" + sync + write
	)
	for _, c := range []struct {
		name, trace string
		want        int // missing-sync findings
	}{
		{"sync in the same write", prefix + mapti + sync + write, 0},
		{"sync in the next write", prefix + mapti + write + sync + write, 0},
		{"another command first", prefix + mapti + write + mapti2 + sync + write, 1},
	} {
		tr, err := Parse(strings.NewReader(c.trace))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := 0
		for _, m := range Lint(tr, nil) {
			if m.Rule == RuleMissingSync {
				n++
			}
		}
		if n != c.want {
			t.Errorf("%s: %d missing-sync findings, want %d: %v", c.name, n, c.want, Lint(tr, nil))
		}
	}
}

// TestLintDumpedConfigCorrectDrivers: the property-table rules report no
// misuse for orders that are correct, only informational findings where
// a dump cannot tell.
func TestLintDumpedConfigCorrectDrivers(t *testing.T) {
	clean, err := os.ReadFile("testdata/lint-clean.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(clean), "\n")
	const (
		msi    = "gicv3_its_translation_write GICv3 ITS TRANSLATER write: offset 0x40 data 0x0 size 4 requester_id 0x8\n"
		invlpi = "gicv3_redist_write GICv3 redistributor 0x0 write: offset 0xa0 data 0x2000 size 8 secure 0\n"
	)
	for _, tc := range []struct {
		name    string
		log     string
		enabled bool
		want    *Rule // an informational finding of this rule, or none
		line    int
	}{
		// Masked (written disabled, then INV), and the device fires: it
		// stays pending everywhere alike.
		{"masked", string(clean) + msi, false, RuleMSIDisabledLPI, 52},
		// Never invalidated after mapping: correct if configured before
		// EnableLPIs, which the dump cannot show.
		{"configured-up-front", strings.Join(lines[:43], ""), true, RuleMissingInv, 34},
		// GICR_INVLPIR before the MAPTI publishes the configuration.
		{"invlpir-before-mapping", strings.Join(lines[:32], "") + invlpi + strings.Join(lines[32:43], ""), true, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := Parse(strings.NewReader(tc.log))
			if err != nil {
				t.Fatal(err)
			}
			cfg := model.LPIConfig(0xa2)
			if tc.enabled {
				cfg = 0xa3
			}
			found := Lint(tr, propDump(t, tr, map[model.INTID]model.LPIConfig{0x2000: cfg}))
			switch {
			case tc.want == nil && len(found) != 0:
				t.Errorf("want no finding, got %v", found)
			case tc.want != nil && (len(found) != 1 || found[0].Rule != tc.want || !found[0].Informational || found[0].Line != tc.line):
				t.Errorf("want one informational %s at line %d, got %v", tc.want.Name, tc.line, found)
			}
		})
	}
}
