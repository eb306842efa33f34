package stats

import (
	"fmt"
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
	// the latencies are not).
	CILow  float64 `json:"ci95_low"`
	CIHigh float64 `json:"ci95_high"`
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
	s.CILow, s.CIHigh = s.Mean, s.Mean
	if len(x) > 1 {
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(len(x) - 1)}.Quantile(0.975)
		h := t * s.StdDev / math.Sqrt(float64(len(x)))
		s.CILow, s.CIHigh = s.Mean-h, s.Mean+h
	}
	return s
}

// MannWhitneyName names the test [Compare] applies, for reports.
const MannWhitneyName = "Mann-Whitney U, two-sided, normal approximation with tie and continuity correction"

// Comparison compares sample B with sample A.
type Comparison struct {
	// MedianRatio is median(B) / median(A): above 1, B is slower (for
	// latencies). It is NaN when median(A) is 0.
	MedianRatio float64 `json:"median_ratio"`
	// U is the Mann–Whitney U statistic of A (the number of pairs (a, b)
	// with a > b, ties counting one half); Z its standardised value.
	U float64 `json:"u"`
	Z float64 `json:"z"`
	// P is the two-sided p-value of the hypothesis that A and B come from
	// the same distribution.
	P float64 `json:"p"`
	// Significant is P < Alpha.
	Significant bool    `json:"significant"`
	Alpha       float64 `json:"alpha"`
	// ProbBGreater is the common-language effect size: the probability
	// that a random b exceeds a random a (ties count one half). With the
	// large samples of a benchmark almost any difference is significant;
	// this says whether it matters (0.5: none).
	ProbBGreater float64 `json:"prob_b_greater"`
	Test         string  `json:"test"`
}

// Compare tests whether a and b, both sorted ascending and non-empty, differ
// in location, with the Mann–Whitney U test at the 5% level. It runs in
// O(len(a)+len(b)) time by merging the sorted samples.
//
// Compare panics if a sample is empty or not sorted.
func Compare(a, b []float64) Comparison {
	if len(a) == 0 || len(b) == 0 {
		panic("bench: Compare: empty sample")
	}
	if !slices.IsSorted(a) || !slices.IsSorted(b) {
		panic("bench: Compare: samples not sorted")
	}
	n1, n2 := float64(len(a)), float64(len(b))
	n := n1 + n2
	// Merge, giving each run of equal values its average rank.
	var rankSumA, tieTerm float64
	i, j, rank := 0, 0, 0.0
	for i < len(a) || j < len(b) {
		var v float64
		switch {
		case j == len(b) || (i < len(a) && a[i] <= b[j]):
			v = a[i]
		default:
			v = b[j]
		}
		ca, cb := 0, 0
		for i < len(a) && a[i] == v {
			i++
			ca++
		}
		for j < len(b) && b[j] == v {
			j++
			cb++
		}
		t := float64(ca + cb)
		avg := rank + (t+1)/2
		rankSumA += avg * float64(ca)
		tieTerm += t*t*t - t
		rank += t
	}
	u := rankSumA - n1*(n1+1)/2
	mu := n1 * n2 / 2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - tieTerm/(n*(n-1))))
	c := Comparison{
		U: u, Alpha: 0.05, Test: MannWhitneyName,
		ProbBGreater: 1 - u/(n1*n2),
		MedianRatio:  median(b) / median(a),
	}
	if median(a) == 0 {
		c.MedianRatio = math.NaN()
	}
	if sigma > 0 {
		d := u - mu
		switch {
		case d > 0.5:
			d -= 0.5
		case d < -0.5:
			d += 0.5
		default:
			d = 0
		}
		c.Z = d / sigma
		c.P = math.Erfc(math.Abs(c.Z) / math.Sqrt2)
	} else {
		c.P = 1 // every value equal
	}
	c.Significant = c.P < c.Alpha
	return c
}

func median(x []float64) float64 { return stat.Quantile(0.5, stat.Empirical, x, nil) }

// String formats the comparison for people.
func (c Comparison) String() string {
	verdict := "not significant"
	if c.Significant {
		verdict = "significant"
	}
	return fmt.Sprintf("median ratio %.3g, p=%.3g (%s at %g; %s), P(b>a)=%.3f",
		c.MedianRatio, c.P, verdict, c.Alpha, c.Test, c.ProbBGreater)
}
