package difftest_test

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	_ "github.com/gicits/gicits/backend/kvm" // only to see it refuse the gicv4 setting
	_ "github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// TestGenerateIsValid checks that generated streams print and parse back
// and run on the simulator without a single failure or command error.
func TestGenerateIsValid(t *testing.T) {
	all := difftest.Profile{MOVALL: true, EqualPriority: true, DiscardPending: true, Errors: true}
	for seed := range uint64(40) {
		s := difftest.Generate(seed, difftest.StreamLength)
		if seed >= 30 {
			s = difftest.GenerateProfile(seed, difftest.StreamLength, all)
		}
		again, err := script.Parse("printed.its", []byte(s.String()))
		if err != nil {
			t.Fatalf("seed %d: printed stream does not parse: %v", seed, err)
		}
		if again.String() != s.String() {
			t.Fatalf("seed %d: stream does not round-trip", seed)
		}
		if o := difftest.Observe(s, difftest.Variant{Name: "sim", Backend: "sim"}); len(o.Failures) > 0 {
			t.Fatalf("seed %d: generated stream is not valid on sim: %v\n%s", seed, o.Failures, s)
		}
	}
}

// shiftedITTs returns two variants of the simulator that disagree on
// purpose: the second allocates ITTs 1 MiB further on, so saved DTEs
// differ once a device is mapped.
func shiftedITTs() (base, moved difftest.Variant) {
	base = difftest.Variant{Name: "base", Backend: "sim"}
	moved = difftest.Variant{Name: "moved", Backend: "sim", Configure: func(c *model.Config) {
		c.Layout = model.DefaultLayout()
		c.Layout.ITTs += 1 << 20
		c.Layout.ITTsSize -= 1 << 20
	}}
	return base, moved
}

// TestShrinkFindsADisagreement checks diff and shrinker on a disagreement
// made on purpose: the second variant allocates ITTs 1 MiB further on, so
// the saved DTEs differ, and only a MAPD and the save are needed to show
// it.
func TestShrinkFindsADisagreement(t *testing.T) {
	s, err := script.Parse("seeded.its", []byte(`lpi 8192..8193 prio=0x10 enabled
enablelpis all
mapc icid=0 cpu=0
mapd dev=0x10 bits=3
mapd dev=0x11 bits=3
mapti dev=0x11 ev=1 lpi=8192 icid=0
msi dev=0x11 ev=1
ack cpu=0
eoi cpu=0
mapti dev=0x10 ev=2 lpi=8193 icid=0
save
`))
	if err != nil {
		t.Fatal(err)
	}
	base, moved := shiftedITTs()
	if d := difftest.Diff(s, base, base); d != "" {
		t.Fatalf("a variant disagrees with itself:\n%s", d)
	}
	d := difftest.Diff(s, base, moved)
	if !strings.Contains(d, "dte dev=0x10") {
		t.Fatalf("diff does not show the ITT addresses:\n%s", d)
	}
	small := difftest.Shrink(s, base, moved, nil, nil)
	want := "lpi 8192..8193 prio=0x10 enabled\nenablelpis all\nmapd dev=0x10 bits=3\nsave\n"
	if small.String() != want {
		t.Errorf("shrunk to:\n%s\nwant:\n%s", small, want)
	}
}

