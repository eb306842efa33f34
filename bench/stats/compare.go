package stats

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Alpha is the significance level of [CompareRuns]; [Interval]s have
// coverage of at least 1 − Alpha.
const Alpha = 0.05

// TestName names the test [CompareRuns] applies, for reports.
const TestName = "two-sided Mann-Whitney U test over the runs' values (exact up to 100 runs)"

// Interval is a confidence interval for the ratio B/A.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	// Level is the interval's exact coverage under its assumptions, at
	// least 1 − Alpha (the distribution is discrete, so it is rarely
	// exactly 0.95).
	Level float64 `json:"level"`
}

// Comparison compares one measure of two sets of repeated runs, A the
// baseline: each run contributes one value (its throughput, its median
// latency), so the runs, not the samples inside a run, are the unit of
// replication.
type Comparison struct {
	RunsA int `json:"runs_a"`
	RunsB int `json:"runs_b"`
	// MedianA and MedianB are the medians of the runs' values (the mean of
	// the middle two for an even number of runs).
	MedianA float64 `json:"median_a"`
	MedianB float64 `json:"median_b"`
	// Ratio is MedianB / MedianA, and 0 when MedianA is 0 (no ratio).
	Ratio float64 `json:"ratio"`
	// CI is a confidence interval for the ratio (see [RatioInterval]), nil
	// when there are too few runs for one or a value is not positive.
	CI *Interval `json:"ci,omitempty"`
	// Test is the Mann–Whitney U test of B's values against A's.
	Test  UTest   `json:"test"`
	Alpha float64 `json:"alpha"`
	// Significant is Test.P < Alpha.
	Significant bool `json:"significant"`
	// TooFewRuns says that runs this few can never be significant at
	// Alpha (Test.MinP ≥ Alpha): 2 against 2, or 3 against 3, cannot.
	TooFewRuns bool   `json:"too_few_runs"`
	TestName   string `json:"test_name"`
}

// CompareRuns compares b's values with a's, one value per run; both must
// be non-empty. It panics otherwise: that is a programming error.
func CompareRuns(a, b []float64) Comparison {
	if len(a) == 0 || len(b) == 0 {
		panic("bench: CompareRuns: no runs")
	}
	c := Comparison{
		RunsA: len(a), RunsB: len(b),
		MedianA: Median(a), MedianB: Median(b),
		Test:  MannWhitney(a, b),
		Alpha: Alpha, TestName: TestName,
	}
	if c.MedianA != 0 {
		c.Ratio = c.MedianB / c.MedianA
	}
	if lo, hi, level, ok := RatioInterval(a, b, 1-Alpha); ok {
		c.CI = &Interval{Low: lo, High: hi, Level: level}
	}
	c.TooFewRuns = c.Test.MinP >= Alpha
	c.Significant = !c.TooFewRuns && c.Test.P < Alpha
	return c
}

// Median returns the median of x (not necessarily sorted; not modified):
// the middle value, or the mean of the middle two. It panics on an empty x.
func Median(x []float64) float64 {
	if len(x) == 0 {
		panic("bench: Median: empty sample")
	}
	s := slices.Clone(x)
	slices.Sort(s)
	h := len(s) / 2
	if len(s)%2 == 1 {
		return s[h]
	}
	return (s[h-1] + s[h]) / 2
}

// RatioInterval returns a distribution-free confidence interval, of
// coverage at least level, for the ratio by which b's values are a's
// scaled: the Hodges–Lehmann interval of the shift between log(a) and
// log(b), exponentiated.
//
// # Why this interval
//
// Take the m·n pairwise log ratios log(b[j]) − log(a[i]) in order; the
// interval runs from the k-th smallest to the k-th largest, where k is the
// largest count with P(U ≤ k−1) ≤ (1−level)/2 under the exact null
// distribution of the Mann–Whitney U statistic (the normal approximation
// above exactMaxN runs). It is the interval the Mann–Whitney test inverts:
// it excludes a ratio of 1 exactly when the test rejects at 1 − level (up
// to ties), so the report's p-value and interval never disagree. It
// assumes only that B's runs are A's scaled by a factor (a shift on the
// log scale), it is exact for a handful of runs, where a bootstrap over
// five values would resample the same few numbers and under-cover, and
// it needs no random seed. Its coverage is the returned level, at least
// the one asked for; with ties among the values it is approximate.
//
// ok is false when there are too few runs for any such interval (k would
// be 0: 3 against 3 runs at 95%) or a value is not positive.
func RatioInterval(a, b []float64, level float64) (low, high, coverage float64, ok bool) {
	for _, v := range append(slices.Clone(a), b...) {
		if !(v > 0) || math.IsInf(v, 1) {
			return 0, 0, 0, false
		}
	}
	k, coverage := hodgesLehmannRank(len(a), len(b), level)
	if k < 1 {
		return 0, 0, 0, false
	}
	d := make([]float64, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			d = append(d, math.Log(y)-math.Log(x))
		}
	}
	slices.Sort(d)
	return math.Exp(d[k-1]), math.Exp(d[len(d)-k]), coverage, true
}

