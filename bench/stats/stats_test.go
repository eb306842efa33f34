package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSummarize(t *testing.T) {
	x := make([]float64, 1000)
	for i := range x {
		x[i] = float64(i + 1) // 1..1000
	}
	s := Summarize(x)
	if s.N != 1000 || s.Min != 1 || s.Max != 1000 || s.Mean != 500.5 {
		t.Fatalf("N/Min/Max/Mean = %d/%g/%g/%g", s.N, s.Min, s.Max, s.Mean)
	}
	if s.P50 != 500 || s.P90 != 900 || s.P99 != 990 || s.P999 != 999 {
		t.Errorf("quantiles p50 %g p90 %g p99 %g p99.9 %g, want 500 900 990 999", s.P50, s.P90, s.P99, s.P999)
	}
	// Standard deviation of 1..n is sqrt(n(n+1)/12).
	if want := math.Sqrt(1000 * 1001 / 12.0); math.Abs(s.StdDev-want) > 1e-9 {
		t.Errorf("StdDev %g, want %g", s.StdDev, want)
	}
	if !(s.CILow < s.Mean && s.Mean < s.CIHigh) || math.Abs((s.CIHigh-s.Mean)-1.9623*s.StdDev/math.Sqrt(1000)) > 0.01 {
		t.Errorf("CI [%g, %g] around %g", s.CILow, s.CIHigh, s.Mean)
	}
	if (Summarize(nil) != Summary{}) {
		t.Error("Summarize(nil) is not the zero Summary")
	}
	one := Summarize([]float64{7})
	if one.StdDev != 0 || one.CILow != 7 || one.P999 != 7 {
		t.Errorf("one sample: %+v", one)
	}
}

func TestSummarizePanicsUnsorted(t *testing.T) {
	defer func() {
		if r := recover(); r != "bench: Summarize: samples not sorted" {
			t.Errorf("recover() = %v", r)
		}
	}()
	Summarize([]float64{2, 1})
}

// bruteU counts pairs with a > b, ties one half.
func bruteU(a, b []float64) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

func TestCompare(t *testing.T) {
	// Reference: R, wilcox.test(c(1,2,3), c(4,5,6), exact=FALSE) gives
	// W = 0, p-value = 0.08086.
	c := Compare([]float64{1, 2, 3}, []float64{4, 5, 6})
	if c.U != 0 || math.Abs(c.P-0.08086) > 1e-4 || c.Significant || c.ProbBGreater != 1 || c.MedianRatio != 2.5 {
		t.Errorf("Compare = %+v", c)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 50 {
		a := make([]float64, 1+r.IntN(40))
		b := make([]float64, 1+r.IntN(40))
		for i := range a {
			a[i] = float64(r.IntN(10)) // many ties
		}
		for i := range b {
			b[i] = float64(r.IntN(10) + trial%3)
		}
		slices.Sort(a)
		slices.Sort(b)
		c := Compare(a, b)
		if want := bruteU(a, b); c.U != want {
			t.Fatalf("trial %d: U = %g, want %g", trial, c.U, want)
		}
		if c.P < 0 || c.P > 1 || math.IsNaN(c.P) {
			t.Fatalf("trial %d: p = %g", trial, c.P)
		}
	}
	// Identical samples: nothing to see.
	same := []float64{5, 5, 5}
	if c := Compare(same, same); c.P != 1 || c.Significant || c.MedianRatio != 1 {
		t.Errorf("identical: %+v", c)
	}
	// A clear shift with large samples is significant.
	a, b := make([]float64, 2000), make([]float64, 2000)
	for i := range a {
		a[i] = 100 + r.NormFloat64()*10
		b[i] = 110 + r.NormFloat64()*10
	}
	slices.Sort(a)
	slices.Sort(b)
	if c := Compare(a, b); !c.Significant || c.P > 1e-6 || c.MedianRatio < 1.05 || c.ProbBGreater < 0.7 {
		t.Errorf("shifted: %v", c)
	}
}
