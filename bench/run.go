package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gicits/gicits/bench/stats"
	"github.com/gicits/gicits/model"
)

// key is one event: what injects it and its accounting slot.
type key struct {
	// stamp is 0 while the LPI is not pending through a delivery of ours;
	// otherwise 1 + the time (ns since the run's base) of the delivery
	// that made it pending. Injectors set it, consumers take it.
	stamp atomic.Int64
	msi   model.MSI
	gsi   model.GSI
	trig  model.Trigger
	dev   model.DeviceID
	ev    model.EventID
	lpi   model.INTID
	icid  model.ICID
}

type runner struct {
	b       model.Backend
	w       Workload
	caps    model.Capabilities // set by setup
	layout  model.Layout       // set by setup
	keys    []key
	base    time.Time
	startNs atomic.Int64 // measured phase start, ns since base (0: not yet)
	stop    atomic.Bool  // duration reached or context cancelled
	drain   atomic.Bool  // injectors finished
	done    atomic.Int64 // measured injections, updated in batches
	failed  atomic.Int64 // injections that returned an error, for Progress

	itts []model.GPA // per device, as set-up allocated them

	mu      sync.Mutex
	errs    []string
	dropped atomic.Int64
	stolen  atomic.Int64 // stamps of blocked injections that churn took
}

func (r *runner) addErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) < 8 {
		r.errs = append(r.errs, err.Error())
	}
}

func (r *runner) now() int64 { return int64(time.Since(r.base)) }

// Run programs b for w the way a guest driver does, runs w and returns
// what it measured. b must be freshly opened with at least w.CPUs CPUs;
// Run leaves it programmed (close it after). The error is for a workload
// that does not validate or set-up that fails; injection errors, losses
// and the like are in the Result (see [Result.OK]).
//
// Cancelling ctx stops the injectors (set-up, once begun, completes);
// Run then drains every CPU and returns what the part that ran measured,
// marked [Result.Partial] unless the workload was done anyway.
func Run(ctx context.Context, b model.Backend, w Workload, opt Options) (*Result, error) {
	if err := w.Validate(); err != nil {
		return nil, err
	}
	caps := b.Capabilities()
	if caps.CPUs < w.CPUs {
		return nil, fmt.Errorf("workload %s needs %d CPUs, backend %s has %d: %w", w.Name, w.CPUs, b.Name(), caps.CPUs, model.ErrInvalidArgument)
	}
	r := &runner{b: b, w: w}
	res := &Result{Label: opt.Label, Backend: b.Name(), Where: caps.Where, Emulated: caps.Emulated, Workload: w,
		Clock: MeasureClock(), GOMAXPROCS: runtime.GOMAXPROCS(0), Injectors: w.injectors()}
	if res.Label == "" {
		res.Label = b.Name()
	}
	if err := r.setup(); err != nil {
		r.close()
		return nil, fmt.Errorf("setting up workload %s on %s: %w", w.Name, b.Name(), err)
	}
	defer r.close()
	r.execute(ctx, res, opt)
	return res, nil
}

func (r *runner) close() {
	for i := range r.keys {
		if t := r.keys[i].trig; t != nil {
			t.Close()
		}
	}
}

// setup maps every event: EnableLPIs and an open priority mask on every
// CPU, one collection per CPU, one ITT per device, one LPI per event, then
// INVALL per collection as vgic_lpi_stress does; then the GSI routes and
// irqfds of the workload's path.
func (r *runner) setup() error {
	b, w := r.b, r.w
	r.caps, r.layout = b.Capabilities(), b.Layout()
	if w.Devices*w.Events > int(r.layout.MaxINTID()-model.LPIBase+1) {
		return fmt.Errorf("%d LPIs do not fit the layout's INTIDs 8192..%d: %w", w.Devices*w.Events, r.layout.MaxINTID(), model.ErrInvalidArgument)
	}
	cmds, err := r.setupCPUs()
	if err != nil {
		return err
	}
	maps, err := r.mapEvents()
	if err != nil {
		return err
	}
	cmds = append(cmds, maps...)
	for cpu := range w.CPUs {
		cmds = append(cmds, model.INVALL{ICID: model.ICID(cpu)})
	}
	for len(cmds) > 0 {
		n := min(len(cmds), 512)
		if err := model.SubmitCommands(b, cmds[:n]...); err != nil {
			return fmt.Errorf("programming the ITS: %w", err)
		}
		cmds = cmds[n:]
	}
	return r.setupPath()
}

