package replay

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

// golden pairs trace lines, as QEMU 7.2's log backend writes them, with
// the events they are.
var golden = []struct {
	line string
	want Event
}{
	{"gicv3_its_read GICv3 ITS read: offset 0x8 data 0x1f0001efb1 size 8", ITSRead{Offset: 8, Data: 0x1f0001efb1, Size: 8}},
	{"gicv3_its_badread GICv3 ITS read: offset 0x200 size 4: error", ITSBadRead{Offset: 0x200, Size: 4}},
	{"gicv3_its_write GICv3 ITS write: offset 0x88 data 0x1e0 size 8", ITSWrite{Offset: 0x88, Data: 0x1e0, Size: 8}},
	{"gicv3_its_badwrite GICv3 ITS write: offset 0x200 data 0x1 size 4: error", ITSBadWrite{Offset: 0x200, Data: 1, Size: 4}},
	{"gicv3_its_translation_write GICv3 ITS TRANSLATER write: offset 0x40 data 0x1 size 4 requester_id 0x8", TranslationWrite{Offset: 0x40, Data: 1, Size: 4, RequesterID: 8}},
	{"gicv3_its_process_command GICv3 ITS: processing command at offset 0x1f: 0xa", ProcessCommand{Offset: 0x1f, Opcode: model.OpMAPTI}},
	{"gicv3_its_cmd_int GICv3 ITS: command INT DeviceID 0x8 EventID 0x2", CmdINT{DeviceID: 8, EventID: 2}},
	{"gicv3_its_cmd_clear GICv3 ITS: command CLEAR DeviceID 0x8 EventID 0x2", CmdCLEAR{DeviceID: 8, EventID: 2}},
	{"gicv3_its_cmd_discard GICv3 ITS: command DISCARD DeviceID 0x8 EventID 0x2", CmdDISCARD{DeviceID: 8, EventID: 2}},
	{"gicv3_its_cmd_sync GICv3 ITS: command SYNC", CmdSYNC{}},
	{"gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Size 0x1 ITT_addr 0x401234 V 1", CmdMAPD{DeviceID: 8, Size: 1, ITTAddr: 0x401234, Valid: true}},
	{"gicv3_its_cmd_mapc GICv3 ITS: command MAPC ICID 0x1 RDbase 0x1 V 1", CmdMAPC{ICID: 1, RDbase: 1, Valid: true}},
	{"gicv3_its_cmd_mapi GICv3 ITS: command MAPI DeviceID 0x8 EventID 0x2000 ICID 0x0", CmdMAPI{DeviceID: 8, EventID: 0x2000}},
	{"gicv3_its_cmd_mapti GICv3 ITS: command MAPTI DeviceID 0x8 EventID 0x1 ICID 0x3 pINTID 0x2001", CmdMAPTI{DeviceID: 8, EventID: 1, ICID: 3, INTID: 0x2001}},
	{"gicv3_its_cmd_inv GICv3 ITS: command INV DeviceID 0x8 EventID 0x1", CmdINV{DeviceID: 8, EventID: 1}},
	{"gicv3_its_cmd_invall GICv3 ITS: command INVALL", CmdINVALL{}},
	{"gicv3_its_cmd_movall GICv3 ITS: command MOVALL RDbase1 0x0 RDbase2 0x3", CmdMOVALL{RDbase2: 3}},
	{"gicv3_its_cmd_movi GICv3 ITS: command MOVI DeviceID 0x8 EventID 0x1 ICID 0x0", CmdMOVI{DeviceID: 8, EventID: 1}},
	{"gicv3_its_cmd_unknown GICv3 ITS: unknown command 0x7", CmdUnknown{Opcode: 7}},
	{"gicv3_its_cte_read GICv3 ITS: Collection Table read for ICID 0x1: valid 1 RDBase 0x1", CTERead{ICID: 1, Valid: true, RDbase: 1}},
	{"gicv3_its_cte_write GICv3 ITS: Collection Table write for ICID 0x1: valid 0 RDBase 0x0", CTEWrite{ICID: 1}},
	{"gicv3_its_cte_read_fault GICv3 ITS: Collection Table read for ICID 0x1: faulted", CTEReadFault{ICID: 1}},
	{"gicv3_its_ite_read GICv3 ITS: Interrupt Table read for ITTaddr 0x40123400 EventID 0x1: valid 1 inttype 1 intid 0x2001 ICID 0x1 vPEID 0x0 doorbell 0x3ff",
		ITERead{ITTAddr: 0x40123400, EventID: 1, Valid: true, IntType: IntTypePhysical, INTID: 0x2001, ICID: 1, Doorbell: 1023}},
	{"gicv3_its_ite_write GICv3 ITS: Interrupt Table write for ITTaddr 0x40123400 EventID 0x2: valid 0 inttype 0 intid 0x0 ICID 0x0 vPEID 0x0 doorbell 0x0",
		ITEWrite{ITTAddr: 0x40123400, EventID: 2}},
	{"gicv3_its_ite_read_fault GICv3 ITS: Interrupt Table read for ITTaddr 0x40123400 EventID 0x1: faulted", ITEReadFault{ITTAddr: 0x40123400, EventID: 1}},
	{"gicv3_its_dte_read GICv3 ITS: Device Table read for DeviceID 0x8: valid 1 size 0x1 ITTaddr 0x40123400", DTERead{DeviceID: 8, Valid: true, Size: 1, ITTAddr: 0x40123400}},
	{"gicv3_its_dte_write GICv3 ITS: Device Table write for DeviceID 0x8: valid 1 size 0x1 ITTaddr 0x401234", DTEWrite{DeviceID: 8, Valid: true, Size: 1, ITTAddr: 0x401234}},
	{"gicv3_its_dte_read_fault GICv3 ITS: Device Table read for DeviceID 0x8: faulted", DTEReadFault{DeviceID: 8}},
	{"gicv3_redist_read GICv3 redistributor 0x1 read: offset 0x8 data 0x100000111 size 8 secure 0", RedistRead{Affinity: 1, Offset: 8, Data: 0x100000111, Size: 8}},
	{"gicv3_redist_badread GICv3 redistributor 0x1 read: offset 0x3000 size 4 secure 1: error", RedistBadRead{Affinity: 1, Offset: 0x3000, Size: 4, Secure: true}},
	{"gicv3_redist_write GICv3 redistributor 0x10 write: offset 0x0 data 0x1 size 4 secure 0", RedistWrite{Affinity: 0x10, Data: 1, Size: 4}},
	{"gicv3_redist_badwrite GICv3 redistributor 0x0 write: offset 0x3000 data 0x5 size 4 secure 0: error", RedistBadWrite{Offset: 0x3000, Data: 5, Size: 4}},
	{"gicv3_redist_set_irq GICv3 redistributor 0x0 interrupt 27 level changed to 1", RedistSetIRQ{IRQ: 27, Level: 1}},
	{"gicv3_redist_send_sgi GICv3 redistributor 0x2 pending SGI 1", RedistSendSGI{Affinity: 2, IRQ: 1}},
	{"gicv3_icc_iar1_read GICv3 ICC_IAR1 read cpu 0x1 value 0x2001", ICCIAR1Read{Affinity: 1, Value: 0x2001}},
	{"gicv3_icc_eoir_write GICv3 ICC_EOIR1 write cpu 0x1 value 0x2001", ICCEOIRWrite{Group: 1, Affinity: 1, Value: 0x2001}},
}