// hodgesLehmannRank returns the rank k of the interval's ends among the
// m·n ordered pairwise differences, and the interval's coverage
// 1 − 2·P(U ≤ k−1); k is 0 when no k ≥ 1 reaches level.
func hodgesLehmannRank(m, n int, level float64) (k int, coverage float64) {
	half := (1 - level) / 2
	if m+n > exactMaxN {
		// Normal approximation of U: mean mn/2, variance mn(N+1)/12.
		mu, sd := float64(m*n)/2, math.Sqrt(float64(m*n*(m+n+1))/12)
		z := math.Sqrt2 * math.Erfinv(1-2*half)
		k = int(math.Floor(mu - z*sd))
		if k < 1 {
			return 0, 0
		}
		return k, 1 - math.Erfc((mu-float64(k)+0.5)/sd/math.Sqrt2)
	}
	// The exact null distribution of U, from that of the rank sum of m
	// values among the ranks 1..m+n with no ties (doubled, as
	// rankSumCounts wants).
	ranks2 := make([]int, m+n)
	for i := range ranks2 {
		ranks2[i] = 2 * (i + 1)
	}
	counts := rankSumCounts(ranks2, m)
	all := binomial(m+n, m)
	minSum2 := m * (m + 1) // doubled smallest rank sum, U = 0
	var below float64      // P(U ≤ k−1) for the current k
	for k = 0; k < m*n; k++ {
		p := below + counts[minSum2+2*k]/all // P(U ≤ k)
		if p > half {
			break
		}
		below = p
	}
	if k < 1 {
		return 0, 0
	}
	return k, 1 - 2*below
}

// FormatP formats a p-value for people, never as 0: with two significant
// digits, and below 1e-6 as the bound "p<1e-6" (smaller values say more
// about the normal approximation's tails than about the data).
func FormatP(p float64) string {
	if p < 1e-6 {
		return "p<1e-6"
	}
	return "p=" + strconv.FormatFloat(p, 'g', 2, 64)
}

// Verdict says in words what the test found: "significant at 0.05 (p=…)",
// "no significant difference (p=…)", or, with too few runs, that no test
// at Alpha was possible.
func (c Comparison) Verdict() string {
	switch {
	case c.TooFewRuns:
		return fmt.Sprintf("too few runs to test (%d against %d can give no p below %.2g; use -runs 4 or more)", c.RunsA, c.RunsB, c.Test.MinP)
	case c.Significant:
		return fmt.Sprintf("significant at %g (%s)", c.Alpha, FormatP(c.Test.P))
	}
	return fmt.Sprintf("no significant difference (%s)", FormatP(c.Test.P))
}

// RatioString formats the ratio as "1.842×", or "-" when there is none.
func (c Comparison) RatioString() string {
	if c.MedianA == 0 {
		return "-"
	}
	return strconv.FormatFloat(c.Ratio, 'f', 3, 64) + "×"
}

// CIString formats the interval as "1.80–1.88×", or "-" when there is
// none.
func (c Comparison) CIString() string {
	if c.CI == nil {
		return "-"
	}
	return formatRatio(c.CI.Low) + "–" + formatRatio(c.CI.High) + "×"
}

// formatRatio formats a ratio with three decimals below 10, fewer above,
// and two significant digits below 0.001.
func formatRatio(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 0.001:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return strconv.FormatFloat(v, 'g', 2, 64)
}

// String formats the comparison for people: the ratio, its interval, the
// runs and the verdict.
func (c Comparison) String() string {
	ci := ""
	if c.CI != nil {
		ci = fmt.Sprintf(" (%.0f%% CI %s)", 100*(1-c.Alpha), c.CIString())
	}
	return fmt.Sprintf("%s%s over %d+%d runs: %s", c.RatioString(), ci, c.RunsA, c.RunsB, c.Verdict())
}