// setupCPUs enables LPIs and opens the priority mask on every CPU (where
// the backend lets it be set), and returns the MAPC of each CPU's
// collection.
func (r *runner) setupCPUs() ([]model.Command, error) {
	cmds, err := model.EnableCollections(r.b, r.w.CPUs)
	if err != nil {
		return nil, err
	}
	for cpu := range r.w.CPUs {
		if err := r.b.SetPriorityMask(model.CPU(cpu), 0xFF); err != nil && !errors.Is(err, model.ErrNotSupported) {
			return nil, err
		}
	}
	return cmds, nil
}

// mapEvents allocates each device's ITT, configures each event's LPI,
// fills r.keys and r.itts, and returns the MAPD and MAPTI commands that
// map them, events spread over collections by the workload's Mapping.
func (r *runner) mapEvents() ([]model.Command, error) {
	w, caps := r.w, r.caps
	rng := rand.New(rand.NewPCG(w.Seed, 0x6d6170)) // "map"
	alloc := r.layout.ITTAllocator()
	prios := w.priorities()
	r.keys = make([]key, w.Devices*w.Events)
	var cmds []model.Command
	events := make([]model.Event, w.Events)
	for d := range w.Devices {
		for e := range events {
			k := d*w.Events + e
			var icid int
			switch w.Mapping {
			case RoundRobin:
				icid = k % w.CPUs
			case AllToOne:
				icid = 0
			case RandomMapping:
				icid = rng.IntN(w.CPUs)
			}
			lpi := model.LPIBase + model.INTID(k)
			events[e] = model.Event{EventID: model.EventID(e), INTID: lpi, ICID: model.ICID(icid), Config: model.MakeLPIConfig(prios[k%len(prios)], true)}
			key := &r.keys[k]
			key.dev, key.ev, key.lpi, key.icid, key.gsi = model.DeviceID(d), model.EventID(e), lpi, model.ICID(icid), model.GSI(k)
			key.msi = caps.Prepare(model.MSI{Doorbell: r.layout.Doorbell(), Data: uint32(e), DeviceID: model.DeviceID(d)})
		}
		itt, devCmds, err := model.MapDevice(r.b, alloc, model.DeviceID(d), events)
		if err != nil {
			return nil, err
		}
		r.itts = append(r.itts, itt)
		cmds = append(cmds, devCmds...)
	}
	return cmds, nil
}

// setupPath installs one GSI route per event for paths gsi and irqfd, and
// binds an irqfd to each route for path irqfd.
func (r *runner) setupPath() error {
	b, w, caps := r.b, r.w, r.caps
	if w.Path == PathGSI || w.Path == PathIRQFD {
		routes := make([]model.Route, len(r.keys))
		for i := range r.keys {
			routes[i] = caps.PrepareRoute(model.Route{GSI: r.keys[i].gsi, MSI: r.keys[i].msi})
		}
		if err := b.SetGSIRouting(routes); err != nil {
			return fmt.Errorf("GSI routing: %w", err)
		}
	}
	if w.Path == PathIRQFD {
		for i := range r.keys {
			t, err := b.BindIRQFD(r.keys[i].gsi)
			if err != nil {
				return fmt.Errorf("irqfd for GSI %d: %w", r.keys[i].gsi, err)
			}
			r.keys[i].trig = t
		}
	}
	return nil
}

