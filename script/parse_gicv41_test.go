package script

import (
	"strings"
	"testing"
)

// sample41 holds one of every GICv4.1 statement form.
const sample41 = `gicv4 version=4.1
gicv4
vmapp vpe=1 cpu=0 vpt=0x44000000 bits=16 vconf=0x44100000 db=8250 alloc ptz
vmapp vpe=2 cpu=1 vpt=0x44010000 bits=16 vconf=0x44100000 db=none
vmapp vpe=1 valid=0 alloc
vschedule cpu=0 vpe=1 grp1
vschedule cpu=1 vpe=2 grp0 grp1
vschedule cpu=1 vpe=3 grp0
vdeschedule cpu=0 db
vdeschedule cpu=1
vsgi vpe=1 sgi=3 prio=0x80 group=1 enable
vsgi vpe=1 sgi=15 prio=0x00 group=0 disable
vsgi vpe=1 sgi=3 clear
sgir vpe=1 sgi=3
invdb vpe=1
vinvlpir cpu=0 vpe=1 vlpi=8192
vinvallr cpu=1 vpe=2
expect vsgipending vpe=1 sgi=3,5
expect vsgipending vpe=2 sgi=none cpu=1
`

// Every GICv4.1 statement prints in a form that parses back to the same
// statement.
func TestParseRoundTripGICv41(t *testing.T) {
	s, err := Parse("sample41.its", []byte(sample41))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(s.Stmts), strings.Count(sample41, "\n"); got != want {
		t.Fatalf("parsed %d statements, want %d", got, want)
	}
	again, err := Parse("printed.its", []byte(s.String()))
	if err != nil {
		t.Fatalf("printed script does not parse: %v\n%s", err, s)
	}
	for i := range s.Stmts {
		if a, b := s.Stmts[i].String(), again.Stmts[i].String(); a != b {
			t.Errorf("statement %d: %q printed and parsed again is %q", i, a, b)
		}
		if !sameIgnoringPos(s.Stmts[i], again.Stmts[i]) {
			t.Errorf("statement %d: %q does not round-trip", i, s.Stmts[i])
		}
	}
	// The printed form is the one written, but for the defaults filled in.
	for i, line := range strings.Split(strings.TrimSpace(sample41), "\n") {
		if got := s.Stmts[i].String(); got != line {
			t.Errorf("statement %d prints as %q, want %q", i, got, line)
		}
	}
}

// Bad GICv4.1 statements are refused with an error naming what is wrong.
func TestParseErrorsGICv41(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"gicv4 version=5", "gicv4: version=5: want 4.0 or 4.1"},
		{"vsgi vpe=1 sgi=16 enable", "vsgi: sgi=16: want a vSGI 0..15"},
		{"vsgi vpe=1 sgi=3 prio=0x81 enable", "want a multiple of 0x10"},
		{"vsgi vpe=1 sgi=3 prio=0x80", "vsgi: want enable, disable or clear"},
		{"sgir vpe=1", "sgir: want field sgi= or vintid="},
		{"sgir vpe=1 sgi=20", "want a vSGI 0..15"},
		{"invdb", "invdb: want field vpe="},
		{"vmapp vpe=1 cpu=0 vpt=0x44000000 vconf=0x44101000", "vconf=0x44101000: want a 64 KiB aligned address"},
		{"vinvlpir cpu=0 vpe=1", "vinvlpir: want field vlpi="},
		{"expect vsgipending vpe=1", "want field sgi=N,M... or sgi=none"},
		{"expect vsgipending vpe=1 sgi=3,3", "want distinct vSGIs 0..15"},
		{"expect vsgipending vpe=1 sgi=17", "want distinct vSGIs 0..15"},
	} {
		_, err := Parse("bad.its", []byte(tc.line+"\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.line, err, tc.want)
		}
	}
}
