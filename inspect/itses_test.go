package inspect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gicits/gicits/inspect"
	"github.com/gicits/gicits/model"
)

// TestSeveralITSes: ReadState reads each ITS's registers and tables apart
// (ITS 1's are empty here), ITS 0's are also the fields of one ITS, and
// Explain walks the ITS its options name, refusing one out of range.
func TestSeveralITSes(t *testing.T) {
	l := model.DefaultLayout()
	l.ITSes = 3
	b, err := model.Open("sim", model.Config{CPUs: 1, Layout: l})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := model.EnableLPIs(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := model.SubmitCommands(b, model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPD{DeviceID: 0x10, Size: 1, ITTAddr: l.ITTs, Valid: true}); err != nil {
		t.Fatal(err)
	}
	s, err := inspect.ReadState(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.ITSes) != 3 || len(s.Devices) != 1 || len(s.ITSes[0].Devices) != 1 || len(s.ITSes[1].Devices) != 0 || len(s.ITSes[2].Collections) != 0 {
		t.Fatalf("ITSes %+v; want 3, device 0x10 on ITS 0 only", s.ITSes)
	}
	for i, its := range s.ITSes {
		v, _ := l.ForITS(i)
		if its.Index != i || its.Frames != v.ITSBase || its.Doorbell() != v.Doorbell() || its.ITS.CBASER.Addr() != v.CommandQueue {
			t.Errorf("ITS %d: %+v; want frames %v, queue %v", i, its, v.ITSBase, v.CommandQueue)
		}
	}
	var text strings.Builder
	if err := s.WriteText(&text); err != nil || !strings.Contains(text.String(), "\nITS 2 (frames at 0x8520000): ") {
		t.Errorf("WriteText: %v:\n%s", err, text.String())
	}
	steps, err := inspect.Explain(b, 0x10, 0, inspect.ExplainOptions{ITS: 1})
	if err != nil || len(steps) != 3 || steps[2].Verdict != inspect.Fail {
		t.Errorf("Explain on ITS 1: %v, %d steps; want the DTE to fail (device 0x10 is ITS 0's)", err, len(steps))
	}
	if _, err := inspect.Explain(b, 0x10, 0, inspect.ExplainOptions{ITS: 3}); !errors.Is(err, model.ErrInvalidArgument) {
		t.Errorf("Explain on ITS 3 of 3: %v; want ErrInvalidArgument", err)
	}
	w, err := inspect.NewWalked(b, 0x10, 0, 2)
	if want := "DeviceID 0x10 EventID 0 by ITS 2 (MSI doorbell GITS_TRANSLATER at 0x8530040)"; err != nil || w.String() != want {
		t.Errorf("NewWalked: %v, %q; want %q", err, w, want)
	}
}
