package difftest_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gicits/gicits/internal/difftest"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/script"
)

// itsesStreams is the number of several-ITS streams
// TestITSesCacheAgrees runs (10 with -short).
const itsesStreams = 120

// itsesProfile is the profile of seed's several-ITS stream: the one
// ProfileOf draws, for 2, 3 or 4 ITSes.
func itsesProfile(seed uint64) difftest.Profile {
	p := difftest.ProfileOf(seed)
	p.ITSes = 2 + int(seed%3)
	return p
}

// TestITSesCacheAgrees runs several-ITS streams on the simulator with its
// translation cache and without: every msi and ack, and what is pending
// and every ITS's saved tables after each expect error and at the end,
// must agree. The streams must be valid (no failure, no unexpected
// command error) and reach what they are for: the same DeviceID mapped
// on two ITSes, one LPI mapped by events of two ITSes at once and
// signalled through both, MOVALL, saves, restores in place and
// migrations.
func TestITSesCacheAgrees(t *testing.T) {
	n := itsesStreams
	if testing.Short() {
		n = 10
	}
	cached := difftest.Variant{Name: "cache", Backend: "sim"}
	walk := difftest.Variant{Name: "nocache", Backend: "sim", Configure: func(c *model.Config) { c.NoTranslationCache = true }}
	var reached itsesCoverage
	for seed := range uint64(n) {
		p := itsesProfile(seed)
		s := difftest.GenerateProfile(seed, difftest.StreamLength, p)
		again, err := script.Parse("printed.its", []byte(s.String()))
		if err != nil || again.String() != s.String() {
			t.Fatalf("seed %d: printed several-ITS stream does not parse back (%v):\n%s", seed, err, s)
		}
		a, b := difftest.Observe(s, cached), difftest.Observe(s, walk)
		if len(a.Failures) > 0 {
			t.Fatalf("seed %d (%+v): several-ITS stream is not valid on sim: %v\n%s", seed, p, a.Failures, s)
		}
		if d := difftest.First(s, a, b); d != nil {
			small := difftest.Shrink(s, cached, walk, func(_ *script.Script, e *difftest.Divergence) bool { return e.Same(d) }, nil)
			t.Errorf("seed %d (%+v): cached and walking simulators diverge: %v\nshrunk:\n%s", seed, p, d, small)
		}
		reached.add(s, a)
	}
	t.Logf("%d streams: %v", n, &reached)
	if !testing.Short() {
		reached.check(t)
	}
}

// itsesCoverage counts what several-ITS streams reached.
type itsesCoverage struct {
	sameDevice, sharedLPI, sharedMSI, movall, saves, inPlace, migrations int
}

var (
	iteINTID = regexp.MustCompile(`lpi=(\d+)`)
	itsItem  = regexp.MustCompile(`^its (\d+) `)
)

// add counts what stream s reached, from its statements and from what o
// observed: the saved ITEs say which INTIDs two ITSes map at once.
func (c *itsesCoverage) add(s *script.Script, o *difftest.Observation) {
	its := 0
	msiITSes := map[string]map[int]bool{} // msi statement text by ITS
	for _, st := range s.Stmts {
		switch st := st.(type) {
		case *script.ITSStmt:
			its = st.N
		case *script.RestoreStmt:
			if st.InPlace {
				c.inPlace++
			} else {
				c.migrations++
			}
		case *script.SaveStmt:
			c.saves++
		case *script.CommandStmt:
			if _, ok := st.Cmd.(model.MOVALL); ok {
				c.movall++
			}
		case *script.MSIStmt:
			k := st.String()
			if msiITSes[k] == nil {
				msiITSes[k] = map[int]bool{}
			}
			msiITSes[k][its] = true
		}
	}
	// By observation point: which ITSes map each INTID, and each DeviceID.
	type at struct {
		line int
		key  string
	}
	lpiITSes, devITSes := map[at]map[int]bool{}, map[at]map[int]bool{}
	note := func(m map[at]map[int]bool, k at, i int) {
		if m[k] == nil {
			m[k] = map[int]bool{}
		}
		m[k][i] = true
	}
	for _, it := range o.Items {
		i, what := 0, it.What
		if m := itsItem.FindStringSubmatch(what); m != nil {
			i, _ = strconv.Atoi(m[1])
			what = what[len(m[0]):]
		}
		switch {
		case strings.HasPrefix(what, "ite "):
			if m := iteINTID.FindStringSubmatch(it.Seen); m != nil {
				note(lpiITSes, at{it.Line, m[1]}, i)
			}
		case strings.HasPrefix(what, "dte ") && strings.Contains(it.Seen, "DTE valid"):
			note(devITSes, at{it.Line, strings.Fields(what)[1]}, i)
		}
	}
	for _, m := range lpiITSes {
		if len(m) > 1 {
			c.sharedLPI++
		}
	}
	for _, m := range devITSes {
		if len(m) > 1 {
			c.sameDevice++
		}
	}
	for _, m := range msiITSes {
		if len(m) > 1 {
			c.sharedMSI++
		}
	}
}

func (c *itsesCoverage) String() string {
	return fmt.Sprintf("DeviceIDs mapped on two ITSes %d, INTIDs mapped on two ITSes %d, msi statements sent to two ITSes %d, MOVALLs %d, saves %d, restores in place %d, migrations %d",
		c.sameDevice, c.sharedLPI, c.sharedMSI, c.movall, c.saves, c.inPlace, c.migrations)
}

func (c *itsesCoverage) check(t *testing.T) {
	t.Helper()
	for what, n := range map[string]int{
		"a DeviceID mapped on two ITSes": c.sameDevice, "an INTID mapped on two ITSes": c.sharedLPI,
		"an msi sent to two ITSes": c.sharedMSI, "a MOVALL": c.movall,
		"a restore in place": c.inPlace, "a migration": c.migrations,
	} {
		if n == 0 {
			t.Errorf("no several-ITS stream reached %s", what)
		}
	}
}

// TestITSesStreamsLeaveOneITSStreamsAlone: a profile without ITSes (or
// with one) makes the stream it made before there were several, and a
// several-ITS stream says how many ITSes it has before any action.
func TestITSesStreamsLeaveOneITSStreamsAlone(t *testing.T) {
	for seed := range uint64(5) {
		p := difftest.ProfileOf(seed)
		one := p
		one.ITSes = 1
		if a, b := difftest.GenerateProfile(seed, 60, p).String(), difftest.GenerateProfile(seed, 60, one).String(); a != b {
			t.Errorf("seed %d: ITSes 1 changes the stream", seed)
		}
		s := difftest.GenerateProfile(seed, 60, itsesProfile(seed))
		if st, ok := s.Stmts[1].(*script.ITSesStmt); !ok || st.N != itsesProfile(seed).ITSes {
			t.Errorf("seed %d: the second statement is %q, want itses %d", seed, s.Stmts[1], itsesProfile(seed).ITSes)
		}
	}
}
