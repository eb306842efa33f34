package replay

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// queueDump returns a dump of tr's command queue at the end of the run:
// every command event's packet in its slot, SYNCs naming the RDbase
// syncTo gives by queue index (0 otherwise).
func queueDump(t *testing.T, tr *Trace, syncTo map[uint32]uint64) *Memory {
	t.Helper()
	g := NewGuest(tr)
	q := make([]byte, 4096)
	var base model.GPA
	var slot *uint32
	for _, rec := range tr.Records {
		switch e := rec.Event.(type) {
		case ProcessCommand:
			base, slot = model.CBASER(g.ITS.CBASER).Addr(), &e.Offset
		default:
			cmd, ok := fromTrace(rec.Event)
			if ok && slot != nil {
				if _, sync := cmd.(model.SYNC); sync {
					cmd = model.SYNC{RDbase: syncTo[*slot]}
				}
				p, err := cmd.Encode()
				if err != nil {
					t.Fatal(err)
				}
				copy(q[*slot*32:], p[:])
			}
			if _, table := rec.Event.(DTERead); !table {
				slot = nil
			}
		}
		g.Apply(rec)
	}
	m := &Memory{}
	if err := m.Add("queue", base, q); err != nil {
		t.Fatal(err)
	}
	return m
}

// propDump returns a dump of the property table tr's last GICR_PROPBASER
// places: every LPI 0xa2 (priority 0xa0, disabled), but for set.
func propDump(t *testing.T, tr *Trace, set map[model.INTID]model.LPIConfig) *Memory {
	t.Helper()
	g := NewGuest(tr)
	for _, rec := range tr.Records {
		g.Apply(rec)
	}
	pb := model.PropBaser(g.Redistributors[0].PROPBASER)
	table := bytes.Repeat([]byte{0xa2}, 1<<pb.IDBits()-int(model.LPIBase))
	for intid, cfg := range set {
		table[intid-model.LPIBase] = byte(cfg)
	}
	m := &Memory{}
	if err := m.Add("properties", pb.Addr(), table); err != nil {
		t.Fatal(err)
	}
	return m
}