// TestErrorStreamsReachEveryCode: streams with failing commands reach
// every E_ITS_* code KVM's ITS can raise (and *_UNMAPPED_DEVICE where
// KVM says *_UNMAPPED_INTERRUPT), and the simulator raises each
// where the stream expects it (TestGenerateIsValid checks that the
// expectations hold).
func TestErrorStreamsReachEveryCode(t *testing.T) {
	want := []model.ErrorCode{
		model.E_ITS_MOVI_UNMAPPED_INTERRUPT, model.E_ITS_MOVI_UNMAPPED_COLLECTION,
		model.E_ITS_INT_UNMAPPED_INTERRUPT, model.E_ITS_CLEAR_UNMAPPED_INTERRUPT,
		model.E_ITS_MAPD_DEVICE_OOR, model.E_ITS_MAPD_ITTSIZE_OOR,
		model.E_ITS_MAPC_PROCNUM_OOR, model.E_ITS_MAPC_COLLECTION_OOR,
		model.E_ITS_MAPTI_UNMAPPED_DEVICE, model.E_ITS_MAPTI_ID_OOR, model.E_ITS_MAPTI_PHYSICALID_OOR,
		model.E_ITS_INV_UNMAPPED_INTERRUPT, model.E_ITS_INVALL_UNMAPPED_COLLECTION,
		model.E_ITS_MOVALL_PROCNUM_OOR, model.E_ITS_DISCARD_UNMAPPED_INTERRUPT,
		model.E_ITS_MOVI_UNMAPPED_DEVICE, model.E_ITS_INT_UNMAPPED_DEVICE, model.E_ITS_CLEAR_UNMAPPED_DEVICE,
		model.E_ITS_INV_UNMAPPED_DEVICE, model.E_ITS_DISCARD_UNMAPPED_DEVICE,
	}
	seen := map[model.ErrorCode]int{}
	const streams = 20
	for seed := range uint64(streams) {
		s := difftest.GenerateProfile(seed, difftest.StreamLength, difftest.Profile{Errors: true})
		for _, st := range s.Stmts {
			if e, ok := st.(*script.ExpectErrorStmt); ok {
				seen[e.Code]++
			}
		}
		if o := difftest.Observe(s, difftest.Variant{Name: "sim", Backend: "sim"}); len(o.Failures) > 0 {
			t.Fatalf("seed %d: error stream fails on sim: %v\n%s", seed, o.Failures, s)
		}
	}
	for _, c := range want {
		if seen[c] == 0 {
			t.Errorf("no stream of %d raises %v", streams, c)
		}
	}
}

// TestGenerateIsStable pins the streams of the seeds that
// script/difftest_test.go keeps as regression seeds: a change to the
// generator makes every seed a different stream, and then those seeds no
// longer test what their comments say (find the divergences again with a
// fresh range, and pin the new seeds here).
func TestGenerateIsStable(t *testing.T) {
	for seed, want := range map[uint64]string{
		152:          "3a964323ed9fda004e2461b3865b5c6eaf6a22d3ee05d8cb229fd62c1db55643",
		160:          "3b46159de10bd06da417008bc0b44ca7af7edd50be53da837fa257526dbed0c8", // only an expect error code changed (E_ITS_*_UNMAPPED_DEVICE)
		274:          "8235c3a2156006f8e22d261253ef07551454a507f68ef3cd3c5f200502272890",
		289:          "01d12ab4360b48f93d4ef4a9512a2f841d92570fac225c07ea51c15cc7f92ab1",
		2001420:      "1e9571b5ba7a9bd94c8cc88c12ca967b21abf59e70712a4adc6a1e1a0a53816c",
		2001044:      "edb9fd46ea78b3fc402c055610b0d88f9d7760b5f884eaf363d28188f027746b",
		305771401755: "c5519fa536f2292bd6062078f39e64227cbcb46f7b7efe51631af27bf0123cdf",
	} {
		got := fmt.Sprintf("%x", sha256.Sum256([]byte(difftest.Generate(seed, difftest.StreamLength).String())))
		if got != want {
			t.Errorf("seed %d generates a different stream (sha256 %s, was %s): the generator changed; the regression seeds of script/difftest_test.go need finding again", seed, got, want)
		}
	}
}

