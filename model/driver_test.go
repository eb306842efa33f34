package model_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gicits/gicits/backend/sim"
	"github.com/gicits/gicits/model"
)

// TestDriverSetUp: EnableCollections and MapDevice program a simulator as a
// guest driver does, and the events they map are delivered on the CPUs of
// their collections with the configured priority.
func TestDriverSetUp(t *testing.T) {
	b, err := sim.New(model.Config{CPUs: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cmds, err := model.EnableCollections(b, 2)
	if err != nil {
		t.Fatal(err)
	}
	events := []model.Event{
		{EventID: 0, INTID: 8192, ICID: 0, Config: model.MakeLPIConfig(0xA0, true)},
		{EventID: 2, INTID: 8193, ICID: 1, Config: model.MakeLPIConfig(0x40, true)},
		{EventID: 3, INTID: 8194, ICID: 1, Config: model.MakeLPIConfig(0x40, false)},
	}
	itt, devCmds, err := model.MapDevice(b, b.Layout().ITTAllocator(), 0x10, events)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"MAPC icid=0 rdbase=0", "MAPC icid=1 rdbase=1",
		fmt.Sprintf("MAPD dev=0x10 bits=2 itt=%v", itt), // EventID 3 needs 2 bits
		"MAPTI dev=0x10 ev=0 lpi=8192 icid=0",
		"MAPTI dev=0x10 ev=2 lpi=8193 icid=1",
		"MAPTI dev=0x10 ev=3 lpi=8194 icid=1",
	}
	var got []string
	for _, c := range append(cmds, devCmds...) {
		got = append(got, fmt.Sprint(c))
	}
	if !slices.Equal(got, want) {
		t.Errorf("commands:\n%q\nwant:\n%q", got, want)
	}
	if err := b.SubmitCommands(append(cmds, devCmds...)...); err != nil {
		t.Fatal(err)
	}
	caps, doorbell := b.Capabilities(), b.Layout().Doorbell()
	for _, ev := range []model.EventID{0, 2, 3} {
		if d, err := b.SignalMSI(caps.Prepare(model.MSI{Doorbell: doorbell, Data: uint32(ev), DeviceID: 0x10})); d != model.Delivered || err != nil {
			t.Errorf("event %d: %v, %v; want delivered", ev, d, err)
		}
	}
	for cpu, want := range []model.INTID{8192, 8193} {
		if got, err := b.Acknowledge(model.CPU(cpu)); got != want || err != nil {
			t.Errorf("CPU %d acknowledged %d, %v; want %d", cpu, got, err, want)
		}
	}
	if got, _ := b.Acknowledge(1); got != model.SpuriousINTID {
		t.Errorf("CPU 1 acknowledged %d after 8193, want none: 8194 is disabled", got)
	}
}
