package stats

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Summary describes a sample of latencies (or any positive measurements):
// moments, order statistics and a 95% confidence interval for the mean.
// Values are in the sample's unit (nanoseconds for latencies).
type Summary struct {
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	StdDev float64 `json:"stddev"`
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	P999   float64 `json:"p99_9"`
	Max    float64 `json:"max"`
	// CILow and CIHigh bound a 95% confidence interval for the mean:
	// mean ± t(0.975, N-1)·StdDev/√N (Student's t; with the sample sizes
	// used here the distribution of the mean is close to normal even when
	// the latencies are not). With fewer than two samples there is no
	// interval: both are 0, and absent from JSON ([Summary.HasCI]).
	//
	// The samples of one run are autocorrelated, so this interval is
	// narrower than the run-to-run variation: it describes this run, and
	// comparing runs is [CompareRuns]'s job.
	CILow  float64 `json:"ci95_low,omitempty"`
	CIHigh float64 `json:"ci95_high,omitempty"`
}

// Summarize returns the summary of x, which must be sorted in ascending
// order (use [slices.Sort]). An empty x gives the zero Summary. Quantiles
// are empirical (stat.Empirical: the smallest sample with at least that
// fraction of the samples at or below it).
//
// Summarize panics if x is not sorted: that is a programming error.
func Summarize(x []float64) Summary {
	if len(x) == 0 {
		return Summary{}
	}
	if !slices.IsSorted(x) {
		panic("bench: Summarize: samples not sorted")
	}
	s := Summary{N: len(x), Min: x[0], Max: x[len(x)-1]}
	s.Mean, s.StdDev = stat.MeanStdDev(x, nil)
	if len(x) == 1 {
		s.StdDev = 0
	}
	q := func(p float64) float64 { return stat.Quantile(p, stat.Empirical, x, nil) }
	s.P50, s.P90, s.P99, s.P999 = q(0.5), q(0.9), q(0.99), q(0.999)
	if s.HasCI() {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(x) - 1)}.Quantile(0.975)
		h := t * s.StdDev / math.Sqrt(float64(len(x)))
		s.CILow, s.CIHigh = s.Mean-h, s.Mean+h
	}
	return s
}

// HasCI reports whether s has a confidence interval for its mean: it needs
// two samples or more.
func (s Summary) HasCI() bool { return s.N >= 2 }
