package stats

import (
	"math"
	"slices"
)

// UTest is the outcome of a two-sided Mann–Whitney U test of sample y
// against sample x.
type UTest struct {
	// U counts the pairs (x[i], y[j]) with y[j] > x[i], ties counting one
	// half: U / (len(x)·len(y)) is the probability that a random y exceeds
	// a random x.
	U float64 `json:"u"`
	// P is the two-sided p-value of the hypothesis that x and y come from
	// one distribution. It is never 0: an exact P is at least MinP, and an
	// approximate one that underflows is reported as a bound (FormatP).
	P float64 `json:"p"`
	// Exact says P is the exact permutation p-value (ties included);
	// otherwise it is the normal approximation.
	Exact bool `json:"exact"`
	// MinP is the smallest two-sided p-value samples of these sizes can
	// give when no values tie: 2/C(len(x)+len(y), len(x)), capped at 1.
	// When MinP ≥ α no outcome is significant at α.
	MinP float64 `json:"min_p"`
}

// exactMaxN is the largest total sample size MannWhitney computes the exact
// distribution for: the dynamic programme costs about N·N/2·N(N+1)
// additions, 50 million at 100, a few tens of milliseconds.
const exactMaxN = 100

// MannWhitney tests whether x and y, both non-empty, differ in location,
// with the Mann–Whitney U test (the Wilcoxon rank-sum test). Up to
// exactMaxN values in all it computes the exact permutation distribution of
// the rank sum, with tied values sharing their mid-rank, as benchstat does
// for a few runs; above that it uses the normal approximation with the tie
// and continuity corrections. x and y need not be sorted and are not
// modified.
//
// MannWhitney panics if a sample is empty: that is a programming error.
func MannWhitney(x, y []float64) UTest {
	if len(x) == 0 || len(y) == 0 {
		panic("bench: MannWhitney: empty sample")
	}
	ranks2, tie := doubledMidRanks(x, y)
	m, n := len(x), len(y)
	var sumX2 int // the doubled rank sum of x
	for _, r := range ranks2[:m] {
		sumX2 += r
	}
	t := UTest{
		U:    float64(m*n) - (float64(sumX2)/2 - float64(m*(m+1))/2),
		MinP: min(1, 2/binomial(m+n, m)),
	}
	if m+n <= exactMaxN {
		t.P, t.Exact = exactP(ranks2, m, sumX2), true
		return t
	}
	t.P = normalP(t.U, m, n, tie)
	return t
}

// doubledMidRanks ranks x followed by y together, each value's rank
// doubled so that mid-ranks of ties (k + ½) stay integers, and returns the
// ranks in the order x then y, and the tie term Σ(t³ − t) over the groups
// of t equal values.
func doubledMidRanks(x, y []float64) ([]int, float64) {
	all := make([]float64, 0, len(x)+len(y))
	all = append(append(all, x...), y...)
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		switch {
		case all[i] < all[j]:
			return -1
		case all[i] > all[j]:
			return 1
		}
		return 0
	})
	ranks2 := make([]int, len(all))
	var tie float64
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && all[order[hi]] == all[order[lo]] {
			hi++
		}
		// Ranks lo+1 .. hi (1-based) share their mean, doubled: lo+1+hi.
		for _, k := range order[lo:hi] {
			ranks2[k] = lo + 1 + hi
		}
		if t := float64(hi - lo); t > 1 {
			tie += t*t*t - t
		}
		lo = hi
	}
	return ranks2, tie
}

// rankSumCounts returns counts, where counts[s] is the number of ways to
// choose m of the values whose doubled ranks are ranks2 with doubled rank
// sum s: the exact null distribution of the (doubled) rank sum of a sample
// of m, ties included.
func rankSumCounts(ranks2 []int, m int) []float64 {
	total := 0
	for _, r := range ranks2 {
		total += r
	}
	dp := make([][]float64, m+1) // dp[k][s]: k values chosen, doubled sum s
	for k := range dp {
		dp[k] = make([]float64, total+1)
	}
	dp[0][0] = 1
	for i, r := range ranks2 {
		for k := min(i+1, m); k >= 1; k-- {
			row, prev := dp[k], dp[k-1]
			for s := total; s >= r; s-- {
				row[s] += prev[s-r]
			}
		}
	}
	return dp[m]
}

// exactP is the two-sided exact p-value of a doubled rank sum sumX2 of m
// values among ranks2: the probability, over every equally likely choice
// of m of the values, of a rank sum at least as far from its mean.
func exactP(ranks2 []int, m, sumX2 int) float64 {
	counts := rankSumCounts(ranks2, m)
	mean2 := m * (len(ranks2) + 1) // the doubled rank sum's mean
	dev := abs(sumX2 - mean2)
	var tail, all float64
	for s, c := range counts {
		all += c
		if abs(s-mean2) >= dev {
			tail += c
		}
	}
	return min(1, tail/all)
}

// normalP is the two-sided p-value of U for samples of m and n values by
// the normal approximation, with the tie term tie (Σ t³ − t) and a
// continuity correction of one half.
func normalP(u float64, m, n int, tie float64) float64 {
	fm, fn := float64(m), float64(n)
	N := fm + fn
	sigma := math.Sqrt(fm * fn / 12 * ((N + 1) - tie/(N*(N-1))))
	if sigma == 0 {
		return 1 // every value equal
	}
	d := math.Max(math.Abs(u-fm*fn/2)-0.5, 0)
	return math.Erfc(d / sigma / math.Sqrt2)
}

// binomial returns C(n, k) as a float64 (exact up to 2^53).
func binomial(n, k int) float64 {
	k = min(k, n-k)
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return math.Round(c)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