func TestParseGoldenLines(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range golden {
		seen[g.want.Name()] = true
		for _, prefix := range []string{"", "1234@1700000000.000042:", "2024-05-01T10:00:00.123456Z ", "2024-05-01T10:00:00.123456Z (1234) "} {
			tr, err := Parse(strings.NewReader(prefix + g.line + "\n"))
			if err != nil {
				t.Errorf("%q: %v", prefix+g.line, err)
				continue
			}
			if len(tr.Records) != 1 || !reflect.DeepEqual(tr.Records[0], Record{Line: 1, Event: g.want}) {
				t.Errorf("%q parses as %+v, want %#v", prefix+g.line, tr.Records, g.want)
			}
		}
		if got := g.want.Name() + " " + Message(g.want); got != g.line {
			t.Errorf("%#v prints as\n%q, want\n%q", g.want, got, g.line)
		}
	}
	for _, name := range Kinds() {
		if !seen[name] {
			t.Errorf("no golden line for %s", name)
		}
	}
}

func TestParseMalformedLinesNameTheLineAndTheFormat(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0xzz Size 0x1 ITT_addr 0x1 V 1",
			[]string{"line 2: gicv3_its_cmd_mapd: at column 36: want a hexadecimal number", `"GICv3 ITS: command MAPD DeviceID 0x%x Size 0x%x ITT_addr 0x%x V %d"`}},
		{"gicv3_its_cmd_mapd DevID 0x8 Size 0x1 ITT_addr 0x1 V 1",
			[]string{"line 2: gicv3_its_cmd_mapd: at column 1: want \"GICv3 ITS: command MAPD DeviceID 0x\""}},
		{"gicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Size 0x1 ITT_addr 0x1 V 2",
			[]string{"line 2:", "Valid: 2 is not 0 or 1"}},
		{"gicv3_its_cmd_mapc GICv3 ITS: command MAPC ICID 0x10000 RDbase 0x1 V 1",
			[]string{"line 2:", "ICID: 0x10000 does not fit 16 bits"}},
		{"gicv3_its_cmd_sync GICv3 ITS: command SYNC now",
			[]string{"line 2: gicv3_its_cmd_sync: at column 24: want the end of the line"}},
		{"gicv3_its_cmd_int GICv3 ITS: command INT DeviceID 0x8 EventID 0x123456789",
			[]string{"line 2:", "EventID: 0x123456789 does not fit 32 bits"}},
	} {
		_, err := Parse(strings.NewReader("gicv3_its_cmd_sync GICv3 ITS: command SYNC\n" + tc.line + "\n"))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: err = %v, want a *ParseError", tc.line, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error\n%v\ndoes not say %q", tc.line, err, w)
			}
		}
	}
}

