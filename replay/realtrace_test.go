package replay

import (
	"path/filepath"
	"testing"
)

// realTraces are the traces of Linux's ITS driver captured under QEMU
// (testdata/qemutrace at the module's root: boot, virtio and NVMe
// traffic, CPU offline and online, unbind and rebind, hotplug).
const realTraces = "../testdata/qemutrace/*.log.gz"

// TestReplayOfRealLinuxTraces: every real trace replays on the simulator
// with no divergence.
func TestReplayOfRealLinuxTraces(t *testing.T) {
	files, err := filepath.Glob(realTraces)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skipf("no real traces match %s", realTraces)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			tr, err := ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			rep := replaySim(t, tr)
			if rep.Translations == 0 && rep.Commands == 0 {
				t.Errorf("%s: no command and no MSI replayed", file)
			}
			for i, f := range rep.Findings {
				if i == 20 {
					t.Errorf("... and %d more divergences", len(rep.Findings)-20)
					break
				}
				t.Error(f)
			}
			t.Logf("%s: %d lines, %d CPUs, %d commands, %d MSIs, %d acknowledges", file, rep.Lines, rep.CPUs, rep.Commands, rep.Translations, rep.Acknowledges)
		})
	}
}

// TestReplayOfRealTracesIsNotVacuous: in each real trace, QEMU's record
// of the first MSI edited to name another CPU is a divergence at that
// MSI's line.
func TestReplayOfRealTracesIsNotVacuous(t *testing.T) {
	files, _ := filepath.Glob(realTraces)
	if len(files) == 0 {
		t.Skipf("no real traces match %s", realTraces)
	}
	for _, file := range files {
		tr, err := ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		msi, cte := firstDeliveredMSI(tr)
		if cte < 0 {
			t.Fatalf("%s: no MSI delivered", file)
		}
		e := tr.Records[cte].Event.(CTERead)
		n, _ := CPUs(tr)
		e.RDbase = (e.RDbase + 1) % uint32(n)
		tr.Records[cte].Event = e
		rep := replaySim(t, tr)
		if len(rep.Findings) == 0 || rep.Findings[0].Line != tr.Records[msi].Line {
			t.Errorf("%s: the MSI at line %d, recorded on CPU %d, does not diverge first: %v", file, tr.Records[msi].Line, e.RDbase, rep.Findings)
		}
	}
}

// firstDeliveredMSI returns the indexes of the first MSI of tr whose
// table reads end in a valid CTE, and of that CTE read; -1, -1 if none.
func firstDeliveredMSI(tr *Trace) (int, int) {
	msi := -1
	for i, r := range tr.Records {
		switch e := r.Event.(type) {
		case TranslationWrite:
			msi = i
		case CTERead:
			if msi >= 0 && e.Valid {
				return msi, i
			}
		case DTERead, ITERead:
		default:
			msi = -1
		}
	}
	return -1, -1
}

// TestRealAcknowledgesAreChecked: the real trace that records the CPU
// interface (linux-6.1-smp2-acks) has its acknowledges checked, and one
// of them edited to name another LPI is a divergence at its line.
func TestRealAcknowledgesAreChecked(t *testing.T) {
	file := filepath.Join(filepath.Dir(realTraces), "linux-6.1-smp2-acks.log.gz")
	tr, err := ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if rep := replaySim(t, tr); rep.Acknowledges == 0 || !rep.OK() {
		t.Fatalf("%s: %d acknowledges checked, ok %v, want some and ok", file, rep.Acknowledges, rep.OK())
	}
	for i, r := range tr.Records {
		e, ok := r.Event.(ICCIAR1Read)
		if !ok || !isLPI(e.Value) {
			continue
		}
		e.Value++ // another LPI than the one the CPU took
		tr.Records[i].Event = e
		rep := replaySim(t, tr)
		if len(rep.Findings) == 0 || rep.Findings[0].Line != r.Line {
			t.Errorf("%s: the acknowledge at line %d edited to LPI %d does not diverge first: %v", file, r.Line, e.Value, rep.Findings)
		}
		return
	}
	t.Fatalf("%s: no acknowledge of an LPI", file)
}
