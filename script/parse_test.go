package script

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gicits/gicits/model"
)

const sample = `# a sample
cpus 2
ram mib=128
itt entrysize=12
queue pages=2 at=0x47000000
devtable indirect pagesize=64k pages=1 at=0x46000000
colltable pages=1 at=0x46100000
gicv4
vpetable indirect pagesize=4k pages=2 at=0x46200000
itses 2
lpi 8193..8195 prio=0xa0 enabled
enablelpis all
mapd dev=0x10 bits=5
MAPD dev=0x11 bits=2 itt=0x40900000
mapc icid=1 cpu=1
MAPC icid=2 rdbase=0
mapc icid=2 valid=0
mapti dev=0x10 ev=1 lpi=8193 icid=1
MAPTI dev=0x10 ev=2 lpi=8194 icid=0
mapi dev=0x10 ev=8195 icid=0
movi dev=0x10 ev=1 icid=0
movall from=0 to=1
its 1
its 0
MOVALL rdbase1=1 rdbase2=0
discard dev=0x10 ev=2
inv dev=0x10 ev=1
int dev=0x10 ev=1
clear dev=0x10 ev=1
invall icid=1
sync cpu=1
SYNC rdbase=0
raw 0500000000000000 0000000000000000 0000010000000000 0000000000000000
repeat 3 sync cpu=0
l2page dev=0x20
msi dev=0x10 ev=1
msi dev=0x10 ev=1 devid=none doorbell=0x8090040
route gsi=5 dev=0x10 ev=1 devid=valid
unroute gsi=5
batch mapd dev=0x10 bits=2; mapti dev=0x10 ev=0 lpi=8192 icid=0; sync cpu=0
trigger gsi=5
ack cpu=1
eoi cpu=1
eoi cpu=1 lpi=8193
pmr cpu=0 value=0xf0
invlpir cpu=0 lpi=8193
invallr cpu=1
write GITS_CTLR value=0x1
write gicr_ctlr cpu=1 value=0
poke addr=0x40800000 value=0x1
save
restore
restore inplace
vmapp vpe=1 cpu=0 vpt=0x44000000
VMAPP vpeid=2 rdbase=1 vpt=0x44010000 bits=17
vmapp vpe=1 valid=0
vmapti dev=0x10 ev=0 vpe=1 vlpi=8192
vmapti dev=0x10 ev=1 vpe=1 vlpi=8193 db=8200
VMAPTI dev=0x10 ev=2 vintid=8194 vpeid=1 db=1023
vmapi dev=0x10 ev=8195 vpe=2 db=none
vmovi dev=0x10 ev=0 vpe=2
vmovi dev=0x10 ev=0 vpe=2 db=none
vmovi dev=0x10 ev=0 vpe=2 db=8201
vmovp vpe=1 cpu=1
vmovp vpe=1 cpu=0 seq=3 itslist=0x1
vsync vpe=1
vinvall vpe=2
batch vmapp vpe=3 cpu=0 vpt=0x44020000; vmapti dev=0x10 ev=3 vpe=3 vlpi=8196; vsync vpe=3
repeat 2 vsync vpe=1
vlpi 8192 table=0x44100000 prio=0xa0 enabled
vlpi 8192..8300 table=0x44100000 prio=0x80 disabled
vschedule cpu=0 vpt=0x44000000 vprop=0x44100000
vschedule cpu=1 vpt=0x44010000 vprop=0x44100000 bits=14 idai
vdeschedule cpu=1
vack cpu=0
veoi cpu=0
veoi cpu=0 vlpi=8192
vpmr cpu=0 value=0x80
write GICR_VPROPBASER cpu=0 value=0x44100000f
write gicr_vpendbaser cpu=0 value=0x8000000044000000
expect pending cpu=1 lpi=8193,8194
expect pending cpu=1 lpis=8194,8193
expect notpending cpu=0 lpi=8193
expect idle cpu=0
expect ack cpu=1 lpi=8193
expect ack cpu=0 spurious
expect msi delivered
expect msi blocked
expect error E_ITS_MAPTI_UNMAPPED_DEVICE
expect error 0x010801
expect error any
expect error E_ITS_MAPD_DEVICE_OOR|E_ITS_MAPD_ITTSIZE_OOR
expect ack cpu=0 lpi=8193|8194
expect fail
expect fail busy
expect reg GITS_CREADR value=0x20 mask=0xfffe0
expect reg GICR_CTLR cpu=0 value=1 mask=1
expect mem addr=0x40090000 value=0x0
expect mem addr=0x40090000 value=0x8000000000000000 mask=0x8000000000000000
expect stalled
expect notstalled
expect dte dev=0x10 bits=5 itt=0x40800000 next=0
expect dte dev=0x12 invalid
expect translate dev=0x10 ev=1 lpi=8193 cpu=1
expect translate dev=0x10 ev=2 blocked
expect ite dev=0x10 ev=1 lpi=8193 icid=1 next=1
expect ite dev=0x10 ev=3 invalid
expect cte icid=1 cpu=1
expect cte icid=5 unmapped
expect cte icid=6 absent
expect vpending cpu=0 vlpi=8192,8193
expect vpending cpu=0 vlpis=8193,8192
expect vnotpending cpu=1 vlpi=8192
expect vidle cpu=1
expect vack cpu=0 vlpi=8192
expect vack cpu=0 vlpi=8192|8193
expect vack cpu=0 spurious
expect vpt at=0x44000000 vlpi=8192 pending
expect vpt at=0x44000000 vlpi=8193 clear
expect vte vpe=1 cpu=0 vpt=0x44000000 bits=16
expect vte vpe=7 invalid
expect vte vpe=2
expect ite dev=0x10 ev=0 vpe=1 vlpi=8192 db=none next=1
expect ite dev=0x10 ev=1 vpe=1 db=8200
expect reg GICR_VPENDBASER cpu=0 value=0x2000000000000000 mask=0x2000000000000000
expect error E_ITS_VMAPTI_VPEID_OOR
`