func TestParseKeepsEveryLine(t *testing.T) {
	tr := parseTestdata(t, "boot-2cpu.log")
	if got := len(tr.Records) + len(tr.Unknown) + len(tr.Foreign); got != tr.Lines || tr.Lines != 123 {
		t.Fatalf("%d lines: %d records, %d unknown, %d foreign", tr.Lines, len(tr.Records), len(tr.Unknown), len(tr.Foreign))
	}
	if u := tr.Unknown; len(u) != 1 || u[0] != (Line{Number: 44, Name: "gicv3_dist_write", Text: "gicv3_dist_write GICv3 distributor write: offset 0x6108 data 0x100 size 8 secure 0"}) {
		t.Errorf("unknown lines: %+v", u)
	}
	if f := tr.Foreign; len(f) != 1 || f[0].Number != 103 || !strings.HasPrefix(f[0].Text, "process_its_cmd: ") {
		t.Errorf("foreign lines: %+v", f)
	}
	last := 0
	for _, r := range tr.Records {
		if r.Line <= last {
			t.Fatalf("record at line %d after line %d", r.Line, last)
		}
		last = r.Line
	}
}

func TestParseGzipped(t *testing.T) {
	plain, err := os.ReadFile("testdata/boot-2cpu.log")
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(plain)
	zw.Close()
	want, err := Parse(bytes.NewReader(plain))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(&z)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Gzipped || want.Gzipped {
		t.Errorf("Gzipped: plain %v, gzipped %v", want.Gzipped, got.Gzipped)
	}
	got.Gzipped = false
	if !reflect.DeepEqual(got, want) {
		t.Error("the gzipped trace parses differently from the plain one")
	}
}

func TestParseCRLFAndCutLastLine(t *testing.T) {
	in := "gicv3_its_cmd_sync GICv3 ITS: command SYNC\r\ngicv3_its_cmd_mapd GICv3 ITS: command MAPD DeviceID 0x8 Si"
	tr, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Records) != 1 || tr.Lines != 2 || len(tr.Foreign) != 1 || !strings.Contains(tr.Foreign[0].Why, "cut short") {
		t.Errorf("got %+v", tr)
	}
}

func TestParseRefusesWhatIsNoTrace(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", ErrEmpty},
		{"hello\nworld\n", ErrNoEvents},
		{"arm_gt_recalc timer 1 irqstate 0 nexttick 0 tval 0\n", ErrNoEvents},
		{"\x00\x01\x02 binary", ErrNoEvents},
	} {
		tr, err := Parse(strings.NewReader(tc.in))
		if tr != nil || !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %v, %v; want nil, %v", tc.in, tr, err, tc.want)
		}
	}
	if _, err := Parse(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("a broken gzip header: %v", err)
	}
}

func TestParseFileNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/bad.log"
	os.WriteFile(bad, []byte("gicv3_its_cmd_sync GICv3 ITS: command SYNC\ngicv3_its_cmd_sync oops\n"), 0o644)
	empty := dir + "/empty.log"
	os.WriteFile(empty, nil, 0o644)
	for path, want := range map[string]string{
		bad:                  bad + ":2: gicv3_its_cmd_sync:",
		empty:                empty + ": the trace is empty",
		dir + "/missing.log": dir + "/missing.log",
	} {
		if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFile(%s): %v, want it to say %q", path, err, want)
		}
	}
}

func parseTestdata(t testing.TB, name string) *Trace {
	t.Helper()
	tr, err := ParseFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestParseFileCutShortGzip: a gzipped trace cut short names the line and
// says what is wrong, not only "unexpected EOF".
func TestParseFileCutShortGzip(t *testing.T) {
	whole, err := os.ReadFile("../testdata/qemutrace/linux-6.1-smp2.log.gz")
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.log.gz")
	if err := os.WriteFile(cut, whole[:len(whole)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ParseFile(cut)
	if err == nil || !strings.Contains(err.Error(), "the gzipped trace is cut short or corrupt at line ") || !strings.Contains(err.Error(), cut) {
		t.Errorf("ParseFile of a cut gzip: %v", err)
	}
}
