package plot

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gicits/gicits/bench/stats"
)

// quantile agrees with the summaries the reports print, so a marker sits
// where the table says the percentile is.
func TestQuantileAgreesWithStats(t *testing.T) {
	for _, n := range []int{1, 2, 10, 999, 1000, 20001} {
		x := latencies(uint64(n), n, 500, 1, 0.01, 10)
		s := stats.Summarize(x)
		for _, c := range []struct {
			p    float64
			want float64
		}{{0.5, s.P50}, {0.9, s.P90}, {0.99, s.P99}, {0.999, s.P999}} {
			if got := quantile(x, c.p); got != c.want {
				t.Errorf("n=%d: quantile(%v) = %v, stats says %v", n, c.p, got, c.want)
			}
		}
	}
}

func TestPercentileCurveEnds(t *testing.T) {
	tests := []struct {
		n       int
		end     float64 // nines
		percent []float64
	}{
		{1, 0, nil},
		{2, math.Log10(2), []float64{0.5}},
		{10, 1, []float64{0.5, 0.9}},
		{1000, 3, []float64{0.5, 0.9, 0.99, 0.999}},
		{1_000_000, 4, []float64{0.5, 0.9, 0.99, 0.999, 0.9999}},
	}
	for _, tt := range tests {
		x := latencies(1, tt.n, 100, 0.5, 0, 0)
		pts := percentilePoints(x)
		if got := pts[len(pts)-1].X; math.Abs(got-tt.end) > 1e-9 {
			t.Errorf("n=%d: the curve ends at %v nines, want %v", tt.n, got, tt.end)
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].X <= pts[i-1].X || pts[i].Y < pts[i-1].Y {
				t.Errorf("n=%d: the curve goes back from %v to %v", tt.n, pts[i-1], pts[i])
				break
			}
		}
		if got := markedPercentiles(tt.n); !slices.Equal(got, tt.percent) {
			t.Errorf("n=%d: markers at %v, want %v", tt.n, got, tt.percent)
		}
	}
}

func TestHistogram(t *testing.T) {
	x := []float64{0, 10, 10, 20, 40, 80, 1000}
	h := newHistogram(x, []float64{1, 15, 30, 100})
	want := []float64{3.0 / 7, 1.0 / 7, 2.0 / 7}
	for i := range want {
		if math.Abs(h.Fraction[i]-want[i]) > 1e-12 {
			t.Errorf("bin %d holds %v, want %v", i, h.Fraction[i], want[i])
		}
	}
	if math.Abs(h.Above-1.0/7) > 1e-12 {
		t.Errorf("above: %v, want 1/7", h.Above)
	}
	if got := h.at(20); got != h.Fraction[1] {
		t.Errorf("at(20) = %v, want bin 1's %v", got, h.Fraction[1])
	}
}

func TestHistogramEdges(t *testing.T) {
	m := callMetric
	runWith := func(res time.Duration, x []float64) []run {
		r := result("sim", x, nil)
		r.Clock.Resolution = res
		return []run{{Result: r}}
	}
	tests := []struct {
		name     string
		runs     []run
		lo, hi   float64
		bins     int
		describe string
	}{
		{"few values: a bin each", runWith(10, []float64{30, 40, 40, 50, 90}), 30, 90, 4, "a bin per value"},
		{"many values, fine clock", runWith(1, latencies(1, 10000, 1000, 0.5, 0, 0)), 200, 5000, mostBins, "40 bins"},
		{"many values, coarse clock", runWith(20, latencies(1, 10000, 100, 0.5, 0, 1)), 30, 300, fewestBins, "10 bins"},
		{"many values, clock unknown", runWith(0, latencies(1, 10000, 100, 0.5, 0, 1)), 30, 300, mostBins, "40 bins"},
	}
	for _, tt := range tests {
		edges, describe := histogramEdges(tt.runs, m, tt.lo, tt.hi, tt.lo/1.1, tt.hi*1.1)
		bins := len(edges) - 1
		if describe == "a bin per value" {
			bins = len(edges) / 2 // a bar and a gap each
		}
		if bins != tt.bins || describe != tt.describe {
			t.Errorf("%s: %d bins, %q; want %d, %q", tt.name, bins, describe, tt.bins, tt.describe)
		}
		if !slices.IsSorted(edges) {
			t.Errorf("%s: edges %v not ascending", tt.name, edges)
		}
	}
}

// Values far apart get bars apart; close ones touch.
func TestValueEdges(t *testing.T) {
	edges := valueEdges([]float64{1, 10, 11}, 0.9, 12)
	if len(edges) != 6 {
		t.Fatalf("edges %v, want two for each of 3 values", edges)
	}
	if !(edges[1] < edges[2]) {
		t.Errorf("bars of 1 and 10 touch: edges %v", edges)
	}
	if edges[3] != edges[4] {
		t.Errorf("bars of 10 and 11 do not touch: edges %v", edges)
	}
	if edges[0] < 0.9 || edges[5] > 12 {
		t.Errorf("edges %v outside the axis 0.9..12", edges)
	}
}
