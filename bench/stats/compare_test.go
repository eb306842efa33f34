package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func seq(from, to float64) []float64 {
	var x []float64
	for v := from; v <= to; v++ {
		x = append(x, v)
	}
	return x
}

func TestMannWhitneyExact(t *testing.T) {
	for _, tc := range []struct {
		name    string
		x, y    []float64
		u, p    float64 // p from R's wilcox.test(x, y, exact=TRUE) where R has it
		minP    float64
		approxP bool
	}{
		// R: wilcox.test(1:5, 6:10) p-value = 0.007937 (= 2/252).
		{"5v5 apart", seq(1, 5), seq(6, 10), 25, 2.0 / 252, 2.0 / 252, false},
		// R: wilcox.test(c(1,2,3), c(4,5,6)) p-value = 0.1 (= 2/20).
		{"3v3 apart", seq(1, 3), seq(4, 6), 9, 0.1, 0.1, false},
		// R: wilcox.test(c(1,3,5), c(2,4,6)) p-value = 0.7.
		{"3v3 mixed", []float64{1, 3, 5}, []float64{2, 4, 6}, 6, 0.7, 0.1, false},
		// 2 against 2 can give no p below 2/6.
		{"2v2 apart", []float64{1, 2}, []float64{3, 4}, 4, 1.0 / 3, 1.0 / 3, false},
		// All equal: nothing to see.
		{"all tied", []float64{5, 5, 5}, []float64{5, 5, 5}, 4.5, 1, 0.1, false},
		// 120 values: the normal approximation, by hand: U = 40·60 +
		// Σ(100−x, x=41..60) + 20·½ = 3400; 20 ties of two, Σ(t³−t) =
		// 120; σ² = 60·60/12·(121 − 120/(120·119)) = 36297.48; z =
		// (3400 − 1800 − ½)/σ = 8.3955; p = erfc(z/√2) = 4.6396e-17.
		{"60v60 approx", seq(1, 60), seq(41, 100), 3400, 4.6396e-17, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := MannWhitney(tc.x, tc.y)
			if r.U != tc.u {
				t.Errorf("U = %g, want %g", r.U, tc.u)
			}
			if math.Abs(r.P-tc.p) > 1e-3*tc.p {
				t.Errorf("P = %.6g, want %.6g", r.P, tc.p)
			}
			if r.Exact == tc.approxP {
				t.Errorf("Exact = %v", r.Exact)
			}
			if math.Abs(r.MinP-tc.minP) > 1e-12 {
				t.Errorf("MinP = %g, want %g", r.MinP, tc.minP)
			}
		})
	}
}

// permutationP is the two-sided exact p-value by enumeration: every way
// of choosing len(x) of the pooled values as x, U at least as far from its
// mean as the observed one.
func permutationP(x, y []float64) float64 {
	all := append(slices.Clone(x), y...)
	m, n := len(x), len(y)
	u := func(in []bool) float64 {
		var v float64
		for i := range all {
			for j := range all {
				if in[i] && !in[j] {
					switch {
					case all[j] > all[i]:
						v++
					case all[j] == all[i]:
						v += 0.5
					}
				}
			}
		}
		return v
	}
	in := make([]bool, len(all))
	for i := range m {
		in[i] = true
	}
	mean := float64(m*n) / 2
	dev := math.Abs(u(in) - mean)
	var hit, total float64
	for mask := 0; mask < 1<<len(all); mask++ {
		k := 0
		for i := range all {
			in[i] = mask&(1<<i) != 0
			if in[i] {
				k++
			}
		}
		if k != m {
			continue
		}
		total++
		if math.Abs(u(in)-mean) >= dev-1e-9 {
			hit++
		}
	}
	return hit / total
}

func TestMannWhitneyExactWithTiesMatchesEnumeration(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		x := make([]float64, 1+r.IntN(6))
		y := make([]float64, 1+r.IntN(6))
		for i := range x {
			x[i] = float64(r.IntN(4)) // many ties
		}
		for i := range y {
			y[i] = float64(r.IntN(4) + trial%3)
		}
		got, want := MannWhitney(x, y), permutationP(x, y)
		if !got.Exact || math.Abs(got.P-want) > 1e-12 {
			t.Fatalf("trial %d: x %v y %v: P = %g, enumeration says %g", trial, x, y, got.P, want)
		}
	}
}

func TestMannWhitneyPanicsOnEmpty(t *testing.T) {
	defer func() {
		if r := recover(); r != "bench: MannWhitney: empty sample" {
			t.Errorf("recover() = %v", r)
		}
	}()
	MannWhitney(nil, []float64{1})
}

