package replay

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// realDumpSidecars are the sidecars of the real traces that have memory
// dumps (testdata/qemutrace/README.md): NAME.mem beside NAME.log.gz, one
// FILE@GPA a line, FILE relative to the sidecar's directory and gzipped,
// lines starting with # comments. scripts/capture-its-trace writes them
// from the guest's RAM saved when it powered off: the command queue and
// the LPI property table as the end of the trace left them.
const realDumpSidecars = "../testdata/qemutrace/*.mem"

// realDump is a real trace and its dumps.
type realDump struct {
	trace string
	tr    *Trace
	mem   *Memory
}

// realDumpFiles returns the sidecars, skipping t when there are none.
func realDumpFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(realDumpSidecars)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no real traces with memory dumps match %s", realDumpSidecars)
	}
	return files
}

// loadRealDump reads the trace of sidecar and its dumps, afresh (a test
// may edit them), as itsbench replay -mem SIDECAR does: LoadMemory reads
// the list and gunzips the dumps.
func loadRealDump(t *testing.T, sidecar string) *realDump {
	t.Helper()
	trace := strings.TrimSuffix(sidecar, ".mem") + ".log.gz"
	tr, err := ParseFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := LoadMemory([]string{sidecar})
	if err != nil {
		t.Fatal(err)
	}
	return &realDump{trace: trace, tr: tr, mem: mem}
}

// TestRealDumpsWhereThePmemsaveCommandsSay: the capture's dumps start
// where replay -pmemsave says to dump, and are as large: the two derive
// the addresses from the trace apart (the capture tool is
// self-contained).
func TestRealDumpsWhereThePmemsaveCommandsSay(t *testing.T) {
	for _, sidecar := range realDumpFiles(t) {
		rd := loadRealDump(t, sidecar)
		_, mems := PmemsaveCommands(rd.tr)
		var want []string
		for _, m := range mems {
			_, gpa, _ := ParseMemSpec(m)
			want = append(want, fmt.Sprint(gpa))
		}
		var got []string
		for _, d := range rd.mem.Dumps {
			got = append(got, fmt.Sprint(d.GPA))
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: dumps at %v, -pmemsave says %v", sidecar, got, want)
		}
		cmds, _ := PmemsaveCommands(rd.tr)
		for _, d := range rd.mem.Dumps {
			if want := fmt.Sprintf("pmemsave %#x %d ", uint64(d.GPA), len(d.Data)); !slices.ContainsFunc(cmds, func(c string) bool { return strings.HasPrefix(c, want) }) {
				t.Errorf("%s: dump %s: no %q in -pmemsave's %q", sidecar, d.Name, want, cmds)
			}
		}
	}
}

// misuses returns ms's findings that are not informational.
func misuses(ms []Misuse) []Misuse {
	return slices.DeleteFunc(slices.Clone(ms), func(m Misuse) bool { return m.Informational })
}

// isCommand reports whether ev is a command QEMU traced (not one it could
// not decode).
func isCommand(ev Event) bool {
	_, unknown := ev.(CmdUnknown)
	return strings.HasPrefix(ev.Name(), "gicv3_its_cmd_") && !unknown
}

// TestRealTracesWithDumps: in every real trace with dumps, the dumps hold
// the command queue (every command the trace shows, exactly, unless a
// later one was written over it) and the property table; Linux's driver
// breaks no rule, the three that need the dumps checked; and the replay
// on the simulator, with the dumps, agrees with QEMU.
func TestRealTracesWithDumps(t *testing.T) {
	for _, sidecar := range realDumpFiles(t) {
		t.Run(filepath.Base(sidecar), func(t *testing.T) {
			rd := loadRealDump(t, sidecar)
			d := FindDumped(rd.tr, rd.mem)
			if d.Queue == nil || d.Properties == nil {
				t.Fatalf("%s: the dumps hold the command queue: %v, the property table: %v; want both", sidecar, d.Queue, d.Properties)
			}
			commands := 0
			for _, r := range rd.tr.Records {
				if isCommand(r.Event) {
					commands++
				}
			}
			if len(d.Disagree) > 0 {
				t.Errorf("%d packets of the queue dump are not the command the trace shows there, the first at line %d", len(d.Disagree), d.Disagree[0])
			}
			if len(d.Packets) < 100 || len(d.Packets)+d.Stale != commands {
				t.Errorf("%d exact packets and %d written over, of %d commands: want at least 100, and every command one or the other", len(d.Packets), d.Stale, commands)
			}
			if u := Gaps(rd.tr, rd.mem); len(u) > 0 {
				t.Errorf("rules not fully checked with the dumps: %v", u)
			}
			ms := Lint(rd.tr, rd.mem)
			for _, m := range misuses(ms) {
				t.Errorf("Linux's driver: %v", m)
			}

			b, err := model.Open("sim", BackendConfig(rd.tr))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			rep, err := Run(rd.tr, b, Options{Memory: rd.mem})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.Findings {
				t.Errorf("replay with the dumps: %v", f)
			}
			t.Logf("%s: %d commands, %d exact packets, %d written over; %d MSIs replayed; %d informational findings", rd.trace, commands, len(d.Packets), d.Stale, rep.Translations, len(ms))
		})
	}
}