// sequence returns injector i's keys in injection order: a ring that the
// injector walks round, so nothing is generated while injecting.
func (r *runner) sequence(i int) []int32 {
	w := r.w
	var own []int32
	if w.Injectors == 0 {
		for e := range w.Events {
			own = append(own, int32(i*w.Events+e))
		}
	} else {
		for k := range r.keys {
			own = append(own, int32(k))
		}
	}
	total := w.Warmup + w.InjectionsPerInjector()
	if total == 0 || total > 1<<20 {
		total = 1 << 20
	}
	if w.Pattern == Sequential {
		n := (total + len(own) - 1) / len(own) * len(own)
		seq := make([]int32, n)
		for j := range seq {
			seq[j] = own[j%len(own)]
		}
		return seq
	}
	rng := rand.New(rand.NewPCG(w.Seed, uint64(i)+1))
	seq := make([]int32, total)
	switch w.Pattern {
	case Uniform:
		for j := range seq {
			seq[j] = own[rng.IntN(len(own))]
		}
	case Zipf:
		// Ranks map to events through a random permutation, so the hot
		// events are not all on one CPU.
		perm := rng.Perm(len(own))
		z := rand.NewZipf(rng, w.ZipfS, 1, uint64(len(own)-1))
		for j := range seq {
			seq[j] = own[perm[z.Uint64()]]
		}
	case Bursts:
		for j := 0; j < len(seq); {
			k := own[rng.IntN(len(own))]
			for n := 0; n < w.BurstLen && j < len(seq); n++ {
				seq[j] = k
				j++
			}
		}
	}
	return seq
}

// injector is one injecting goroutine's state and tallies.
type injector struct {
	seq       []int32
	pos       int
	calls     []float64
	capped    bool
	signalled int64
	delivered int64
	blocked   int64
	failed    int64
	stamped   int64 // deliveries that found the LPI not pending
	lastEnd   int64 // ns since base when the measured phase ended
}

// inject makes n injections (n < 0: until r.stop). Latency of one call in
// every is recorded when record is set.
func (r *runner) inject(in *injector, n int, record bool) {
	b, keys, every := r.b, r.keys, r.w.LatencyEvery
	path := r.w.Path
	stampTime := r.w.Wait != WaitNone
	batch := int64(0)
	for i := 0; n < 0 || i < n; i++ {
		if i&255 == 0 && r.stop.Load() {
			break
		}
		k := &keys[in.seq[in.pos]]
		if in.pos++; in.pos == len(in.seq) {
			in.pos = 0
		}
		timed := record && i%every == 0
		var t0, stamp int64 = 0, 1
		if timed || stampTime {
			t0 = r.now()
			stamp = t0 + 1
		}
		fresh := k.stamp.Load() == 0 && k.stamp.CompareAndSwap(0, stamp)
		var d model.Delivery
		var err error
		switch path {
		case PathSignalMSI:
			d, err = b.SignalMSI(k.msi)
		case PathGSI:
			d, err = model.Delivered, b.TriggerGSI(k.gsi)
		case PathIRQFD:
			d, err = model.Delivered, k.trig.Signal()
		}
		if timed {
			if len(in.calls) < cap(in.calls) {
				in.calls = append(in.calls, float64(r.now()-t0))
			} else {
				in.capped = true
			}
		}
		in.signalled++
		if record {
			if batch++; batch == 4096 {
				r.done.Add(batch)
				batch = 0
			}
		}
		switch {
		case err != nil:
			in.failed++
			r.failed.Add(1)
			if in.failed <= 2 {
				r.addErr(fmt.Errorf("%v: %w", k.msi, err))
			}
		case d == model.Delivered:
			in.delivered++
			if fresh {
				in.stamped++
			}
			continue
		default:
			in.blocked++
		}
		if fresh && !k.stamp.CompareAndSwap(stamp, 0) {
			r.stolen.Add(1) // churn dropped our stamp meanwhile
		}
	}
	if record {
		r.done.Add(batch)
	}
}

// consumer is one CPU's acknowledging goroutine.
type consumer struct {
	cpu     model.CPU
	e2e     []float64
	acked   int64
	takes   int64 // acknowledgements that took a stamp
	foreign int64
	capped  bool // e2e reached maxSamples
}

