package kvm_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/gicits/gicits/backend/kvm"
	"github.com/gicits/gicits/model"
)

// The backend-swapped suite: every scenario runs on each registered
// backend (sim and kvm), records what it observes, and the observations are
// compared with go-cmp; a difference fails with a (-sim +kvm) diff. A
// scenario records effects only (pending LPIs, deliveries, acknowledges,
// saved tables), never command errors or stalls: the differences KVM
// makes on purpose are in kvm.Differences.

// observed is what a scenario saw, step by step.
type observed struct {
	Steps []string
	// Known holds the steps whose outcome depends on a listed difference
	// (kvm.Differences), keyed "ID: step": reported, not compared.
	Known []string
}

// run is one scenario running on one backend.
type run struct {
	t    *testing.T
	b    model.Backend
	caps model.Capabilities
	l    model.Layout
	obs  observed
	itt  *model.Allocator
}

func (r *run) note(format string, args ...any) {
	r.obs.Steps = append(r.obs.Steps, fmt.Sprintf(format, args...))
}

// known runs f with its notes tagged with difference id: they go to Known.
func (r *run) known(id string, f func()) {
	r.t.Helper()
	if !slices.ContainsFunc(kvm.Differences, func(d kvm.Difference) bool { return d.ID == id }) {
		r.t.Fatalf("difference %q is not listed in kvm.Differences", id)
	}
	n := len(r.obs.Steps)
	f()
	for _, s := range r.obs.Steps[n:] {
		r.obs.Known = append(r.obs.Known, id+": "+s)
	}
	r.obs.Steps = r.obs.Steps[:n]
}

func (r *run) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatalf("%s: %v", r.b.Name(), err)
	}
}

func (r *run) submit(cmds ...model.Command) {
	r.t.Helper()
	r.must(model.SubmitCommands(r.b, cmds...))
}

func (r *run) mapd(dev model.DeviceID, bits int) {
	r.t.Helper()
	itt, err := r.itt.Alloc(model.ITTSize(bits, r.caps.ITTEntrySize), 256)
	r.must(err)
	r.submit(model.MAPD{DeviceID: dev, Size: uint8(bits - 1), ITTAddr: itt, Valid: true})
}

func (r *run) msi(dev model.DeviceID, ev model.EventID) {
	r.t.Helper()
	d, err := r.b.SignalMSI(r.caps.Prepare(model.MSI{Doorbell: r.l.Doorbell(), Data: uint32(ev), DeviceID: dev}))
	if err != nil {
		r.note("MSI dev=%#x ev=%d: error %s", dev, ev, sentinel(err))
		return
	}
	r.note("MSI dev=%#x ev=%d: %v", dev, ev, d)
}

func (r *run) pending(label string) {
	r.t.Helper()
	for cpu := range r.caps.CPUs {
		p, err := r.b.Pending(model.CPU(cpu))
		r.must(err)
		r.note("%s: pending on CPU %d: %v", label, cpu, p)
	}
}

// waitPending polls until intid is pending on cpu: irqfd injection may
// complete after Signal returns.
func (r *run) waitPending(cpu model.CPU, intid model.INTID) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p, err := r.b.Pending(cpu)
		r.must(err)
		if slices.Contains(p, intid) || time.Now().After(deadline) {
			r.note("after waiting: pending on CPU %d: %v", cpu, p)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r *run) ack(cpu model.CPU) model.INTID {
	r.t.Helper()
	id, err := r.b.Acknowledge(cpu)
	r.must(err)
	r.note("acknowledge on CPU %d: %d", cpu, id)
	return id
}

func (r *run) eoi(cpu model.CPU, id model.INTID) {
	r.t.Helper()
	r.must(r.b.EOI(cpu, id))
	r.note("EOI %d on CPU %d", id, cpu)
}

// sentinel names the model sentinel an error wraps: what both backends
// must agree on, whatever their messages say.
func sentinel(err error) string {
	for _, s := range []error{model.ErrBusy, model.ErrInvalidArgument, model.ErrNotSupported, model.ErrClosed, model.ErrOutOfRange} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "other error"
}

