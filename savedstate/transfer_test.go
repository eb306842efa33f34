package savedstate_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	_ "github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
	"github.com/gicits/gicits/savedstate"
	"github.com/gicits/gicits/script"
)

var scenarios = []string{"testdata/transfer.its", "testdata/transfer-indirect.its"}

// simScenarios are scenarios only the simulator runs: KVM's ITT entries
// are 8 bytes, fixed.
var simScenarios = []string{"testdata/transfer-itt12.its"}

// opener opens the destination of a transfer; the test closes it.
type opener func(t *testing.T, cfg model.Config) model.Backend

func openSim(t *testing.T, cfg model.Config) model.Backend {
	t.Helper()
	b, err := model.Open(sim.Name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// transfer runs scenario on the backend named from, captures its state,
// takes it through the file format (and edit, when set), restores it into
// a backend open opens with the state's configuration, and returns what
// differs between the two (see differences) or the restore's error.
func transfer(t *testing.T, scenario, from string, open opener, edit func(*savedstate.State)) (diff string, restoreErr error) {
	t.Helper()
	s, err := script.ParseFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	observed := false
	res := script.Run(s, script.Options{Backend: from, Observe: func(src model.Backend) error {
		observed = true
		st, err := savedstate.Capture(src)
		if err != nil {
			return fmt.Errorf("capture: %w", err)
		}
		data, err := st.MarshalBinary()
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		if st, err = savedstate.Parse(data); err != nil {
			return fmt.Errorf("parse what was encoded: %w", err)
		}
		if edit != nil {
			edit(st)
		}
		dst := open(t, st.Config())
		if restoreErr = savedstate.Restore(dst, st); restoreErr != nil {
			return nil
		}
		diff, err = differences(src, dst)
		return err
	}})
	for _, f := range res.Failures {
		t.Errorf("%s on %s: %v", scenario, from, f)
	}
	if res.SkipReason != "" || !observed {
		t.Fatalf("%s on %s did not run to its end: %s", scenario, from, res.SkipReason)
	}
	return diff, restoreErr
}

// differences compares two backends: their states as inspect reads them
// (registers, collections, devices and their events, LPI configuration,
// pending LPIs), then what every mapped event's MSI does on each (which
// the live translation decides, not the tables in memory), then the
// pending LPIs those MSIs left. It returns "" when they agree.
func differences(a, b model.Backend) (string, error) {
	sa, err := inspect.ReadState(a)
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", a.Name(), err)
	}
	sb, err := inspect.ReadState(b)
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", b.Name(), err)
	}
	if d := cmp.Diff(sa, sb); d != "" {
		return "state (-source +restored):\n" + d, nil
	}
	var diffs []string
	for _, d := range sa.Devices {
		for _, e := range d.Events {
			da, ea := a.SignalMSI(eventMSI(a, d.ID, e.ID))
			db, eb := b.SignalMSI(eventMSI(b, d.ID, e.ID))
			if da != db || (ea == nil) != (eb == nil) {
				diffs = append(diffs, fmt.Sprintf("MSI dev=%#x ev=%d: source %v (%v), restored %v (%v)", uint32(d.ID), e.ID, da, ea, db, eb))
			}
		}
	}
	for cpu := range a.Capabilities().CPUs {
		pa, err := a.Pending(model.CPU(cpu))
		if err != nil {
			return "", err
		}
		pb, err := b.Pending(model.CPU(cpu))
		if err != nil {
			return "", err
		}
		if !slices.Equal(pa, pb) {
			diffs = append(diffs, fmt.Sprintf("pending on CPU %d after the MSIs: source %v, restored %v", cpu, pa, pb))
		}
	}
	return strings.Join(diffs, "\n"), nil
}

func eventMSI(b model.Backend, dev model.DeviceID, ev model.EventID) model.MSI {
	return b.Capabilities().Prepare(model.MSI{Doorbell: b.Layout().Doorbell(), Data: uint32(ev), DeviceID: dev})
}