func mustParse(t *testing.T, name string) *Trace {
	t.Helper()
	tr, err := ParseFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestFindDumpedTakesExactPackets: with a queue dump, each command's
// packet is found, SYNC's RDbase with it; a slot written again later
// keeps only its last command's packet; a dump the trace contradicts is
// not used.
func TestFindDumpedTakesExactPackets(t *testing.T) {
	tr := mustParse(t, "lint-sync-wrong-redistributor.log")
	d := FindDumped(tr, queueDump(t, tr, map[uint32]uint64{3: 1, 8: 1}))
	if d.Queue == nil || len(d.Disagree) != 0 || d.Stale != 0 {
		t.Fatalf("queue %v, disagree %v, stale %d: want the queue found, all agreeing", d.Queue, d.Disagree, d.Stale)
	}
	syncs := map[int]uint64{}
	for line, cmd := range d.Packets {
		if s, ok := cmd.(model.SYNC); ok {
			syncs[line] = s.RDbase
		}
	}
	if want := map[int]uint64{17: 0, 27: 1, 38: 0, 50: 1}; !equalMaps(syncs, want) {
		t.Errorf("SYNC targets by line: got %v, want %v", syncs, want)
	}

	// The same queue slot used twice: only the later command's packet.
	twice := *tr
	twice.Records = append(tr.Records[:len(tr.Records):len(tr.Records)], Record{Line: 99, Event: ProcessCommand{Offset: 1, Opcode: model.OpSYNC}}, Record{Line: 100, Event: CmdSYNC{}})
	d = FindDumped(&twice, queueDump(t, &twice, nil))
	if _, ok := d.Packets[17]; ok || d.Stale != 1 {
		t.Errorf("slot 1 used at lines 17 and 100: got a packet for line 17 (stale %d), want it taken from the trace", d.Stale)
	}
	if _, ok := d.Packets[100]; !ok {
		t.Error("slot 1's last command, line 100: no packet")
	}

	// A dump of another moment: MAPTI's INTID differs.
	m := queueDump(t, tr, nil)
	m.Dumps[0].Data[5*32+8+4] ^= 1
	if d := FindDumped(tr, m); len(d.Disagree) != 1 || d.Disagree[0] != 34 {
		t.Errorf("packet of line 34 changed: disagree %v, want [34]", d.Disagree)
	}
}

func equalMaps[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestDumpedLPIConfig reads configuration bytes from the property dump,
// and nothing outside the table.
func TestDumpedLPIConfig(t *testing.T) {
	tr := mustParse(t, "lint-clean.log")
	d := FindDumped(tr, propDump(t, tr, map[model.INTID]model.LPIConfig{8192: 0xa3, 65535: 0x11}))
	for _, tc := range []struct {
		intid model.INTID
		want  model.LPIConfig
		ok    bool
	}{{8192, 0xa3, true}, {8193, 0xa2, true}, {65535, 0x11, true}, {65536, 0, false}, {8191, 0, false}, {27, 0, false}} {
		if got, ok := d.LPIConfig(tc.intid); got != tc.want || ok != tc.ok {
			t.Errorf("LPIConfig(%d) = %#x, %v; want %#x, %v", tc.intid, got, ok, tc.want, tc.ok)
		}
	}
	if d := FindDumped(tr, nil); d.Properties != nil || len(d.Packets) != 0 {
		t.Errorf("no memory: got %+v", d)
	}
}

func TestParseMemSpec(t *testing.T) {
	for _, tc := range []struct {
		in, file string
		gpa      model.GPA
		err      string
	}{
		{"q.bin@0x40000000", "q.bin", 0x40000000, ""},
		{"dir@x/q.bin@4096", "dir@x/q.bin", 4096, ""},
		{"q.bin", "", 0, "want FILE@GPA"},
		{"@0x1000", "", 0, "FILE before '@' is empty"},
		{"q.bin@", "", 0, `GPA "" is not a number`},
		{"q.bin@0xzz", "", 0, `GPA "0xzz" is not a number`},
		{"q.bin@0x1ffffffffffffffff", "", 0, "value out of range"},
	} {
		file, gpa, err := ParseMemSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseMemSpec(%q): error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || file != tc.file || gpa != tc.gpa {
			t.Errorf("ParseMemSpec(%q) = %q, %v, %v; want %q, %v", tc.in, file, gpa, err, tc.file, tc.gpa)
		}
	}
}

// TestMemoryRefusesBadDumps: empty, wrapping and overlapping dumps are
// refused, naming the dump; reads never cross a dump's end.
func TestMemoryRefusesBadDumps(t *testing.T) {
	m := &Memory{}
	if err := m.Add("a", 0x1000, make([]byte, 0x100)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		gpa  model.GPA
		n    int
		want string
	}{
		{"empty", 0x5000, 0, "empty"},
		{"wraps", ^model.GPA(0) - 1, 4, "past the end"},
		{"overlaps", 0x10ff, 2, "overlaps a"},
	} {
		if err := m.Add(tc.name, tc.gpa, make([]byte, tc.n)); err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("Add(%s): error %v, want one naming it and saying %q", tc.name, err, tc.want)
		}
	}
	if b, d := m.Read(0x10ff, 2); b != nil || d != nil {
		t.Error("a read across the dump's end returned bytes")
	}
	if b, d := m.Read(0x10fe, 2); len(b) != 2 || d == nil {
		t.Error("a read inside the dump returned nothing")
	}
}

// TestLoadMemoryReadsGzip: a dump file may be gzipped, as the capture
// stores them.
func TestLoadMemoryReadsGzip(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte{1, 2, 3, 4})
	zw.Close()
	if err := os.WriteFile(filepath.Join(dir, "q.bin.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "p.bin"), []byte{9}, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadMemory([]string{filepath.Join(dir, "q.bin.gz") + "@0x2000", filepath.Join(dir, "p.bin") + "@0x1000"})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := m.Read(0x2001, 3); !bytes.Equal(b, []byte{2, 3, 4}) {
		t.Errorf("gzipped dump: read %v, want [2 3 4]", b)
	}
	if m.Dumps[0].GPA != 0x1000 {
		t.Error("dumps not in address order")
	}
	if _, err := LoadMemory([]string{filepath.Join(dir, "nosuch") + "@0x0"}); err == nil || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("missing file: error %v, want one naming it", err)
	}

	// A list of dumps, as the capture writes beside a trace: files
	// relative to the list, comments skipped.
	list := filepath.Join(dir, "trace.mem")
	os.WriteFile(list, []byte("# the queue\nq.bin.gz@0x2000\n\n# the properties\np.bin@0x1000\n"), 0o644)
	m, err = LoadMemory([]string{list})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := m.Read(0x1000, 1); len(m.Dumps) != 2 || !bytes.Equal(b, []byte{9}) {
		t.Errorf("list: %d dumps, byte at 0x1000 %v; want 2 and [9]", len(m.Dumps), b)
	}
	files, err := MemSpecFiles(list)
	if want := []string{list, filepath.Join(dir, "q.bin.gz"), filepath.Join(dir, "p.bin")}; err != nil || !slices.Equal(files, want) {
		t.Errorf("MemSpecFiles(list) = %v, %v; want %v", files, err, want)
	}
	for _, tc := range []struct{ body, want string }{
		{"# nothing\n", "lists no FILE@GPA dump"},
		{"q.bin.gz\n", "trace.mem:1: \"q.bin.gz\": want FILE@GPA"},
	} {
		os.WriteFile(list, []byte(tc.body), 0o644)
		if _, err := LoadMemory([]string{list}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("list %q: error %v, want one saying %q", tc.body, err, tc.want)
		}
	}
	if _, err := LoadMemory([]string{filepath.Join(dir, "nosuch.mem")}); err == nil || !strings.Contains(err.Error(), "neither FILE@GPA nor a list of them") {
		t.Errorf("missing list: error %v", err)
	}
}