// Common set-up: 2 CPUs with LPIs enabled and priority mask 0xFF;
// collections 0 → CPU 0 and 1 → CPU 1; device 0x10 with 5 EventID bits;
// events 0..3 → LPIs 8192..8195, even events on collection 0, odd on 1;
// every LPI used enabled at priority 0xA0.
const dev = model.DeviceID(0x10)

func setup(r *run) {
	r.t.Helper()
	for id := model.LPIBase; id < model.LPIBase+16; id++ {
		r.must(model.SetLPIConfig(r.b, id, model.MakeLPIConfig(0xA0, true)))
	}
	for cpu := range r.caps.CPUs {
		r.must(model.EnableLPIs(r.b, model.CPU(cpu)))
		r.must(r.b.SetPriorityMask(model.CPU(cpu), 0xFF))
	}
	r.submit(model.MAPC{ICID: 0, RDbase: 0, Valid: true}, model.MAPC{ICID: 1, RDbase: 1, Valid: true})
	r.mapd(dev, 5)
	for ev := range model.EventID(4) {
		r.submit(model.MAPTI{DeviceID: dev, EventID: ev, INTID: model.LPIBase + model.INTID(ev), ICID: model.ICID(ev % 2)})
	}
}

type scenario struct {
	name string
	run  func(r *run)
}

