package benchtest

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Noise describes the seeded noise of a [NoisyMachine]: what makes the
// runs of one benchmark on one machine differ. Zero fields take the
// defaults of [DefaultNoise].
type Noise struct {
	Seed uint64
	// Samples is the number of latency samples per run.
	Samples int
	// Median is the machine's typical injection-call latency, in ns.
	Median float64
	// SampleSpread is the standard deviation of a sample's log latency
	// within a run.
	SampleSpread float64
	// Autocorrelation is the AR(1) coefficient of successive samples' log
	// latencies within a run: a slow sample is followed by slow ones, as
	// a cache, a preempted vCPU or a frequency change lasts a while.
	Autocorrelation float64
	// RunSpread is the standard deviation of each run's own log level,
	// independent between runs (where the heap and the goroutines landed).
	RunSpread float64
	// Drift is the standard deviation of each step of the machine's
	// random walk in log speed, one step per run (the load of the host,
	// its temperature).
	Drift float64
}

// DefaultNoise is a machine like the 2-vCPU development host: 2% drift
// and 3% spread between runs, strongly autocorrelated samples.
var DefaultNoise = Noise{Samples: 20000, Median: 100, SampleSpread: 0.4, Autocorrelation: 0.95, RunSpread: 0.03, Drift: 0.02}

// NoisyRun is what one run on a [NoisyMachine] measured.
type NoisyRun struct {
	// CallSamples and EndToEndSamples are the latencies in ns, sorted.
	CallSamples, EndToEndSamples []float64
	// Elapsed is the sum of the call latencies: the run's injector calls
	// back to back.
	Elapsed time.Duration
	// Throughput is calls per second of Elapsed.
	Throughput float64
}

// NoisyMachine makes synthetic runs: latencies from seeded noise instead of
// a clock, so that a test of the statistics over them is exact and cannot
// flake. A real backend timed on a shared machine cannot give that; the
// machine's model of the noise can: within-run autocorrelation, a level
// per run, and a drift over the machine's time, which is the order of the
// calls to Run, so the order in which a test runs its sides matters as it
// does on a real machine.
type NoisyMachine struct {
	noise Noise
	rng   *rand.Rand
	drift float64 // the machine's log speed now
}

// NewNoisyMachine returns a machine with noise n (zero fields defaulted).
func NewNoisyMachine(n Noise) *NoisyMachine {
	d := DefaultNoise
	if n.Samples == 0 {
		n.Samples = d.Samples
	}
	if n.Median == 0 {
		n.Median = d.Median
	}
	if n.SampleSpread == 0 {
		n.SampleSpread = d.SampleSpread
	}
	if n.Autocorrelation == 0 {
		n.Autocorrelation = d.Autocorrelation
	}
	if n.RunSpread == 0 {
		n.RunSpread = d.RunSpread
	}
	if n.Drift == 0 {
		n.Drift = d.Drift
	}
	return &NoisyMachine{noise: n, rng: rand.New(rand.NewPCG(n.Seed, n.Seed^0x9e3779b97f4a7c15))}
}

// Run makes one run of a backend slowdown times slower than the machine's
// norm (1 for an A/A comparison), and moves the machine's drift on by one
// step.
func (m *NoisyMachine) Run(slowdown float64) NoisyRun {
	n := m.noise
	m.drift += n.Drift * m.rng.NormFloat64()
	level := m.drift + n.RunSpread*m.rng.NormFloat64() + math.Log(slowdown)
	innovation := n.SampleSpread * math.Sqrt(1-n.Autocorrelation*n.Autocorrelation)
	call := make([]float64, n.Samples)
	e2e := make([]float64, n.Samples)
	e := n.SampleSpread * m.rng.NormFloat64() // the AR(1) state, stationary from the start
	var total float64
	for i := range call {
		e = n.Autocorrelation*e + innovation*m.rng.NormFloat64()
		call[i] = math.Round(n.Median * math.Exp(level+e))
		e2e[i] = math.Round(8 * call[i] * math.Exp(0.2*m.rng.NormFloat64()))
		total += call[i]
	}
	slices.Sort(call)
	slices.Sort(e2e)
	return NoisyRun{CallSamples: call, EndToEndSamples: e2e, Elapsed: time.Duration(total),
		Throughput: float64(n.Samples) / (total / 1e9)}
}