// maxSamples bounds every latency sample buffer of a run (the first
// million are kept), so that a long duration-bounded run, a soak, uses
// the same memory after its first seconds as after ten minutes.
const maxSamples = 1 << 20

// maxChurnSamples bounds the churn command latencies likewise: at the
// churn workload's 2000 commands a second they fill in about half a
// minute, which a soak's warm-up covers.
const maxChurnSamples = 1 << 16

// take accounts for id acknowledged at t (ns since base) by an
// Acknowledge called at asked; it records an end-to-end sample when record
// is set and the stamp is from the measured phase.
//
// # Notes
//
// Acknowledging and taking the stamp are two steps, so a delivery that
// re-pends the LPI between them (its injector found the stamp already
// taken by an earlier acknowledgement) can leave a stamp newer than the
// acknowledgement. The stamp is still taken, so the accounting stays exact,
// but it times no delivery this acknowledgement saw: no sample is recorded
// for a stamp newer than asked.
func (r *runner) take(c *consumer, id model.INTID, asked, t int64, record bool) {
	c.acked++
	i := int(id) - int(model.LPIBase)
	if i < 0 || i >= len(r.keys) {
		c.foreign++
		return
	}
	s := r.keys[i].stamp.Swap(0)
	if s == 0 {
		return
	}
	c.takes++
	if start := r.startNs.Load(); record && s > 1 && start > 0 && s-1 >= start && s-1 <= asked {
		if len(c.e2e) < maxSamples {
			c.e2e = append(c.e2e, float64(t-(s-1)))
		} else {
			c.capped = true
		}
	}
}

const drainQuiet = 50 * time.Millisecond

// consume acknowledges LPIs on c.cpu until the injectors have finished and
// nothing has arrived for drainQuiet.
func (r *runner) consume(c *consumer) {
	b, spin := r.b, r.w.Wait == WaitSpin
	var quietSince int64
	empty := 0
	backoff := 10 * time.Microsecond
	for {
		asked := r.now()
		id, err := b.Acknowledge(c.cpu)
		if err != nil {
			r.addErr(fmt.Errorf("consumer, Acknowledge on CPU %d: %w", c.cpu, err))
			return
		}
		if id == model.SpuriousINTID {
			if r.drain.Load() {
				now := r.now()
				if quietSince == 0 {
					quietSince = now
				} else if now-quietSince > int64(drainQuiet) {
					return
				}
			}
			if spin {
				if empty++; empty%64 == 0 {
					runtime.Gosched()
				}
			} else {
				time.Sleep(backoff)
				backoff = min(2*backoff, 200*time.Microsecond)
			}
			continue
		}
		t := r.now()
		quietSince, empty, backoff = 0, 0, 10*time.Microsecond
		if err := b.EOI(c.cpu, id); err != nil {
			r.addErr(fmt.Errorf("EOI %d on CPU %d: %w", id, c.cpu, err))
			return
		}
		r.take(c, id, asked, t, true)
	}
}

// execute runs the workload on the programmed backend and fills res:
// consumers start first, then the injectors warm up and are released
// together, with churn and progress reports beside them; when the
// injectors have finished, every CPU is drained and everything tallied.
func (r *runner) execute(ctx context.Context, res *Result, opt Options) {
	r.base = time.Now()
	res.Started = r.base
	// A cancel stops the injectors from the start, the warm-up included
	// (slow on a KVM under emulation).
	stopCtx := context.AfterFunc(ctx, func() { r.stop.Store(true) })
	defer stopCtx()
	ins := r.newInjectors()
	cons, consumersDone := r.startConsumers()
	release, injectorsDone := r.startInjectors(ins)
	startNs := r.now()
	r.startNs.Store(startNs)
	release()
	stopChurn := r.startChurn()
	stopProgress := r.startProgress(opt, startNs)
	cut := r.waitDuration(ctx)
	injectorsDone()
	churnLat := stopChurn()
	stopProgress()
	r.drain.Store(true)
	consumersDone()
	cons = append(cons, r.drainCPUs())
	r.tally(res, ins, cons, churnLat, startNs)
	r.markPartial(res, cut)
}