// lpiHistory is what a trace did to each LPI, by the guest's mappings at
// each moment.
type lpiHistory struct {
	// firstMap is the line of each LPI's first MAPTI or MAPI.
	firstMap map[model.INTID]int
	// invs are the indexes in the trace's records of the INVs of an event
	// mapped to the LPI then.
	invs map[model.INTID][]int
	// msis are the lines of the MSIs the guest's mappings send to it.
	msis map[model.INTID][]int
	// invalls are the indexes of the INVALL records; broad, the lines of
	// the other invalidations that may cover more than one LPI, or an LPI
	// this history does not follow: GICR_INVALLR, GICR_INVLPIR, and
	// GICR_CTLR written with EnableLPIs.
	invalls []int
	broad   []int
	// propBase is where the last GICR_PROPBASER written puts the
	// property table.
	propBase model.GPA
	// cbaser is GITS_CBASER as each record found it, by index.
	cbaser []uint64
}

func historyOf(tr *Trace) *lpiHistory {
	h := &lpiHistory{firstMap: map[model.INTID]int{}, invs: map[model.INTID][]int{}, msis: map[model.INTID][]int{}}
	g := NewGuest(tr)
	mapped := func(dev model.DeviceID, ev model.EventID) (model.INTID, bool) {
		if d := g.Devices[dev]; d != nil && d.Events[ev] != nil {
			return d.Events[ev].INTID, true
		}
		return 0, false
	}
	for i, rec := range tr.Records {
		h.cbaser = append(h.cbaser, g.ITS.CBASER)
		switch e := rec.Event.(type) {
		case CmdMAPTI:
			if _, ok := h.firstMap[e.INTID]; !ok {
				h.firstMap[e.INTID] = rec.Line
			}
		case CmdMAPI:
			if _, ok := h.firstMap[model.INTID(e.EventID)]; !ok {
				h.firstMap[model.INTID(e.EventID)] = rec.Line
			}
		case CmdINV:
			if intid, ok := mapped(e.DeviceID, e.EventID); ok {
				h.invs[intid] = append(h.invs[intid], i)
			}
		case CmdINVALL:
			h.invalls = append(h.invalls, i)
		case RedistWrite:
			switch model.GICRRegister(e.Offset) {
			case model.GICR_INVALLR, model.GICR_INVLPIR:
				h.broad = append(h.broad, rec.Line)
			case model.GICR_CTLR:
				if e.Data&model.GICR_CTLR_EnableLPIs != 0 {
					h.broad = append(h.broad, rec.Line)
				}
			}
		case TranslationWrite:
			// An MSI is a write of GITS_TRANSLATER, 0x40 in the translation frame.
			if intid, ok := mapped(e.RequesterID, model.EventID(e.Data)); ok && e.Offset == 0x40 {
				h.msis[intid] = append(h.msis[intid], rec.Line)
			}
		}
		g.Apply(rec)
	}
	last := 0
	for _, rd := range g.Redistributors {
		if l := rd.Lines[model.GICR_PROPBASER]; l > last {
			last, h.propBase = l, model.PropBaser(rd.PROPBASER).Addr()
		}
	}
	return h
}

// broadAfter reports whether an invalidation that may cover more than
// one LPI comes after line; INVALLs count when invall.
func (h *lpiHistory) broadAfter(tr *Trace, line int, invall bool) bool {
	if len(h.broad) > 0 && slices.Max(h.broad) > line {
		return true
	}
	return invall && len(h.invalls) > 0 && tr.Records[slices.Max(h.invalls)].Line > line
}

// without returns tr without the records of indexes drop, each with the
// gicv3_its_process_command record before it, if it has one: as if the
// guest had not sent those commands.
func without(tr *Trace, drop []int) *Trace {
	out := *tr
	out.Records = nil
	gone := map[int]bool{}
	for _, i := range drop {
		gone[i] = true
		if i == 0 {
			continue
		}
		if _, ok := tr.Records[i-1].Event.(ProcessCommand); ok {
			gone[i-1] = true
		}
	}
	for i, r := range tr.Records {
		if !gone[i] {
			out.Records = append(out.Records, r)
		}
	}
	return &out
}