var scenarios = []scenario{
	{"translation", func(r *run) {
		setup(r)
		r.msi(dev, 0)
		r.msi(dev, 1)
		r.msi(dev, 1)  // coalesces
		r.msi(dev, 31) // unmapped event
		r.msi(0x11, 0) // unmapped device
		r.pending("after MSIs")
	}},
	{"INT and CLEAR", func(r *run) {
		setup(r)
		r.submit(model.INT{DeviceID: dev, EventID: 2}, model.INT{DeviceID: dev, EventID: 3})
		r.pending("after INT")
		r.submit(model.CLEAR{DeviceID: dev, EventID: 2})
		r.pending("after CLEAR")
	}},
	{"MOVI of a pending LPI", func(r *run) {
		setup(r)
		r.msi(dev, 0)
		r.submit(model.MOVI{DeviceID: dev, EventID: 0, ICID: 1})
		r.pending("after MOVI")
		r.msi(dev, 0)
		r.pending("after MSI")
	}},
	{"DISCARD of a pending LPI", func(r *run) {
		setup(r)
		r.msi(dev, 1)
		r.submit(model.DISCARD{DeviceID: dev, EventID: 1})
		r.msi(dev, 1)
		r.known("discard-pending", func() {
			r.pending("after DISCARD")
			r.submit(model.MAPTI{DeviceID: dev, EventID: 1, INTID: model.LPIBase + 1, ICID: 1})
			r.pending("after re-MAPTI")
			if id := r.ack(1); id != model.SpuriousINTID {
				r.eoi(1, id)
			}
		})
		r.pending("end")
	}},
	{"MAPD V=0 and MAPC V=0", func(r *run) {
		setup(r)
		r.submit(model.MAPC{ICID: 1, Valid: false})
		r.msi(dev, 1)
		r.msi(dev, 2)
		r.submit(model.MAPD{DeviceID: dev, Valid: false})
		r.msi(dev, 0)
		r.known("discard-pending", func() { r.pending("end") })
	}},
	{"MAPI and MAPC retarget", func(r *run) {
		setup(r)
		r.mapd(0x20, 14)
		r.submit(model.MAPI{DeviceID: 0x20, EventID: 8200, ICID: 0})
		r.msi(0x20, 8200)
		r.submit(model.MAPC{ICID: 0, RDbase: 1, Valid: true}) // pending state moves with the collection
		r.pending("after retarget")
	}},
	{"MOVALL", func(r *run) {
		setup(r)
		r.msi(dev, 0)
		r.msi(dev, 2)
		r.submit(model.MOVALL{RDbase1: 0, RDbase2: 1}, model.SYNC{RDbase: 1})
		r.pending("after MOVALL")
	}},
	{"INV caching", func(r *run) {
		setup(r)
		// Disable LPI 8192 in the table: cached, it is still delivered.
		r.must(model.SetLPIConfig(r.b, model.LPIBase, model.MakeLPIConfig(0xA0, false)))
		r.msi(dev, 0)
		id := r.ack(0)
		if id != model.SpuriousINTID {
			r.eoi(0, id)
		}
		r.submit(model.INV{DeviceID: dev, EventID: 0})
		r.msi(dev, 0)
		r.ack(0) // disabled now: not signalled
		r.pending("disabled LPI stays pending")
		// INVALL re-enables it.
		r.must(model.SetLPIConfig(r.b, model.LPIBase, model.MakeLPIConfig(0x80, true)))
		r.submit(model.INVALL{ICID: 0})
		if id := r.ack(0); id != model.SpuriousINTID {
			r.eoi(0, id)
		}
	}},
	{"acknowledge, priority mask, running priority, EOI", func(r *run) {
		setup(r)
		r.must(model.SetLPIConfig(r.b, model.LPIBase+4, model.MakeLPIConfig(0x80, true)))
		r.submit(model.MAPTI{DeviceID: dev, EventID: 4, INTID: model.LPIBase + 4, ICID: 0})
		r.msi(dev, 0) // priority 0xA0
		r.msi(dev, 4) // priority 0x80: higher
		r.must(r.b.SetPriorityMask(0, 0x80))
		r.ack(0) // masked: spurious
		r.must(r.b.SetPriorityMask(0, 0xFF))
		a := r.ack(0) // 8196
		r.ack(0)      // 8192 is lower priority than the running priority: spurious
		r.pending("while 8196 is active")
		r.eoi(0, a)
		b := r.ack(0) // 8192
		r.eoi(0, b)
		r.ack(0)
		r.pending("end")
	}},
	{"GSI routing", func(r *run) {
		setup(r)
		routes := []model.Route{
			r.caps.PrepareRoute(model.Route{GSI: 5, MSI: model.MSI{Doorbell: r.l.Doorbell(), Data: 1, DeviceID: dev}}),
			r.caps.PrepareRoute(model.Route{GSI: 6, MSI: model.MSI{Doorbell: r.l.Doorbell(), Data: 9, DeviceID: dev}}),
		}
		r.must(r.b.SetGSIRouting(routes))
		r.must(r.b.TriggerGSI(5))
		r.must(r.b.TriggerGSI(6)) // unmapped event: nothing
		r.note("trigger unrouted GSI: %s", sentinel(r.b.TriggerGSI(7)))
		r.pending("after triggers")
	}},
	{"irqfd", func(r *run) {
		setup(r)
		r.must(r.b.SetGSIRouting([]model.Route{r.caps.PrepareRoute(model.Route{GSI: 3, MSI: model.MSI{Doorbell: r.l.Doorbell(), Data: 2, DeviceID: dev}})}))
		tr, err := r.b.BindIRQFD(3)
		r.must(err)
		_, err = r.b.BindIRQFD(3)
		r.note("second bind: %s", sentinel(err))
		r.must(tr.Signal())
		r.waitPending(0, model.LPIBase+2)
		r.must(tr.Close())
		tr2, err := r.b.BindIRQFD(3)
		r.must(err)
		r.must(tr2.Close())
		r.note("signal after close: %s", sentinel(tr.Signal()))
	}},
	{"save and restore", func(r *run) {
		setup(r)
		r.submit(model.MAPC{ICID: 2, Valid: true, RDbase: 1})
		r.submit(model.MAPTI{DeviceID: dev, EventID: 5, INTID: model.LPIBase + 5, ICID: 3}) // ICID 3: never mapped
		r.msi(dev, 1)
		r.msi(dev, 2)
		r.must(r.b.SaveTables())
		r.tables()
		// Keep guest memory as saved (a migration's copy), change the live
		// state, put the memory back and restore.
		saved := r.snapshot()
		r.submit(model.DISCARD{DeviceID: dev, EventID: 3}, model.MAPD{DeviceID: 0x30, Valid: true, ITTAddr: r.l.ITTs + 0x10_0000, Size: 3})
		r.submit(model.MAPTI{DeviceID: 0x30, EventID: 0, INTID: model.LPIBase + 9, ICID: 0})
		r.putBack(saved)
		r.must(r.b.RestoreTables())
		r.pending("after restore")
		r.msi(dev, 1)
		r.msi(dev, 3)
		r.msi(0x30, 0)
		r.pending("end")
	}},
}