// TestParseRoundTrip checks that every statement prints in a form that
// parses back to the same statement.
func TestParseRoundTrip(t *testing.T) {
	s, err := Parse("sample.its", []byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Stmts), strings.Count(sample, "\n")-1; got != want {
		t.Fatalf("parsed %d statements, want %d", got, want)
	}
	printed := s.String()
	again, err := Parse("printed.its", []byte(printed))
	if err != nil {
		t.Fatalf("printed script does not parse: %v\n%s", err, printed)
	}
	for i := range s.Stmts {
		if a, b := s.Stmts[i].String(), again.Stmts[i].String(); a != b {
			t.Errorf("statement %d: %q printed and parsed again is %q", i, a, b)
		}
		if !sameIgnoringPos(s.Stmts[i], again.Stmts[i]) {
			t.Errorf("statement %d: %q does not round-trip: %#v vs %#v", i, s.Stmts[i], s.Stmts[i], again.Stmts[i])
		}
	}
}

func sameIgnoringPos(a, b Stmt) bool {
	return reflect.DeepEqual(stripPos(a), stripPos(b))
}

func stripPos(s Stmt) Stmt {
	{
		v := reflect.ValueOf(s)
		if v.Kind() != reflect.Pointer {
			return s
		}
		c := reflect.New(v.Elem().Type())
		c.Elem().Set(v.Elem())
		if f := c.Elem().FieldByName("At"); f.IsValid() {
			f.Set(reflect.Zero(f.Type()))
		}
		if f := c.Elem().FieldByName("Body"); f.IsValid() && !f.IsNil() {
			f.Set(reflect.ValueOf(stripPos(f.Interface().(Stmt))))
		}
		if b, ok := c.Interface().(*BatchStmt); ok {
			cmds := make([]*CommandStmt, len(b.Cmds))
			for i, cmd := range b.Cmds {
				cmds[i] = stripPos(cmd).(*CommandStmt)
			}
			b.Cmds = cmds
		}
		return c.Interface().(Stmt)
	}
}