// onlyFinding checks that ms has exactly one finding that is not
// informational, of rule, and returns it.
func onlyFinding(t *testing.T, ms []Misuse, rule *Rule, what string) (Misuse, bool) {
	t.Helper()
	bad := misuses(ms)
	if len(bad) != 1 || bad[0].Rule != rule {
		t.Errorf("%s: findings %v, want one of %s", what, bad, rule.Name)
		return Misuse{}, false
	}
	return bad[0], true
}

// TestRealDumpsMissingInvIsNotVacuous: in each real trace with dumps, an
// LPI the property-table dump shows enabled, with the INVs that covered it
// after its first mapping taken out of the trace, is a missing-inv at that
// mapping. The INVALLs after that mapping are taken out too: Linux sends
// one when a CPU comes online (MAPC, INVALL), and in the traces' cpu step
// CPU 1 comes back after the first mapping of every LPI enabled at the end
// (mapped when the modules load; the rebind and hotplug steps map the same
// LPIs again). With only the INVALLs taken out, Linux's INVs still cover
// every LPI: no finding. An LPI that GICR_INVALLR, GICR_INVLPIR or
// EnableLPIs invalidated after its mapping is left alone (Linux writes
// none of them after boot).
func TestRealDumpsMissingInvIsNotVacuous(t *testing.T) {
	for _, sidecar := range realDumpFiles(t) {
		t.Run(filepath.Base(sidecar), func(t *testing.T) {
			rd := loadRealDump(t, sidecar)
			d, h := FindDumped(rd.tr, rd.mem), historyOf(rd.tr)
			if len(h.invalls) == 0 {
				t.Errorf("%s: no INVALL", sidecar)
			}
			for _, m := range misuses(Lint(without(rd.tr, h.invalls), rd.mem)) {
				t.Errorf("every INVALL taken out: %v", m)
			}
			checked := 0
			for _, intid := range slices.Sorted(maps.Keys(h.firstMap)) {
				cfg, ok := d.LPIConfig(intid)
				first := h.firstMap[intid]
				if !ok || !cfg.Enabled() || h.broadAfter(rd.tr, first, false) {
					continue
				}
				var drop, invalls []int
				for _, i := range h.invs[intid] {
					if rd.tr.Records[i].Line > first {
						drop = append(drop, i)
					}
				}
				if len(drop) == 0 {
					t.Errorf("LPI %d: enabled in the dump, mapped at line %d, and no INV after: the unedited trace should have had a finding", intid, first)
					continue
				}
				last := rd.tr.Records[drop[len(drop)-1]].Line
				for _, i := range h.invalls {
					if rd.tr.Records[i].Line > first {
						invalls = append(invalls, i)
					}
				}
				checked++
				what := fmt.Sprintf("LPI %d (%#02x in the dump) mapped at line %d, its %d INVs after taken out (the last at line %d), and %d INVALLs", intid, uint8(cfg), first, len(drop), last, len(invalls))
				drop = append(drop, invalls...)
				m, ok := onlyFinding(t, Lint(without(rd.tr, drop), rd.mem), RuleMissingInv, what)
				if ok && (m.Line != first || !strings.Contains(m.What, fmt.Sprintf("LPI %d,", intid))) {
					t.Errorf("%s: %v, want it at line %d, naming LPI %d", what, m, first, intid)
				}
			}
			if checked == 0 {
				t.Fatalf("%s: no LPI enabled in the dump: nothing to check", sidecar)
			}
			t.Logf("%d LPIs checked", checked)
		})
	}
}

// TestRealDumpsSyncWrongRedistributorIsNotVacuous: in each real trace
// with dumps, the SYNC right after the first MOVI, and after the first
// MAPTI, edited in the queue dump to name the other CPU, is a
// sync-wrong-redistributor at that command.
func TestRealDumpsSyncWrongRedistributorIsNotVacuous(t *testing.T) {
	for _, sidecar := range realDumpFiles(t) {
		for _, cmd := range []string{"gicv3_its_cmd_movi", "gicv3_its_cmd_mapti"} {
			t.Run(filepath.Base(sidecar)+"/"+cmd, func(t *testing.T) {
				rd := loadRealDump(t, sidecar)
				h := historyOf(rd.tr)
				at, sync, slot := commandThenSync(rd.tr, cmd)
				if at < 0 {
					t.Fatalf("%s: no %s with a SYNC right after it", sidecar, cmd)
				}
				addr := model.CBASER(h.cbaser[sync]).Addr() + model.GPA(slot)*32
				raw, dump := rd.mem.Read(addr, 32)
				if dump == nil {
					t.Fatalf("the SYNC at line %d, in slot %d (%v), is not in the dumps", rd.tr.Records[sync].Line, slot, addr)
				}
				p, err := model.DecodeCommand(model.Packet(raw))
				s, ok := p.(model.SYNC)
				if err != nil || !ok {
					t.Fatalf("the SYNC at line %d: the dump holds %v (%v) in slot %d", rd.tr.Records[sync].Line, p, err, slot)
				}
				n, _ := CPUs(rd.tr)
				other := model.SYNC{RDbase: (s.RDbase + 1) % uint64(n)}
				edited, err := other.Encode()
				if err != nil {
					t.Fatal(err)
				}
				copy(raw, edited[:])
				what := fmt.Sprintf("the SYNC at line %d after the %s at line %d, edited from CPU %d to CPU %d", rd.tr.Records[sync].Line, cmd, rd.tr.Records[at].Line, s.RDbase, other.RDbase)
				m, ok := onlyFinding(t, Lint(rd.tr, rd.mem), RuleSyncWrongRedistributor, what)
				if ok && m.Line != rd.tr.Records[at].Line {
					t.Errorf("%s: %v, want it at line %d", what, m, rd.tr.Records[at].Line)
				}
				t.Log(what)
			})
		}
	}
}