// snapshot copies the guest memory the ITS tables live in: device and
// collection tables, pending tables, and the start of the ITT area.
func (r *run) snapshot() map[model.GPA][]byte {
	r.t.Helper()
	regions := map[model.GPA]uint64{
		r.l.DeviceTable:     uint64(r.l.DeviceTablePages * r.l.DeviceTablePageSize),
		r.l.CollectionTable: uint64(r.l.CollectionTablePages * r.l.CollectionTablePageSize),
		r.l.PendTables:      uint64(r.caps.CPUs) * r.l.PendTableStride(),
		r.l.ITTs:            2 << 20,
	}
	out := map[model.GPA][]byte{}
	for a, n := range regions {
		b := make([]byte, n)
		r.must(r.b.Memory().ReadAt(b, a))
		out[a] = b
	}
	return out
}

func (r *run) putBack(s map[model.GPA][]byte) {
	r.t.Helper()
	for a, b := range s {
		r.must(r.b.Memory().WriteAt(b, a))
	}
}

// tables records the saved device, ITT and collection tables decoded with
// model's ABI revision 0 decoders.
func (r *run) tables() {
	r.t.Helper()
	for d := range model.DeviceID(0x40) {
		v, err := model.ReadUint64(r.b.Memory(), r.l.DeviceTable+model.GPA(8*uint64(d)))
		r.must(err)
		dte := model.DecodeDTE(v)
		if !dte.Valid {
			continue
		}
		r.note("DTE[%#x] = %v", d, dte)
		for ev := range uint64(1) << (dte.Size + 1) {
			v, err := model.ReadUint64(r.b.Memory(), dte.ITTAddr+model.GPA(8*ev))
			r.must(err)
			if ite := model.DecodeITE(v); ite.Valid() {
				r.note("  ITE[%d] = %v", ev, ite)
			}
		}
	}
	for i := range 8 {
		v, err := model.ReadUint64(r.b.Memory(), r.l.CollectionTable+model.GPA(8*i))
		r.must(err)
		if cte := model.DecodeCTE(v); cte.Valid {
			r.note("CTE %v", cte)
		}
	}
	for cpu := range r.caps.CPUs {
		tab := make([]byte, 8)
		r.must(r.b.Memory().ReadAt(tab, r.l.PendTable(model.CPU(cpu))+model.GPA(model.LPIBase/8)))
		r.note("saved pending table of CPU %d: % x", cpu, tab)
	}
}

// suiteBackends are the backends the suite compares, in diff order.
var suiteBackends = []string{"sim", "kvm"}

func TestSwapped(t *testing.T) {
	start := time.Now()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			results := map[string]observed{}
			for _, name := range suiteBackends {
				if !slices.Contains(model.Backends(), name) {
					t.Logf("backend %s not registered: not compared", name)
					continue
				}
				var b model.Backend
				if name == "kvm" {
					b = openKVM(t, model.Config{CPUs: 2})
				} else {
					var err error
					b, err = model.Open(name, model.Config{CPUs: 2})
					if err != nil {
						t.Fatalf("open %s: %v", name, err)
					}
					defer b.Close()
				}
				r := &run{t: t, b: b, caps: b.Capabilities(), l: b.Layout()}
				r.itt = r.l.ITTAllocator()
				sc.run(r)
				results[name] = r.obs
				if testing.Verbose() {
					for _, s := range r.obs.Steps {
						t.Logf("%s: %s", name, s)
					}
				}
				for _, s := range r.obs.Known {
					t.Logf("%s: known difference %s", name, s)
				}
			}
			sim, okS := results["sim"]
			k, okK := results["kvm"]
			if okS && okK {
				if diff := cmp.Diff(sim, k, cmpopts.IgnoreFields(observed{}, "Known")); diff != "" {
					t.Errorf("sim and kvm disagree (-sim +kvm):\n%s", diff)
				}
			}
		})
	}
	t.Logf("suite wall time %v", time.Since(start))
}