// TestKVMField: an expectation's kvm= field names the divergence classes
// that make it fail on KVM, and prints back.
func TestKVMField(t *testing.T) {
	const src = "expect pending cpu=1 lpis=8192 kvm=movall,discard-pending\nexpect idle cpu=0\n"
	s, err := Parse("k.its", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Stmts[0].(*ExpectPendingStmt).KVMClasses(); !reflect.DeepEqual(got, []string{"movall", "discard-pending"}) {
		t.Errorf("kvm= classes = %q, want [movall discard-pending]", got)
	}
	if got := s.Stmts[1].(*ExpectPendingStmt).KVMClasses(); got != nil {
		t.Errorf("no kvm= field gives classes %q", got)
	}
	if s.String() != "expect pending cpu=1 lpis=8192 kvm=movall,discard-pending\nexpect idle cpu=0\n" {
		t.Errorf("printed as:\n%s", s)
	}
}

// TestModelCommandStrings checks that the model's own String() of every
// command is a statement.
func TestModelCommandStrings(t *testing.T) {
	cmds := []model.Command{
		model.MAPD{DeviceID: 0x10, Size: 4, ITTAddr: 0x40800000, Valid: true},
		model.MAPD{DeviceID: 0x10},
		model.MAPC{ICID: 1, RDbase: 1, Valid: true},
		model.MAPC{ICID: 1},
		model.MAPTI{DeviceID: 0x10, EventID: 1, INTID: 8193, ICID: 1},
		model.MAPI{DeviceID: 0x10, EventID: 8193, ICID: 1},
		model.MOVI{DeviceID: 0x10, EventID: 1, ICID: 2},
		model.DISCARD{DeviceID: 0x10, EventID: 1},
		model.INV{DeviceID: 0x10, EventID: 1},
		model.INT{DeviceID: 0x10, EventID: 1},
		model.CLEAR{DeviceID: 0x10, EventID: 1},
		model.INVALL{ICID: 3},
		model.SYNC{RDbase: 1},
		model.MOVALL{RDbase1: 0, RDbase2: 1},
		model.VMAPP{VPEID: 1, RDbase: 1, VPTAddr: 0x44000000, VPTSize: 15, Valid: true},
		model.VMAPP{VPEID: 1},
		model.VMAPTI{DeviceID: 0x10, EventID: 1, VINTID: 8192, VPEID: 1, Doorbell: model.NoDoorbell},
		model.VMAPTI{DeviceID: 0x10, EventID: 1, VINTID: 8192, VPEID: 1, Doorbell: 8200},
		model.VMAPI{DeviceID: 0x10, EventID: 8192, VPEID: 2, Doorbell: model.NoDoorbell},
		model.VMOVI{DeviceID: 0x10, EventID: 1, VPEID: 2, D: true, Doorbell: 8201},
		model.VMOVI{DeviceID: 0x10, EventID: 1, VPEID: 2},
		model.VMOVP{VPEID: 1, RDbase: 1},
		model.VMOVP{VPEID: 1, RDbase: 1, SequenceNumber: 2, ITSList: 3},
		model.VSYNC{VPEID: 1},
		model.VINVALL{VPEID: 1},
	}
	for _, c := range cmds {
		st, err := ParseStatement("t.its", 1, c.String())
		if err != nil {
			t.Errorf("%v: %v", c, err)
			continue
		}
		cs, ok := st.(*CommandStmt)
		if !ok || !reflect.DeepEqual(cs.Cmd, c) {
			t.Errorf("%v parsed as %#v", c, st)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"mapx dev=1", "e.its:1:1: want a statement ("},
		{"mapd dev=0x10", `e.its:1:14: mapd: want field bits=, found end of line`},
		{"  mapti dev=zz ev=1 lpi=8193 icid=0", `e.its:1:9: mapti: dev= wants a number (decimal or 0x hex), found "zz"`},
		{"mapc icid=70000 cpu=0", "e.its:1:6: mapc: icid=70000 does not fit 16 bits"},
		{"msi dev=1 ev=2 color=red", "e.its:1:16: msi: unexpected field color="},
		{"expect", "e.its:1:7: expect: want one of"},
		{"expect wibble", `e.its:1:8: expect: want one of`},
		{"expect error E_NOPE", `e.its:1:14: expect error: want an ITS error code`},
		{"mapd dev=1 bits=2\ncpus 2", "e.its:2:1: cpus: settings must come before the first action (line 1)"},
		{"raw 0102", `e.its:1:5: raw: want 64 hex digits`},
		{"repeat 0 sync cpu=0", "e.its:1:8: repeat: want a count"},
		{"repeat 2 expect idle cpu=0", "e.its:1:10: repeat: want an action"},
		{"lpi 100 prio=0 enabled", "e.its:1:5: lpi: want an LPI INTID"},
		{"write GITS_FOO value=1", `e.its:1:7: write: want a register`},
		{"mapd dev=1 bits=2 dev=3", "e.its:1:19: mapd: field dev= given twice"},
		{"sync cpu=1 rdbase=1", "e.its:1:12: sync: give cpu= or rdbase=, not both"},
		{"expect idle cpu=0 kvm=Movall!", "e.its:1:19: expect idle: kvm=movall!: want a comma-separated list of divergence classes"},
		{"expect idle cpu=0 kvm=a,,b", "e.its:1:19: expect idle: kvm=a,,b: want a comma-separated list"},
		{"ack cpu=0 kvm=movall", "e.its:1:11: ack: unexpected field kvm="},
		{"itt entrysize=7", "e.its:1:5: itt: entrysize=7: want 8..16 bytes (GITS_TYPER.ITT_entry_size + 1; KVM's is 8, QEMU's 12)"},
		{"itt entrysize=17", "e.its:1:5: itt: entrysize=17: want 8..16 bytes"},
		{"itt", "e.its:1:4: itt: want field entrysize=, found end of line"},
		{"itt entrysize=12 bits=3", "e.its:1:18: itt: unexpected field bits="},
		{"mapd dev=1 bits=2\nitt entrysize=12", "e.its:2:1: itt: settings must come before the first action (line 1)"},
		{"vsync vpe=1\ngicv4", "e.its:2:1: gicv4: settings must come before the first action (line 1)"},
		{"gicv4\nitt entrysize=8", "e.its:2:1: itt: entrysize=8 with gicv4: want 12..16 bytes (a virtual ITE needs 12)"},
		{"vpetable flat", "e.its:1:1: vpetable: want the gicv4 setting too"},
		{"gicv4\nvpetable", "e.its:2:10: vpetable: want flat or indirect"},
		{"gicv4\nvpetable flat pagesize=8k", `e.its:2:15: vpetable: pagesize= wants 4k, 16k or 64k, found "8k"`},
		{"gicv4\nvpetable flat at=0x44001000", "e.its:2:15: vpetable: at=0x44001000: want an address aligned to the 64 KiB page size"},
		{"vmapp vpe=1 cpu=0", "e.its:1:18: vmapp: want field vpt=, found end of line"},
		{"vmapp vpe=1 cpu=0 vpt=0x44001000", "e.its:1:19: vmapp: vpt=0x44001000: want a 64 KiB aligned address"},
		{"vmapp vpe=1 cpu=0 vpt=0x44000000 bits=0", "e.its:1:34: vmapp: bits=0: want 1..256 vINTID bits (VPT_size + 1)"},
		{"vmapp vpe=70000 cpu=0 vpt=0", "e.its:1:7: vmapp: vpe=70000 does not fit 16 bits"},
		{"vmapp vpe=1 vpeid=1 cpu=0 vpt=0", "e.its:1:13: vmapp: give vpe= or vpeid=, not both"},
		{"vmapti dev=1 ev=0 vpe=1", "e.its:1:24: vmapti: want field vlpi= or vintid=, found end of line"},
		{"vmapti dev=1 ev=0 vpe=1 vlpi=8192 db=bell", `e.its:1:35: vmapti: db= wants a number (decimal or 0x hex), found "bell"`},
		{"vmovp vpe=1", "e.its:1:12: vmovp: want field cpu= or rdbase=, found end of line"},
		{"vsync", "e.its:1:6: vsync: want field vpe= or vpeid=, found end of line"},
		{"vlpi 8192 prio=0xa0 enabled", "e.its:1:28: vlpi: want field table=, found end of line"},
		{"vlpi 100 table=0x44100000 prio=0xa0 enabled", "e.its:1:6: vlpi: want a vINTID (8192 and up)"},
		{"vlpi 8192 table=0x44100800 prio=0xa0 enabled", "e.its:1:11: vlpi: table=0x44100800: want a 4 KiB aligned address"},
		{"vlpi 8192 table=0x44100000 prio=0xa0", "e.its:1:37: vlpi: want enabled or disabled"},
		{"vschedule cpu=0 vpt=0x44000000 vprop=0x44100000 bits=12", "e.its:1:49: vschedule: bits=12: want 14..32 vINTID bits"},
		{"vschedule cpu=0 vpt=0x44000000 vprop=0x44100000 idai=1", "e.its:1:49: vschedule: unexpected field idai="},
		{"vschedule cpu=0 vpt=0x44000000 vprop=0x44100100", "e.its:1:32: vschedule: vprop=0x44100100: want a 4 KiB aligned address"},
		{"veoi cpu=0 lpi=8192", "e.its:1:12: veoi: unexpected field lpi="},
		{"expect vpending cpu=0 lpi=8192", "e.its:1:31: expect vpending: want field vlpi=, found end of line"},
		{"expect vack cpu=0", "e.its:1:18: expect vack: want vlpi=N or spurious, found end of line"},
		{"expect vpt at=0x44000000 vlpi=8192", "e.its:1:35: expect vpt: want pending or clear, found end of line"},
		{"expect vte cpu=0", "e.its:1:17: expect vte: want field vpe= or vpeid=, found end of line"},
		{"expect ite dev=1 ev=0 vpe=1 lpi=8192", "e.its:1:29: expect ite: want the fields of a virtual ITE (vpe=, vlpi=, db=, next=) or of a physical one (lpi=, icid=, next=), found lpi= with vpe=/vlpi=/db="},
		{"expect ite dev=1 ev=0 vlpi=8192", "e.its:1:32: expect ite: a virtual ITE wants field vpe=, found end of line"},
		{"repeat 2 vpmr cpu=0 value=0x80 kvm=x", "e.its:1:32: vpmr: unexpected field kvm="},
	} {
		_, err := Parse("e.its", []byte(tc.src))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error starting %q", tc.src, err, tc.want)
		}
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q): error %T is not a *script.Error", tc.src, err)
		}
	}
}

func corpusFiles(tb testing.TB) []string {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "conformance", "*.its"))
	if err != nil {
		tb.Fatal(err)
	}
	return files
}

// FuzzParse checks that Parse never panics and returns either statements
// or an error with a position, and that what it accepts prints back to a
// script that parses to the same text.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	for _, file := range corpusFiles(f) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		s, err := Parse("f.its", src)
		if (s == nil) == (err == nil) {
			t.Fatalf("Parse returned script %v and error %v: want exactly one", s, err)
		}
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.Line < 1 || pe.Pos.Col < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		printed := s.String()
		again, err := Parse("printed.its", []byte(printed))
		if err != nil {
			t.Fatalf("printed script does not parse: %v\n%s", err, printed)
		}
		if again.String() != printed {
			t.Fatalf("print/parse/print differs:\n%s\nvs\n%s", printed, again.String())
		}
	})
}