// TestTransferSimToSim carries each scenario's state from one simulator to
// another through the file: every translation, collection, LPI
// configuration byte and pending LPI agrees afterwards.
func TestTransferSimToSim(t *testing.T) {
	for _, sc := range append(scenarios, simScenarios...) {
		t.Run(strings.TrimSuffix(strings.TrimPrefix(sc, "testdata/"), ".its"), func(t *testing.T) {
			diff, err := transfer(t, sc, sim.Name, openSim, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff != "" {
				t.Error(diff)
			}
		})
	}
}

// TestCaptureITTEntrySize: a capture of an ITS with 12-byte ITT entries
// keeps its GITS_TYPER and carries each ITT whole, 2^bits × 12 bytes (the
// last of dev 0x10's 8 entries ends at byte 96, not 64), and its file
// parses back.
func TestCaptureITTEntrySize(t *testing.T) {
	st := captureScenario(t, simScenarios[0])
	if n := st.ITS.TYPER.ITTEntrySize(); n != 12 {
		t.Fatalf("captured GITS_TYPER %#x has %d-byte ITT entries, want 12", uint64(st.ITS.TYPER), n)
	}
	for dev, want := range map[uint32]uint64{0x10: 8 * 12, 0x2345: 2 * 12} {
		r, ok := st.Region(savedstate.ITT, dev)
		if !ok || r.Size != want {
			t.Errorf("ITT region of DeviceID %#x: %v (present %v), want %d bytes", dev, r, ok, want)
		}
	}
	data, err := st.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := savedstate.Parse(data); err != nil {
		t.Errorf("a state with 12-byte ITT entries does not parse back: %v", err)
	}
}

// TestTransferNeedsEveryTable: a state whose device table, level-2 pages,
// ITTs, collection table, LPI configuration table or pending tables are
// left empty does not restore to the same machine, and the comparison
// says so (or the restore fails). So the transfer tests would fail if
// Capture or Restore dropped any of them.
func TestTransferNeedsEveryTable(t *testing.T) {
	for _, sc := range append(scenarios, simScenarios...) {
		for _, kind := range []savedstate.RegionKind{savedstate.DeviceTable, savedstate.DeviceTablePage, savedstate.ITT, savedstate.CollectionTable, savedstate.LPIConfigTable, savedstate.PendingTable} {
			if kind == savedstate.DeviceTablePage && !strings.Contains(sc, "indirect") {
				continue
			}
			t.Run(fmt.Sprintf("%s/%v", strings.TrimPrefix(sc, "testdata/"), kind), func(t *testing.T) {
				emptied := 0
				diff, err := transfer(t, sc, sim.Name, openSim, func(st *savedstate.State) {
					for i := range st.Regions {
						if st.Regions[i].Kind == kind && len(st.Regions[i].Extents) > 0 {
							st.Regions[i].Extents = nil
							emptied++
						}
					}
				})
				if emptied == 0 {
					t.Fatalf("the state has no %v with contents to leave out", kind)
				}
				if err == nil && diff == "" {
					t.Errorf("without the %v the restored backend agrees with the source: the comparison cannot see it", kind)
				}
				t.Logf("without the %v: %v%s", kind, err, diff)
			})
		}
	}
}

// TestRestoreRefuses: a backend that cannot take the state is refused
// before anything changes, with an error saying why.
func TestRestoreRefuses(t *testing.T) {
	st := captureScenario(t, scenarios[0])
	for _, c := range []struct {
		name string
		cfg  func() model.Config
		prep func(model.Backend) error
		want string
		is   error
	}{
		{"cpus", func() model.Config { c := st.Config(); c.CPUs = 1; return c }, nil,
			"restoring the saved state into the sim backend: it has 1 CPUs, the saved state 2: open it with the saved state's configuration: invalid argument", model.ErrInvalidArgument},
		{"lpis-enabled", st.Config, func(b model.Backend) error { return model.EnableLPIs(b, 1) },
			"restoring the saved state into the sim backend: CPU 1 has LPIs enabled already (GICR_CTLR 0x7): restore into a freshly opened backend: busy", model.ErrBusy},
		{"typer", func() model.Config {
			c := st.Config()
			c.ITSTyper, _ = model.MakeITSTyper(8, 16, 8, 16)
			return c
		}, nil,
			"restoring the saved state into the sim backend: its GITS_TYPER 0xef71 has 8 DeviceID bits, the saved state's 0x1ef71 16: invalid argument", model.ErrInvalidArgument},
		{"itt-entry-size", func() model.Config {
			c := st.Config()
			c.ITSTyper, _ = model.MakeITSTyper(12, 16, 16, 16)
			return c
		}, nil,
			"restoring the saved state into the sim backend: its GITS_TYPER 0x1efb1 has 12-byte ITT entries, the saved state's 8-byte: invalid argument", model.ErrInvalidArgument},
		{"scratch", func() model.Config {
			c := st.Config()
			c.Layout.Scratch, c.Layout.ITTs = c.Layout.ITTs, c.Layout.Scratch
			c.Layout.ScratchSize, c.Layout.ITTsSize = 4<<20, 4<<20
			return c
		}, nil,
			"restoring the saved state into the sim backend: the ITT of DeviceID 0x10 [0x40800000, +0x40) overlaps its scratch area [0x40800000, +0x400000): invalid argument", model.ErrInvalidArgument},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := openSim(t, c.cfg())
			if c.prep != nil {
				if err := c.prep(b); err != nil {
					t.Fatal(err)
				}
			}
			before, err := inspect.ReadState(b)
			if err != nil {
				t.Fatal(err)
			}
			err = savedstate.Restore(b, st)
			if err == nil || err.Error() != c.want || !errors.Is(err, c.is) {
				t.Fatalf("Restore = %v\nwant %s", err, c.want)
			}
			after, err := inspect.ReadState(b)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(before, after); d != "" {
				t.Errorf("a refused restore changed the backend (-before +after):\n%s", d)
			}
		})
	}
}

// captureScenario runs scenario on the simulator and returns its state.
func captureScenario(t testing.TB, scenario string) *savedstate.State {
	t.Helper()
	s, err := script.ParseFile(scenario)
	if err != nil {
		t.Fatal(err)
	}
	var st *savedstate.State
	res := script.Run(s, script.Options{Backend: sim.Name, Observe: func(b model.Backend) (err error) {
		st, err = savedstate.Capture(b)
		return err
	}})
	if !res.OK() || st == nil {
		t.Fatalf("%s: %v", scenario, res.Failures)
	}
	return st
}
