package sim_test

import (
	"context"
	"testing"
	"time"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/bench/stress"
	"github.com/gicits/gicits/model"
)

// TestStressAccounting is issue 7's concurrency stress on the simulator:
// eight goroutines signal MSIs while one per CPU acknowledges and another
// runs MOVI, DISCARD + MAPTI and MAPD re-maps; stress.Run's ledger then proves
// that every delivered MSI was acknowledged exactly once or coalesced with
// one still pending, and that no acknowledgement lacks a delivery of its
// own. It runs with the translation cache on and off, under -race in CI.
// (TestConcurrentMSIsAndCommands checks counts and the last delivery
// only; this one matches every acknowledgement to its delivery.)
func TestStressAccounting(t *testing.T) {
	d := 500 * time.Millisecond
	if testing.Short() {
		d = 100 * time.Millisecond
	}
	for _, c := range []struct {
		name    string
		noCache bool
	}{{"cached", false}, {"uncached", true}} {
		t.Run(c.name, func(t *testing.T) {
			l := model.DefaultLayout()
			l.RAMSize = 16 << 20
			l.ITTsSize = 8 << 20
			b, err := sim.New(model.Config{CPUs: 4, Layout: l, NoTranslationCache: c.noCache})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			res, err := stress.Run(context.Background(), b, stress.Options{Senders: 8, Events: 64, Duration: d, Seed: 7})
			if res != nil {
				t.Logf("%d delivered, %d acknowledged, %d MOVI, %d DISCARD+MAPTI, %d MAPD re-maps", res.Delivered, res.Acknowledged, res.MOVIs, res.Discards, res.Remapped)
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
