package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gicits/gicits/model"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "map a few PCI devices, signal their MSIs and show where each LPI was delivered",
		run:     runDemo,
	})
}

func runDemo(e *env, args []string) error {
	fs := newFlagSet(e, "demo", "[-backend NAME] [-cpus N] [-devices N] [-events N]")
	backend := fs.String("backend", "sim", "backend to run on: "+backendList())
	addGuestFlags(fs)
	cpus := fs.Int("cpus", 2, "number of CPUs (redistributors)")
	devices := fs.Int("devices", 3, "number of PCI devices (1..31)")
	events := fs.Int("events", 4, "MSI vectors (EventIDs) per device (1..1024)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	switch {
	case *cpus < 1 || *cpus > 32:
		return usagef("-cpus %d: want 1..32", *cpus)
	case *devices < 1 || *devices > 31:
		return usagef("-devices %d: want 1..31 (PCI device numbers on bus 0)", *devices)
	case *events < 1 || *events > 1024:
		return usagef("-events %d: want 1..1024", *events)
	}
	b, err := e.openBackend(*backend, model.Config{CPUs: *cpus})
	if err != nil {
		return err
	}
	defer b.Close()
	return demo(e, b, *devices, *events)
}

// demoEvent is one MSI vector of the demo and what became of it.
type demoEvent struct {
	dev   model.DeviceID
	ev    model.EventID
	lpi   model.INTID
	icid  model.ICID
	sent  model.Delivery
	ackOn int // CPU that acknowledged it, -1 if none
}

// demo programs the ITS the way a guest OS driver does (one collection per
// CPU, one ITT per device, one LPI per vector spread round-robin over the
// collections), signals every vector once and acknowledges everything on
// every CPU.
func demo(e *env, b model.Backend, devices, events int) error {
	table, err := programDemo(b, devices, events)
	if err != nil {
		return err
	}
	if err := signalDemo(b, table); err != nil {
		return err
	}
	if err := acknowledgeDemo(b, table); err != nil {
		return err
	}
	return writeDemo(e, b, devices, events, table)
}

// programDemo enables every CPU's LPIs, maps one collection per CPU and
// each device's vectors, and returns the vectors in LPI order.
func programDemo(b model.Backend, devices, events int) ([]demoEvent, error) {
	cmds, err := model.EnableCollections(b, b.Capabilities().CPUs)
	if err != nil {
		return nil, err
	}
	var table []demoEvent
	alloc := b.Layout().ITTAllocator()
	for d := 1; d <= devices; d++ {
		devCmds, devTable, err := mapDemoDevice(b, alloc, uint8(d), events, len(table))
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, devCmds...)
		table = append(table, devTable...)
	}
	if err := model.SubmitCommands(b, cmds...); err != nil {
		return nil, fmt.Errorf("programming the ITS: %w", err)
	}
	return table, nil
}

// mapDemoDevice configures the LPIs of PCI device 00:d.0's vectors and
// returns the commands that map them (MAPD, then a MAPTI per vector), with
// the vectors. The vectors before it took the first mapped LPIs and
// collections.
func mapDemoDevice(b model.Backend, alloc *model.Allocator, d uint8, events, mapped int) ([]model.Command, []demoEvent, error) {
	cpus := b.Capabilities().CPUs
	devfn, err := model.PCIDevFn(d, 0)
	if err != nil {
		return nil, nil, err
	}
	dev := model.PCIRequesterID(0, devfn)
	evs := make([]model.Event, events)
	table := make([]demoEvent, events)
	for ev := range events {
		lpi := model.LPIBase + model.INTID(mapped+ev)
		icid := model.ICID((mapped + ev) % cpus)
		evs[ev] = model.Event{EventID: model.EventID(ev), INTID: lpi, ICID: icid, Config: model.MakeLPIConfig(0xA0, true)}
		table[ev] = demoEvent{dev: dev, ev: model.EventID(ev), lpi: lpi, icid: icid, ackOn: -1}
	}
	_, cmds, err := model.MapDevice(b, alloc, dev, evs)
	if err != nil {
		return nil, nil, err
	}
	return cmds, table, nil
}

// signalDemo signals every vector once, recording what SignalMSI said.
func signalDemo(b model.Backend, table []demoEvent) error {
	caps, doorbell := b.Capabilities(), b.Layout().Doorbell()
	for i := range table {
		t := &table[i]
		msi := caps.Prepare(model.MSI{Doorbell: doorbell, Data: uint32(t.ev), DeviceID: t.dev})
		var err error
		if t.sent, err = b.SignalMSI(msi); err != nil {
			return fmt.Errorf("%v: %w", msi, err)
		}
	}
	return nil
}

// acknowledgeDemo acknowledges and EOIs on every CPU until none is
// pending, recording which CPU took each vector.
func acknowledgeDemo(b model.Backend, table []demoEvent) error {
	byLPI := map[model.INTID]*demoEvent{}
	for i := range table {
		byLPI[table[i].lpi] = &table[i]
	}
	for cpu := range b.Capabilities().CPUs {
		for {
			id, err := b.Acknowledge(model.CPU(cpu))
			if err != nil {
				return err
			}
			if id == model.SpuriousINTID {
				break
			}
			if t := byLPI[id]; t != nil {
				t.ackOn = cpu
			}
			if err := b.EOI(model.CPU(cpu), id); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeDemo prints one line per vector, and fails when a vector reported
// delivered was never acknowledged.
func writeDemo(e *env, b model.Backend, devices, events int, table []demoEvent) error {
	fmt.Fprintf(e.stdout, "gicits demo on the %s backend: %s, %s x %s\n", b.Name(), plural(b.Capabilities().CPUs, "CPU"), plural(devices, "PCI device"), plural(events, "MSI vector"))
	fmt.Fprintf(e.stdout, "one collection per CPU (MAPC icid=N rdbase=N), vectors spread round-robin over them, each signalled once\n\n")
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DeviceID\tPCI\tEventID\tLPI\tICID\tMSI\tacknowledged on")
	lost := 0
	for _, t := range table {
		on := fmt.Sprintf("CPU %d", t.ackOn)
		if t.ackOn < 0 {
			on = "-"
			if t.sent == model.Delivered {
				lost++
			}
		}
		fmt.Fprintf(tw, "%#06x\t00:%02x.%d\t%d\t%d\t%d\t%v\t%s\n", uint32(t.dev), uint32(t.dev)>>3&0x1F, uint32(t.dev)&7, t.ev, t.lpi, t.icid, t.sent, on)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if lost > 0 {
		return fmt.Errorf("%d MSIs reported delivered were never acknowledged", lost)
	}
	return nil
}

// openBackend opens a registered backend, adding a hint when it cannot
// start on this host, and wraps it in a trace when -trace is set.
func (e *env) openBackend(name string, cfg model.Config) (model.Backend, error) {
	b, err := model.Open(name, cfg)
	if err == nil {
		b = e.traced(b)
	}
	switch {
	case errors.Is(err, model.ErrUnknownBackend):
		return nil, usagef("-backend: %v", err)
	case errors.Is(err, model.ErrNotSupported):
		return nil, fmt.Errorf("%w\nhint: on a host without arm64 KVM, itsbench runs a kvm backend in an arm64 QEMU guest (README, \"Real KVM from the command line\"); or use -backend sim", err)
	}
	return b, err
}

func backendList() string {
	names := model.Backends()
	if len(names) == 0 {
		return "(none registered)"
	}
	return strings.Join(names, ", ")
}
