package stats

import (
	"math"
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
	if one.StdDev != 0 || one.HasCI() || one.CILow != 0 || one.CIHigh != 0 || one.P999 != 7 {
		t.Errorf("one sample has a CI or a spread: %+v", one)
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
