package script

import (
	"testing"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// TestCopyRAMSkipsOnlyScratch: a migration copies every byte of RAM but
// the scratch area, also in the 1 MiB chunk the scratch area starts in
// when it does not start on a chunk boundary.
func TestCopyRAMSkipsOnlyScratch(t *testing.T) {
	l := model.DefaultLayout()
	l.Scratch += 4 << 10 // inside a 1 MiB chunk, not at its start
	l.ScratchSize -= 8 << 10
	cfg := model.Config{CPUs: 1, Layout: l}
	from, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	before := l.Scratch - 1                       // same chunk as the scratch start
	inside := l.Scratch                           // first scratch byte
	after := l.Scratch + model.GPA(l.ScratchSize) // first byte after it
	for _, a := range []model.GPA{before, inside, after} {
		if err := from.Memory().WriteAt([]byte{0xA5}, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := copyRAM(from, to); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		addr model.GPA
		want byte
	}{{before, 0xA5}, {inside, 0}, {after, 0xA5}} {
		var b [1]byte
		if err := to.Memory().ReadAt(b[:], c.addr); err != nil {
			t.Fatal(err)
		}
		if b[0] != c.want {
			t.Errorf("byte at %v after copyRAM = %#x, want %#x", c.addr, b[0], c.want)
		}
	}
}