// TestGapsSayWhatWasNotChecked: without dumps, the three rules are not
// checked; with a queue dump missing a SYNC's packet and a property dump
// missing an LPI, they are checked in part, and say how much; a dump at
// an address the guest did not program is reported unused.
func TestGapsSayWhatWasNotChecked(t *testing.T) {
	tr := mustParse(t, "lint-missing-inv.log") // maps LPIs 8192 and 8193
	if g := Gaps(tr, nil); len(g) != 3 || !g[0].None || !g[1].None || !g[2].None {
		t.Errorf("no dumps: gaps %v, want the three rules not checked", g)
	}
	m := queueDump(t, tr, nil)
	m.Dumps[0].Data = m.Dumps[0].Data[:8*32] // slots 0-7: the SYNC in slot 10 is cut off
	props := propDump(t, tr, nil)
	props.Dumps[0].Data = props.Dumps[0].Data[:1] // LPI 8192 only
	if err := m.Add("props", props.Dumps[0].GPA, props.Dumps[0].Data); err != nil {
		t.Fatal(err)
	}
	if err := m.Add("elsewhere", 0x10000, []byte{1}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range Gaps(tr, m) {
		got = append(got, fmt.Sprintf("%s %v: %s", g.Rule.Name, g.None, g.Why))
	}
	want := []string{
		"missing-inv false: the property table's dump holds 1 of the 2 LPIs the trace maps",
		"sync-wrong-redistributor false: the queue dump holds the packets of 3 of the trace's 5 SYNCs (the others were written over, or disagree with the trace)",
		"msi-disabled-lpi false: the property table's dump holds 1 of the 2 LPIs the trace maps",
	}
	if !slices.Equal(got, want) {
		t.Errorf("gaps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := FindDumped(tr, m); len(d.Unused) != 1 || d.Unused[0].Name != "elsewhere" || !strings.Contains(strings.Join(d.describe(), "\n"), "the dump elsewhere (0x10000-0x10000) holds neither") {
		t.Errorf("unused dumps %v; described as %q", d.Unused, d.describe())
	}
}

// TestReadDumpGzipDetection: a raw dump that starts with gzip's magic is
// read raw; a .gz file that is not gzipped is refused, naming it.
func TestReadDumpGzipDetection(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "props.bin")
	os.WriteFile(raw, []byte{0x1f, 0x8b, 0x08, 0xa2, 0xa2}, 0o644)
	if b, err := readDump(raw); err != nil || len(b) != 5 {
		t.Errorf("raw dump starting 1f 8b 08: %v, %v; want it read raw", b, err)
	}
	fake := filepath.Join(dir, "q.bin.gz")
	os.WriteFile(fake, []byte{1, 2, 3}, 0o644)
	if _, err := readDump(fake); err == nil || !strings.Contains(err.Error(), "q.bin.gz: named .gz, but not gzipped") {
		t.Errorf("a .gz that is not gzip: %v", err)
	}
}