// markPartial sets res.Partial, with a note saying how far the run got,
// when it was stopped before its workload was done: a duration-bounded
// run that cut is set for (its context ended the wait), or a
// count-bounded one with fewer measured injections than planned (only a
// cancelled context stops those injectors early).
func (r *runner) markPartial(res *Result, cut bool) {
	w := r.w
	planned := int64(w.injectors()) * int64(w.InjectionsPerInjector())
	if w.Duration > 0 && !cut || w.Duration == 0 && res.Injections >= planned {
		return
	}
	res.Partial = true
	note := "PARTIAL: the run was stopped after " + res.Extent() + "; every figure is of the part that ran"
	res.Notes = append([]string{note}, res.Notes...)
}

// newInjectors returns one injector per injecting goroutine, each with its
// injection sequence and a call-latency buffer allocated whole.
func (r *runner) newInjectors() []*injector {
	w := r.w
	ins := make([]*injector, w.injectors())
	for i := range ins {
		in := &injector{seq: r.sequence(i)}
		samples := w.InjectionsPerInjector()
		if samples == 0 {
			samples = maxSamples // duration-bounded: keep the first million
		}
		in.calls = make([]float64, 0, samples/w.LatencyEvery+1)
		ins[i] = in
	}
	return ins
}

// startConsumers starts one consumer per CPU unless the workload waits
// for none; wait waits for them to finish draining (after r.drain is set).
func (r *runner) startConsumers() (cons []*consumer, wait func()) {
	w := r.w
	// A duration-bounded run (a soak) allocates its bounded sample buffers
	// whole at the start, so its memory is flat from the first second
	// rather than after the buffers have filled.
	e2eCap := 1 << 16
	if w.InjectionsPerInjector() == 0 {
		e2eCap = maxSamples
	}
	cons = make([]*consumer, 0, w.CPUs)
	var wg sync.WaitGroup
	if w.Wait != WaitNone {
		for cpu := range w.CPUs {
			c := &consumer{cpu: model.CPU(cpu), e2e: make([]float64, 0, e2eCap)}
			cons = append(cons, c)
			wg.Go(func() { r.consume(c) })
		}
	}
	return cons, wg.Wait
}

// startInjectors starts one goroutine per injector. Each makes its warm-up
// injections, then waits for release before its measured ones, so that
// every injector starts measuring at once. startInjectors returns when all
// have warmed up; wait waits for them to finish.
func (r *runner) startInjectors(ins []*injector) (release, wait func()) {
	w := r.w
	var ready, finished sync.WaitGroup
	start := make(chan struct{})
	for _, in := range ins {
		ready.Add(1)
		finished.Go(func() {
			r.inject(in, w.Warmup, false)
			ready.Done()
			<-start
			count := w.InjectionsPerInjector()
			if count == 0 {
				count = -1
			}
			r.inject(in, count, true)
			in.lastEnd = r.now()
		})
	}
	ready.Wait()
	return func() { close(start) }, finished.Wait
}

// startChurn starts the churn goroutine when the workload churns; stop
// ends it and returns the latencies of its commands.
func (r *runner) startChurn() (stop func() []float64) {
	var wg sync.WaitGroup
	done := make(chan struct{})
	var lat []float64
	if r.w.Churn != ChurnNone {
		wg.Go(func() { lat = r.churn(done) })
	}
	return func() []float64 {
		close(done)
		wg.Wait()
		return lat
	}
}

