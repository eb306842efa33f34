package fidelity_test

import (
	"testing"

	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/internal/fidelity"
	"github.com/gicits/gicits/internal/fidelity/entries"
	"github.com/gicits/gicits/script"
)

// setup is the start of every stream below: 3 CPUs, 4 LPIs, collections
// 0..2 on CPUs 0..2, device 0x10 mapped.
const setup = `cpus 3
lpi 8192..8193 prio=0xa0 enabled
lpi 8194 prio=0x84 enabled
lpi 8195 prio=0x80 enabled
lpi 8196 prio=0xf8 enabled
enablelpis all
mapc icid=0 cpu=0
mapc icid=1 cpu=1
mapc icid=2 cpu=2
mapd dev=0x10 bits=3
`

// TestClassify: each classifier takes the divergence KVM shows on a
// stream that meets its behaviour, on the kernels it shows on, and no
// other; a divergence no entry explains is nil.
func TestClassify(t *testing.T) {
	end := difftest.EndLine
	tests := []struct {
		name   string
		stream string
		div    difftest.Divergence // Index is filled in: the statement at Line
		kernel string
		want   string
	}{
		{"movall moves another CPU's LPI", `mapti dev=0x10 ev=0 lpi=8192 icid=0
mapti dev=0x10 ev=1 lpi=8193 icid=2
msi dev=0x10 ev=0
msi dev=0x10 ev=1
movall from=0 to=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=1", A: "[8192]", B: "[8192 8193]"}, "6.12", "movall"},
		{"movall moves an LPI an earlier MOVALL retargeted (seeds 274, 289)", `mapti dev=0x10 ev=0 lpi=8192 icid=2
movall from=2 to=1
movall from=0 to=2
msi dev=0x10 ev=0
ack cpu=2
save
`, difftest.Divergence{Line: 15, What: "ack cpu=2", A: "1023 (spurious)", B: "8192"}, "6.12", "movall"},
		{"movall does not show on 6.1", `mapti dev=0x10 ev=0 lpi=8192 icid=0
mapti dev=0x10 ev=1 lpi=8193 icid=2
msi dev=0x10 ev=0
msi dev=0x10 ev=1
movall from=0 to=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=1", A: "[8192]", B: "[8192 8193]"}, "6.1", ""},
		{"movall: KVM shows the LPI on a CPU that is not RDbase2", `mapti dev=0x10 ev=1 lpi=8193 icid=2
msi dev=0x10 ev=1
movall from=0 to=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=0", A: "[]", B: "[8193]"}, "6.12", ""},
		{"movall: the LPI moved by MOVI after the MOVALL", `mapti dev=0x10 ev=1 lpi=8193 icid=2
movall from=0 to=1
movi dev=0x10 ev=1 icid=0
msi dev=0x10 ev=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=1", A: "[]", B: "[8193]"}, "6.12", ""},
		{"no MOVALL, no movall", `mapti dev=0x10 ev=1 lpi=8193 icid=2
msi dev=0x10 ev=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=1", A: "[]", B: "[8193]"}, "6.12", ""},
		{"discarded while pending", `mapti dev=0x10 ev=0 lpi=8192 icid=0
msi dev=0x10 ev=0
discard dev=0x10 ev=0
ack cpu=0
save
`, difftest.Divergence{Line: 14, What: "ack cpu=0", A: "1023 (spurious)", B: "8192"}, "6.1", "discard-pending"},
		{"discarded while pending, mapped again, discarded, moved by MOVALL (seed 152)", `mapti dev=0x10 ev=0 lpi=8192 icid=0
int dev=0x10 ev=0
discard dev=0x10 ev=0
mapti dev=0x10 ev=1 lpi=8192 icid=0
discard dev=0x10 ev=1
movall from=2 to=1
ack cpu=1
save
`, difftest.Divergence{Line: 17, What: "ack cpu=1", A: "1023 (spurious)", B: "8192"}, "6.12", "discard-pending"},
		{"discarded while pending, then mapped again elsewhere (seed 2001044 on 6.12)", `mapti dev=0x10 ev=2 lpi=8193 icid=0
movi dev=0x10 ev=2 icid=1
msi dev=0x10 ev=2
discard dev=0x10 ev=2
mapti dev=0x10 ev=3 lpi=8193 icid=0
msi dev=0x10 ev=3
save
`, difftest.Divergence{Line: end, What: "pending cpu=0", A: "[8193]", B: "[]"}, "6.12", "discard-pending"},
		{"discarded while pending, not mapped again, KVM not showing it: no class", `mapti dev=0x10 ev=2 lpi=8193 icid=0
msi dev=0x10 ev=2
discard dev=0x10 ev=2
save
`, difftest.Divergence{Line: end, What: "pending cpu=0", A: "[8193]", B: "[]"}, "6.1", ""},
		{"discarded after CLEAR is not discard-pending", `mapti dev=0x10 ev=0 lpi=8192 icid=0
msi dev=0x10 ev=0
clear dev=0x10 ev=0
discard dev=0x10 ev=0
ack cpu=0
save
`, difftest.Divergence{Line: 15, What: "ack cpu=0", A: "1023 (spurious)", B: "8192"}, "6.1", ""},
		{"reused INTID keeps its old target", `mapti dev=0x10 ev=0 lpi=8192 icid=0
msi dev=0x10 ev=0
clear dev=0x10 ev=0
discard dev=0x10 ev=0
mapti dev=0x10 ev=1 lpi=8192 icid=1
msi dev=0x10 ev=1
ack cpu=0
save
`, difftest.Divergence{Line: 17, What: "ack cpu=0", A: "1023 (spurious)", B: "8192"}, "6.12", "reused-intid"},
		{"reused INTID does not read its pending bit (seed 160 on 6.1)", `mapti dev=0x10 ev=0 lpi=8192 icid=1
msi dev=0x10 ev=0
save
clear dev=0x10 ev=0
discard dev=0x10 ev=0
mapti dev=0x10 ev=1 lpi=8192 icid=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=1", A: "[8192]", B: "[]"}, "6.1", "reused-intid"},
		{"reused INTID keeps its cached enable after a MOVI (seed 2001420 on 6.12)", `mapti dev=0x10 ev=3 lpi=8193 icid=0
msi dev=0x10 ev=3
lpi 8193 prio=0xa0 disabled
clear dev=0x10 ev=3
discard dev=0x10 ev=3
mapti dev=0x10 ev=7 lpi=8193 icid=2
msi dev=0x10 ev=7
movi dev=0x10 ev=7 icid=2
ack cpu=2
save
`, difftest.Divergence{Line: 19, What: "ack cpu=2", A: "1023 (spurious)", B: "8193"}, "6.12", "reused-intid"},
		{"reused-intid: an INTID never pending before its re-map", `mapti dev=0x10 ev=0 lpi=8192 icid=0
discard dev=0x10 ev=0
mapti dev=0x10 ev=1 lpi=8192 icid=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=0", A: "[]", B: "[8192]"}, "6.1", ""},
		{"reused-intid: the old CPU ran before the re-map", `mapti dev=0x10 ev=0 lpi=8192 icid=0
msi dev=0x10 ev=0
clear dev=0x10 ev=0
ack cpu=0
discard dev=0x10 ev=0
mapti dev=0x10 ev=1 lpi=8192 icid=1
msi dev=0x10 ev=1
save
`, difftest.Divergence{Line: end, What: "pending cpu=0", A: "[]", B: "[8192]"}, "6.1", ""},
		{"equal priorities", `mapti dev=0x10 ev=0 lpi=8192 icid=0
mapti dev=0x10 ev=1 lpi=8193 icid=0
msi dev=0x10 ev=1
msi dev=0x10 ev=0
ack cpu=0
save
`, difftest.Divergence{Line: 15, What: "ack cpu=0", A: "8192", B: "8193"}, "6.1", "ack-equal-priority"},
		{"priorities differing in bits [2:0]", `mapti dev=0x10 ev=0 lpi=8194 icid=0
mapti dev=0x10 ev=1 lpi=8195 icid=0
msi dev=0x10 ev=0
msi dev=0x10 ev=1
ack cpu=0
save
`, difftest.Divergence{Line: 15, What: "ack cpu=0", A: "8195", B: "8194"}, "6.1", "priority-bits"},
		{"priority 0xF8 masked", `mapti dev=0x10 ev=0 lpi=8196 icid=0
msi dev=0x10 ev=0
ack cpu=0
save
`, difftest.Divergence{Line: 13, What: "ack cpu=0", A: "8196", B: "1023 (spurious)"}, "6.12", "priority-bits"},
		{"different priorities are no tie", `mapti dev=0x10 ev=0 lpi=8192 icid=0
mapti dev=0x10 ev=1 lpi=8195 icid=0
msi dev=0x10 ev=0
msi dev=0x10 ev=1
ack cpu=0
save
`, difftest.Divergence{Line: 15, What: "ack cpu=0", A: "8195", B: "8192"}, "6.1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := script.Parse("stream.its", []byte(setup+tt.stream))
			if err != nil {
				t.Fatal(err)
			}
			d := tt.div
			d.Index = len(s.Stmts)
			for i, st := range s.Stmts {
				if st.Position().Line == d.Line {
					d.Index, d.Stmt = i, st.String()
				}
			}
			got := ""
			if e := fidelity.Classify(fidelity.NewContext(s, &d), tt.kernel); e != nil {
				got = e.ID
			}
			if got != tt.want {
				t.Errorf("Classify(%v) on %s = %q, want %q", &d, tt.kernel, got, tt.want)
			}
		})
	}
}

// TestSeries: kernel releases as uname -r prints them map to the series
// the catalogue and scripts/kvm-harness name.
func TestSeries(t *testing.T) {
	for rel, want := range map[string]string{
		"6.1.0-57-arm64":      "6.1",
		"6.12.95+deb12-arm64": "6.12",
		"6.8.0":               "6.8",
		"weird":               "weird",
	} {
		if got := entries.Series(rel); got != want {
			t.Errorf("Series(%q) = %q, want %q", rel, got, want)
		}
	}
}

// TestClassifySeveralITSes: a divergence whose cause is a command on ITS
// 1 (the stream addresses it with "its 1") classifies as it would on ITS
// 0: the classifiers read the tables of the ITS each command went to.
// Seed 370986112577 on 6.1 (a DISCARD of a pending LPI on ITS 2) came out
// unclassified before.
func TestClassifySeveralITSes(t *testing.T) {
	const stream = `cpus 3
itses 2
lpi 8192..8193 prio=0xa0 enabled
enablelpis all
mapc icid=0 cpu=1
mapd dev=0x10 bits=3
mapti dev=0x10 ev=0 lpi=8193 icid=0
its 1
mapc icid=0 cpu=0
mapd dev=0x10 bits=3
mapti dev=0x10 ev=0 lpi=8192 icid=0
msi dev=0x10 ev=0
discard dev=0x10 ev=0
ack cpu=0
save
`
	s, err := script.Parse("stream.its", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	d := difftest.Divergence{Line: 14, What: "ack cpu=0", A: "1023 (spurious)", B: "8192"}
	for i, st := range s.Stmts {
		if st.Position().Line == d.Line {
			d.Index, d.Stmt = i, st.String()
		}
	}
	if e := fidelity.Classify(fidelity.NewContext(s, &d), "6.1"); e == nil || e.ID != "discard-pending" {
		t.Errorf("Classify(%v) on 6.1 = %v, want discard-pending", &d, e)
	}
}