func TestRatioInterval(t *testing.T) {
	a := []float64{100, 104, 98, 101, 97}
	b := []float64{150, 149, 160, 151, 147}
	for _, tc := range []struct {
		name      string
		a, b      []float64
		ok        bool
		k         int     // rank of the ends among the ordered pairwise ratios
		coverage  float64 // exact, from the U distribution
		wantRatio float64 // a ratio the interval must contain
	}{
		// 5 against 5: P(U ≤ 2) = 4/252 ≤ 0.025 < P(U ≤ 3) = 7/252.
		{"5v5", a, b, true, 3, 1 - 8.0/252, 1.5},
		// 4 against 4: P(U ≤ 0) = 1/70 ≤ 0.025 < P(U ≤ 1) = 2/70.
		{"4v4", a[:4], b[:4], true, 1, 1 - 2.0/70, 1.5},
		// 3 against 3: P(U ≤ 0) = 1/20 > 0.025: no 95% interval.
		{"3v3", a[:3], b[:3], false, 0, 0, 0},
		{"a zero", []float64{0, 1, 2, 3, 4}, b, false, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, cov, ok := RatioInterval(tc.a, tc.b, 0.95)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			var r []float64
			for _, x := range tc.a {
				for _, y := range tc.b {
					r = append(r, y/x)
				}
			}
			slices.Sort(r)
			if math.Abs(lo-r[tc.k-1]) > 1e-9 || math.Abs(hi-r[len(r)-tc.k]) > 1e-9 {
				t.Errorf("interval [%g, %g], want ratios %d from each end [%g, %g]", lo, hi, tc.k, r[tc.k-1], r[len(r)-tc.k])
			}
			if math.Abs(cov-tc.coverage) > 1e-12 {
				t.Errorf("coverage %g, want %g", cov, tc.coverage)
			}
			if !(lo <= tc.wantRatio && tc.wantRatio <= hi) {
				t.Errorf("interval [%g, %g] misses %g", lo, hi, tc.wantRatio)
			}
		})
	}
}

// TestRatioIntervalCovers draws 400 seeded pairs of 5 runs against 5,
// B's runs 1.3 times A's with log-normal noise, and counts how often the
// interval holds 1.3: its exact coverage is 1 − 8/252 ≈ 0.968, so 400
// draws land within a few points of it.
func TestRatioIntervalCovers(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const trials, ratio = 400, 1.3
	covered := 0
	for range trials {
		a, b := make([]float64, 5), make([]float64, 5)
		for i := range a {
			a[i] = 1000 * math.Exp(0.1*r.NormFloat64())
			b[i] = ratio * 1000 * math.Exp(0.1*r.NormFloat64())
		}
		if lo, hi, _, ok := RatioInterval(a, b, 0.95); ok && lo <= ratio && ratio <= hi {
			covered++
		}
	}
	if frac := float64(covered) / trials; frac < 0.94 || frac > 0.99 {
		t.Errorf("the interval held the true ratio in %.3f of %d draws, want about 0.968", frac, trials)
	}
}

func TestCompareRuns(t *testing.T) {
	for _, tc := range []struct {
		name        string
		a, b        []float64
		significant bool
		tooFew      bool
		ratio       string
		verdict     string
	}{
		{"clear slowdown", []float64{100, 101, 99, 102, 98}, []float64{184, 180, 186, 183, 185}, true, false, "1.840×",
			"significant at 0.05 (p=0.0079)"},
		{"same machine", []float64{100, 103, 99, 102, 98}, []float64{101, 97, 104, 100, 99}, false, false, "1.000×",
			"no significant difference (p="},
		{"identical", []float64{38, 38, 38, 38, 38}, []float64{38, 38, 38, 38, 38}, false, false, "1.000×",
			"no significant difference (p=1)"},
		{"2 against 2", []float64{100, 101}, []float64{200, 201}, false, true, "1.995×",
			"too few runs to test (2 against 2 can give no p below 0.33"},
		{"zero baseline", []float64{0, 0, 0, 0, 0}, []float64{1, 1, 1, 1, 1}, true, false, "-",
			"significant at 0.05 (p=0.0079)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := CompareRuns(tc.a, tc.b)
			if c.Significant != tc.significant || c.TooFewRuns != tc.tooFew {
				t.Errorf("Significant %v TooFewRuns %v, want %v %v: %v", c.Significant, c.TooFewRuns, tc.significant, tc.tooFew, c)
			}
			if got := c.RatioString(); got != tc.ratio {
				t.Errorf("ratio %s, want %s", got, tc.ratio)
			}
			if v := c.Verdict(); !strings.HasPrefix(v, tc.verdict) {
				t.Errorf("verdict %q, want it to start %q", v, tc.verdict)
			}
			if strings.Contains(c.String(), "p=0 ") || strings.HasSuffix(c.String(), "p=0)") {
				t.Errorf("p=0 printed: %s", c)
			}
		})
	}
}

func TestFormatPNeverZero(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want string
	}{
		{0, "p<1e-6"}, {4.86e-239, "p<1e-6"}, {9.9e-7, "p<1e-6"}, {1e-6, "p=1e-06"},
		{2.0 / 252, "p=0.0079"}, {0.6905, "p=0.69"}, {1, "p=1"},
	} {
		if got := FormatP(tc.p); got != tc.want {
			t.Errorf("FormatP(%g) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		x    []float64
		want float64
	}{{[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tc.x); got != tc.want {
			t.Errorf("Median(%v) = %g, want %g", tc.x, got, tc.want)
		}
	}
}
