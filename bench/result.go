package bench

import (
	"fmt"
	"time"

	"github.com/gicits/gicits/bench/stats"
)

// Options adjust a run without changing its workload.
type Options struct {
	// Label names the run in reports; empty means the backend's name. Use
	// it to tell apart two runs of one backend ("sim", "sim-walk").
	Label string
	// Progress, when set, is called about four times a second during the
	// measured phase, from a goroutine of its own.
	Progress func(Progress)
}

// OverdueAfter is how long a delivery may go unacknowledged before
// [Progress] counts it as overdue.
const OverdueAfter = time.Second

// Progress is a snapshot of a run in progress.
type Progress struct {
	Done    int64         // measured injections so far
	Total   int64         // measured injections in all, 0 when bounded by time
	Elapsed time.Duration // since the measured phase started
	Limit   time.Duration // the workload's Duration, or 0
	// Failed counts the injections that returned an error so far, warm-up
	// included.
	Failed int64
	// Overdue counts the LPIs made pending by a delivery of the run that
	// no CPU has acknowledged for over OverdueAfter: a lost delivery
	// shows here first. It is a warning, not the accounting: only the
	// final drain tells lost from slow ([Counts.Lost]). -1 when the
	// workload has no consumers (Wait none), so nothing is acknowledged
	// until the drain.
	Overdue int64
}

// Counts account for every injection of a run, warm-up included.
//
// Every injection is signalled. The backend delivers it (the LPI is
// pending, or was already: MSIs coalesce), blocks it (no translation) or
// fails it (an error). Each delivery that found its LPI not pending is
// stamped; an acknowledgement of the LPI takes the stamp. After the run
// every CPU is drained, so each stamped delivery must have been
// acknowledged, or dropped by a churn DISCARD or MAPD: anything else is
// Lost. Lost must be 0.
type Counts struct {
	Signalled int64 `json:"signalled"`
	Delivered int64 `json:"delivered"`
	Blocked   int64 `json:"blocked"`
	Failed    int64 `json:"failed"`
	// Acknowledged counts the LPIs the CPUs acknowledged, during the run
	// and in the final drain.
	Acknowledged int64 `json:"acknowledged"`
	// Coalesced is Delivered - Acknowledged: deliveries that found their
	// LPI still pending and merged with it (or were dropped by churn).
	Coalesced int64 `json:"coalesced"`
	// Dropped counts pending deliveries that churn removed by design
	// (DISCARD, MAPD V=0).
	Dropped int64 `json:"dropped_by_churn"`
	// Lost counts deliveries that reached no CPU for no reason the
	// workload explains. It must be 0.
	Lost int64 `json:"lost"`
	// Foreign counts acknowledged INTIDs the workload never mapped.
	Foreign int64 `json:"foreign"`
}

// Clock describes the clock latencies are measured with.
type Clock struct {
	Name string `json:"name"`
	// Resolution is the smallest non-zero difference seen between two
	// consecutive readings.
	Resolution time.Duration `json:"resolution_ns"`
	// ReadCost is the mean cost of one reading. A timed call's latency
	// includes about one reading.
	ReadCost time.Duration `json:"read_cost_ns"`
}

func (c Clock) String() string {
	return fmt.Sprintf("%s, resolution %v, one reading costs %v", c.Name, c.Resolution, c.ReadCost)
}

// MeasureClock measures the resolution and reading cost of the clock
// latencies are measured with.
func MeasureClock() Clock {
	const n = 20000
	base := time.Now()
	res := time.Duration(1<<63 - 1)
	prev := time.Since(base)
	start := prev
	for range n {
		t := time.Since(base)
		if d := t - prev; d > 0 && d < res {
			res = d
		}
		prev = t
	}
	return Clock{
		Name:       "Go monotonic clock (time.Now; CLOCK_MONOTONIC via the vDSO on Linux)",
		Resolution: res,
		ReadCost:   (prev - start) / n,
	}
}

// Result is what a run measured. Latencies are in nanoseconds.
type Result struct {
	Label   string `json:"label"`
	Backend string `json:"backend"`
	// Where and Emulated are the backend's Capabilities of the same names:
	// where it ran, and whether its CPUs were emulated (absolute times
	// then mean nothing).
	Where      string        `json:"where"`
	Emulated   bool          `json:"emulated"`
	Workload   Workload      `json:"workload"`
	Clock      Clock         `json:"clock"`
	GOMAXPROCS int           `json:"gomaxprocs"`
	Injectors  int           `json:"injectors"`
	Started    time.Time     `json:"started"`
	Elapsed    time.Duration `json:"elapsed_ns"` // measured phase, wall time
	// Injections is the number of measured injections, all injectors.
	Injections int64 `json:"injections"`
	// Throughput is Injections per second of Elapsed: LPIs/s as
	// vgic_lpi_stress reports its rate.
	Throughput float64 `json:"lpis_per_second"`
	Counts     Counts  `json:"counts"`

	// Call summarises the latency of the injection call (SignalMSI,
	// TriggerGSI or Trigger.Signal), one call in Workload.LatencyEvery.
	Call stats.Summary `json:"call_latency_ns"`
	// EndToEnd summarises injection → Acknowledge returned on the target
	// CPU, for stamped deliveries of the measured phase. Empty without
	// consumers.
	EndToEnd stats.Summary `json:"end_to_end_latency_ns"`
	// Command summarises the SubmitCommands latency of churn operations.
	ChurnOps int64         `json:"churn_ops"`
	Command  stats.Summary `json:"churn_command_latency_ns"`

	// CallSamples and EndToEndSamples are the sorted samples behind Call
	// and EndToEnd, for plots and comparisons.
	CallSamples     []float64 `json:"-"`
	EndToEndSamples []float64 `json:"-"`

	// Partial is set when the run was stopped (its context cancelled)
	// before its workload's count or duration was done: every figure is
	// of the part that ran, and a note says how far it got. The
	// accounting is still exact: the CPUs are drained as after a whole run.
	Partial bool `json:"partial,omitempty"`

	// Notes say what a reader must know to read the figures.
	Notes []string `json:"notes,omitempty"`
	// Errors are the first errors injections and consumers met.
	Errors []string `json:"errors,omitempty"`
}

// Extent says how much of its workload r measured: "1.5s of 30s" for a
// run bounded by time, "1200 of 500000 measured injections" for one
// bounded by a count.
func (r *Result) Extent() string {
	w := r.Workload
	if w.Duration > 0 {
		return fmt.Sprintf("%v of %v", r.Elapsed.Round(time.Millisecond), w.Duration)
	}
	return fmt.Sprintf("%d of %d measured injections", r.Injections, int64(r.Injectors)*int64(w.InjectionsPerInjector()))
}

// OK reports whether the run lost nothing and met no error.
func (r *Result) OK() bool { return r.Counts.Lost == 0 && r.Counts.Failed == 0 && len(r.Errors) == 0 }