// TestShrinkRemovesFailingCommandsWithTheirError: a failing command and
// its expect error are removed together, so a stream of them shrinks.
func TestShrinkRemovesFailingCommandsWithTheirError(t *testing.T) {
	s, err := script.Parse("errors.its", []byte(`lpi 8192 prio=0x10 enabled
enablelpis all
mapc icid=0 cpu=0
clear dev=0x20 ev=1
expect error E_ITS_CLEAR_UNMAPPED_DEVICE
mapd dev=0x10 bits=3
movall from=0 to=9
expect error E_ITS_MOVALL_PROCNUM_OOR
save
`))
	if err != nil {
		t.Fatal(err)
	}
	base, moved := shiftedITTs()
	small := difftest.Shrink(s, base, moved, nil, nil)
	want := "lpi 8192 prio=0x10 enabled\nenablelpis all\nmapd dev=0x10 bits=3\nsave\n"
	if small.String() != want {
		t.Errorf("shrunk to:\n%s\nwant:\n%s", small, want)
	}
}

// gicv4Streams is the number of GICv4 streams TestGICv4CacheAgrees runs.
const gicv4Streams = 60

// TestGICv4CacheAgrees runs GICv4 streams on the simulator with its
// translation cache and without: every msi, ack and vack, and what is
// pending, physical and virtual, and the VPTs and saved tables after each
// expect error and at the end, must agree. The streams must also be valid
// (no failure on either side) and really reach the vPEs.
func TestGICv4CacheAgrees(t *testing.T) {
	cached := difftest.Variant{Name: "cache", Backend: "sim"}
	walk := difftest.Variant{Name: "nocache", Backend: "sim", Configure: func(c *model.Config) { c.NoTranslationCache = true }}
	vacked := 0
	for seed := range uint64(gicv4Streams) {
		p := difftest.ProfileOf(seed)
		p.GICv4 = true
		s := difftest.GenerateProfile(seed, difftest.StreamLength, p)
		again, err := script.Parse("printed.its", []byte(s.String()))
		if err != nil || again.String() != s.String() {
			t.Fatalf("seed %d: printed GICv4 stream does not parse back (%v):\n%s", seed, err, s)
		}
		a, b := difftest.Observe(s, cached), difftest.Observe(s, walk)
		if len(a.Failures) > 0 {
			t.Fatalf("seed %d: GICv4 stream is not valid on sim: %v\n%s", seed, a.Failures, s)
		}
		if d := difftest.First(s, a, b); d != nil {
			small := difftest.Shrink(s, cached, walk, nil, nil)
			t.Errorf("seed %d: cached and walking simulators diverge: %v\nshrunk:\n%s", seed, d, small)
		}
		for _, it := range a.Items {
			if strings.HasPrefix(it.What, "vack") && it.Seen != "spurious" && !strings.Contains(it.Seen, "1023") {
				vacked++
			}
		}
	}
	t.Logf("%d vLPIs taken by vack in %d streams", vacked, gicv4Streams)
	if vacked == 0 {
		t.Errorf("%d GICv4 streams: no vack took a vLPI", gicv4Streams)
	}
}

// TestGICv4StreamSkipsOnKVM: the kvm backend, a GICv3 ITS to guests,
// refuses the gicv4 setting before it touches /dev/kvm (kvm.CheckConfig),
// so a GICv4 stream is skipped whole, the reason naming the setting,
// and Observe reports the skip as its one failure.
func TestGICv4StreamSkipsOnKVM(t *testing.T) {
	p := difftest.ProfileOf(1)
	p.GICv4 = true
	s := difftest.GenerateProfile(1, 40, p)
	o := difftest.Observe(s, difftest.Variant{Name: "kvm", Backend: "kvm"})
	if len(o.Failures) != 1 || !strings.HasPrefix(o.Failures[0], "skipped: ") || !strings.Contains(o.Failures[0], "gicv4") || !strings.Contains(o.Failures[0], "KVM exposes a GICv3 ITS to guests") {
		t.Fatalf("a GICv4 stream on kvm: failures %q, want one skip naming gicv4 and KVM's GICv3 ITS", o.Failures)
	}
	if len(o.Items) != 0 {
		t.Errorf("a skipped stream observed %d items", len(o.Items))
	}
}