// startProgress calls opt.Progress, when set, about four times a second
// until stop is called. startNs is the start of the measured phase.
func (r *runner) startProgress(opt Options, startNs int64) (stop func()) {
	w := r.w
	var wg sync.WaitGroup
	done := make(chan struct{})
	if opt.Progress != nil {
		wg.Go(func() {
			tick := time.NewTicker(250 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					now := r.now()
					opt.Progress(Progress{Done: r.done.Load(), Total: int64(w.injectors()) * int64(w.InjectionsPerInjector()),
						Elapsed: time.Duration(now - startNs), Limit: w.Duration, Failed: r.failed.Load(), Overdue: r.overdue(now)})
				}
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// overdue returns the number of LPIs whose delivery's stamp is older than
// OverdueAfter at now (ns since base), or -1 when stamps carry no time
// because nothing acknowledges during the run (Wait none).
func (r *runner) overdue(now int64) int64 {
	if r.w.Wait == WaitNone {
		return -1
	}
	var n int64
	for i := range r.keys {
		// A stamp is 1 + the delivery's time; 1 alone carries none.
		if s := r.keys[i].stamp.Load(); s > 1 && now-(s-1) > int64(OverdueAfter) {
			n++
		}
	}
	return n
}

// waitDuration waits out a duration-bounded workload's Duration, or until
// ctx is done, and then stops the injectors; cut reports that ctx ended it
// first. A workload bounded by a count returns at once: its injectors stop
// by themselves (or when ctx stops them).
func (r *runner) waitDuration(ctx context.Context) (cut bool) {
	if r.w.Duration <= 0 {
		return false
	}
	timer := time.NewTimer(r.w.Duration)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		cut = true
	}
	r.stop.Store(true)
	return cut
}

// drainCPUs acknowledges and EOIs whatever is still pending on every CPU,
// so every delivery is accounted for, and returns the tallies of it.
func (r *runner) drainCPUs() *consumer {
	final := &consumer{}
	for cpu := range r.w.CPUs {
		for {
			id, err := r.b.Acknowledge(model.CPU(cpu))
			if err != nil {
				r.addErr(fmt.Errorf("final drain, Acknowledge on CPU %d: %w", cpu, err))
				break
			}
			if id == model.SpuriousINTID {
				break
			}
			if err := r.b.EOI(model.CPU(cpu), id); err != nil {
				r.addErr(fmt.Errorf("final drain, EOI %d on CPU %d: %w", id, cpu, err))
				break
			}
			r.take(final, id, 0, 0, false)
		}
	}
	return final
}

// tally fills res from the injectors', consumers' and churn's tallies.
// startNs is the start of the measured phase.
func (r *runner) tally(res *Result, ins []*injector, cons []*consumer, churnLat []float64, startNs int64) {
	var end, stamped int64
	cnt := &res.Counts
	for _, in := range ins {
		end = max(end, in.lastEnd)
		cnt.Signalled += in.signalled
		cnt.Delivered += in.delivered
		cnt.Blocked += in.blocked
		cnt.Failed += in.failed
		stamped += in.stamped
		res.CallSamples = append(res.CallSamples, in.calls...)
		if in.capped {
			res.Notes = append(res.Notes, "call latency: only the first samples of each injector were kept (the sample buffer was full)")
		}
	}
	res.Elapsed = time.Duration(end - startNs)
	res.Injections = r.done.Load()
	if res.Elapsed > 0 {
		res.Throughput = float64(res.Injections) / res.Elapsed.Seconds()
	}
	var takes int64
	for _, c := range cons {
		cnt.Acknowledged += c.acked
		cnt.Foreign += c.foreign
		takes += c.takes
		res.EndToEndSamples = append(res.EndToEndSamples, c.e2e...)
		if c.capped {
			res.Notes = append(res.Notes, fmt.Sprintf("end-to-end latency: only the first %d samples of CPU %d were kept", maxSamples, c.cpu))
		}
	}
	cnt.Dropped = r.dropped.Load()
	cnt.Coalesced = cnt.Delivered - cnt.Acknowledged
	// Stamps placed by deliveries: taken by an acknowledgement, dropped by
	// churn (which also takes stamps of injections it blocked), or lost.
	cnt.Lost = stamped + r.stolen.Load() - takes - cnt.Dropped
	slices.Sort(res.CallSamples)
	slices.Sort(res.EndToEndSamples)
	res.Call = stats.Summarize(res.CallSamples)
	res.EndToEnd = stats.Summarize(res.EndToEndSamples)
	res.ChurnOps = int64(len(churnLat))
	slices.Sort(churnLat)
	res.Command = stats.Summarize(churnLat)
	res.Errors = r.errs
	res.Notes = append(res.Notes, r.notes(res)...)
}

// notes are what a reader must know to read the figures of res.
func (r *runner) notes(res *Result) []string {
	w := r.w
	var notes []string
	switch w.Wait {
	case WaitSpin:
		notes = append(notes, "consumers: one goroutine per CPU spinning on Acknowledge (yielding every 64 empty polls)")
	case WaitPark:
		notes = append(notes, "consumers: one goroutine per CPU polling Acknowledge, parked in sleeps backing off from 10µs to 200µs when idle (the API has no notification)")
	case WaitNone:
		notes = append(notes, "consumers: none; CPUs drained after the run, no end-to-end latency")
	}
	if w.Path != PathSignalMSI {
		notes = append(notes, fmt.Sprintf("path %v: the backend does not say whether an injection was delivered or blocked; every one without an error counts as delivered", w.Path))
	}
	if w.LatencyEvery > 1 {
		notes = append(notes, fmt.Sprintf("call latency sampled: one call in %d timed", w.LatencyEvery))
	}
	g := res.Injectors
	if w.Wait == WaitSpin {
		g += w.CPUs
	}
	if g > res.GOMAXPROCS {
		notes = append(notes, fmt.Sprintf("%d busy goroutines on %d processors (GOMAXPROCS): figures are degraded, as vgic_lpi_stress warns in the same case", g, res.GOMAXPROCS))
	}
	return notes
}

// churn re-maps at w.ChurnRate until done is closed, returning the latency
// of each SubmitCommands call.
func (r *runner) churn(done <-chan struct{}) []float64 {
	w, b := r.w, r.b
	rng := rand.New(rand.NewPCG(w.Seed, 0x636875726e)) // "churn"
	interval := time.Duration(float64(time.Second) / w.ChurnRate)
	lat := make([]float64, 0, maxChurnSamples)
	next := time.Now()
	ittBits := 1
	for 1<<ittBits < w.Events {
		ittBits++
	}
	for {
		select {
		case <-done:
			return lat
		default:
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		k := &r.keys[rng.IntN(len(r.keys))]
		var cmds []model.Command
		var affected []*key
		switch w.Churn {
		case ChurnMOVI:
			k.icid = model.ICID((int(k.icid) + 1) % w.CPUs)
			cmds = []model.Command{model.MOVI{DeviceID: k.dev, EventID: k.ev, ICID: k.icid}}
		case ChurnRemap:
			cmds = []model.Command{model.DISCARD{DeviceID: k.dev, EventID: k.ev},
				model.MAPTI{DeviceID: k.dev, EventID: k.ev, INTID: k.lpi, ICID: k.icid}}
			affected = []*key{k}
		case ChurnMAPD:
			first := int(k.dev) * w.Events
			itt := r.itts[k.dev]
			cmds = []model.Command{model.MAPD{DeviceID: k.dev, Valid: false},
				model.MAPD{DeviceID: k.dev, Size: uint8(ittBits - 1), ITTAddr: itt, Valid: true}}
			for e := range w.Events {
				kk := &r.keys[first+e]
				cmds = append(cmds, model.MAPTI{DeviceID: kk.dev, EventID: kk.ev, INTID: kk.lpi, ICID: kk.icid})
				affected = append(affected, kk)
			}
		}
		t0 := time.Now()
		err := model.SubmitCommands(b, cmds...)
		if len(lat) < maxChurnSamples {
			lat = append(lat, float64(time.Since(t0)))
		}
		if err != nil {
			r.addErr(fmt.Errorf("churn %v: %w", cmds[0], err))
			return lat
		}
		for _, kk := range affected {
			if kk.stamp.Swap(0) != 0 {
				r.dropped.Add(1)
			}
		}
	}
}