// commandThenSync returns the indexes of the first command record named
// name whose next command is a SYNC, of that SYNC, and the SYNC's queue
// slot; -1 when there is none.
func commandThenSync(tr *Trace, name string) (cmd, sync int, slot uint32) {
	cmd = -1
	for i, r := range tr.Records {
		switch e := r.Event.(type) {
		case ProcessCommand:
			slot = e.Offset
		case CmdSYNC:
			if cmd >= 0 {
				return cmd, i, slot
			}
		default:
			if !isCommand(r.Event) {
				continue
			}
			cmd = -1
			if r.Event.Name() == name {
				cmd = i
			}
		}
	}
	return -1, -1, 0
}

// TestRealDumpsMSIDisabledLPIIsNotVacuous: in each real trace with dumps,
// an LPI with MSIs after every invalidation of it (its INVs, and anything
// broader), enabled in the property-table dump, is an informational
// msi-disabled-lpi (masked: Linux invalidated it after mapping it) at one
// of those MSIs once its enable bit is cleared in the dump.
func TestRealDumpsMSIDisabledLPIIsNotVacuous(t *testing.T) {
	for _, sidecar := range realDumpFiles(t) {
		t.Run(filepath.Base(sidecar), func(t *testing.T) {
			rd := loadRealDump(t, sidecar)
			d, h := FindDumped(rd.tr, rd.mem), historyOf(rd.tr)
			checked := 0
			for _, intid := range slices.Sorted(maps.Keys(h.msis)) {
				last := slices.Max(h.msis[intid])
				lastInv := 0
				for _, i := range h.invs[intid] {
					lastInv = max(lastInv, rd.tr.Records[i].Line)
				}
				cfg, ok := d.LPIConfig(intid)
				if !ok || !cfg.Enabled() || lastInv > last || h.broadAfter(rd.tr, last, true) {
					continue
				}
				rd := loadRealDump(t, sidecar) // afresh: the dump is edited
				raw, _ := rd.mem.Read(h.propBase+model.GPA(intid-model.LPIBase), 1)
				raw[0] &^= 1 // the enable bit (IHI 0069, 5.1.1)
				checked++
				what := fmt.Sprintf("LPI %d, %d MSIs, the last at line %d after its last INV (line %d), disabled in the dump (%#02x)", intid, len(h.msis[intid]), last, lastInv, raw[0])
				// Linux invalidated the LPI after mapping it, so with the
				// enable bit clear the driver masked it: an informational
				// finding (the LPI stays pending everywhere alike).
				found := Lint(rd.tr, rd.mem)
				if bad := misuses(found); len(bad) > 0 {
					t.Errorf("%s: findings %v, want only an informational msi-disabled-lpi", what, bad)
					continue
				}
				var m Misuse
				ok = len(found) == 1 && found[0].Rule == RuleMSIDisabledLPI && found[0].Informational
				if ok {
					m = found[0]
				} else {
					t.Errorf("%s: findings %v, want one informational msi-disabled-lpi", what, found)
				}
				if ok && (!slices.Contains(h.msis[intid], m.Line) || m.Line < lastInv || !strings.Contains(m.What, fmt.Sprintf("LPI %d", intid)) || !strings.Contains(m.What, "masked")) {
					t.Errorf("%s: %v, want it at an MSI to LPI %d after line %d", what, m, intid, lastInv)
				}
			}
			if checked == 0 {
				t.Fatalf("%s: no enabled LPI with MSIs after its last invalidation: nothing to check", sidecar)
			}
			t.Logf("%d LPIs checked", checked)
		})
	}
}
