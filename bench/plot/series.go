package plot

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot/plotter"

	"github.com/gicits/gicits/bench"
)

// floorNs is the smallest latency drawn: the latency axes are logarithmic,
// so a latency below 1 ns (a 0 where two clock readings fell in one tick)
// is drawn at 1 ns.
const floorNs = 1

// checkSamples returns an error naming the run and what x is ("end-to-end
// samples") unless x is sorted in ascending order and every value is a
// finite latency of at least 0 ns.
func checkSamples(label, what string, x []float64) error {
	if len(x) == 0 {
		return nil
	}
	if math.IsNaN(x[0]) || x[0] < 0 || math.IsInf(x[len(x)-1], 0) || slices.ContainsFunc(x, math.IsNaN) {
		return fmt.Errorf("run %q: %s hold a value that is not a latency (NaN, infinite or negative)", label, what)
	}
	if !slices.IsSorted(x) {
		return fmt.Errorf("run %q: %s are not sorted in ascending order", label, what)
	}
	return nil
}

// checkChurn returns an error naming the run unless the quantiles of its
// churn commands' summary, when it has one, are finite latencies of at
// least 0 ns, ascending.
func checkChurn(r *bench.Result) error {
	if r.Command.N == 0 {
		return nil
	}
	s := r.Command
	return checkSamples(r.Label, "churn-command summary quantiles", []float64{s.Min, s.P50, s.P90, s.P99, s.P999})
}

// quantile returns the empirical p-quantile of the sorted samples x, as
// bench/stats computes it: the smallest sample with at least a fraction p
// of the samples at or below it. x must not be empty.
func quantile(x []float64, p float64) float64 {
	i := int(math.Ceil(p*float64(len(x)))) - 1
	return x[min(max(i, 0), len(x)-1)]
}

// drawn returns the latency v as drawn on a logarithmic axis: at least
// floorNs.
func drawn(v float64) float64 { return math.Max(v, floorNs) }

// cdfPoints returns about 2000 points of the empirical CDF of the sorted
// samples x, evenly spaced in rank, and the largest sample: (latency,
// fraction of the samples at or below it).
func cdfPoints(x []float64) plotter.XYs {
	const steps = 2000
	n := len(x)
	var pts plotter.XYs
	last := -1
	for k := range steps + 1 {
		i := k * (n - 1) / steps
		if i == last {
			continue
		}
		last = i
		pts = append(pts, plotter.XY{X: drawn(x[i]), Y: float64(i+1) / float64(n)})
	}
	return pts
}

// tailEnd returns how far right, in nines, the percentile curve of n
// samples is drawn: to the percentile 1-1/n, beyond which one sample
// decides it, and no further than p99.99.
func tailEnd(n int) float64 { return math.Min(maxNines, math.Log10(float64(n))) }

// percentilePoints returns the percentile curve of the sorted samples x:
// (nines(p), p-quantile) for p from 0 to the curve's end ([tailEnd]), in
// steps of a hundredth of a nine.
func percentilePoints(x []float64) plotter.XYs {
	end := tailEnd(len(x))
	var pts plotter.XYs
	for k := 0; float64(k)/100 < end; k++ {
		t := float64(k) / 100
		pts = append(pts, plotter.XY{X: t, Y: drawn(quantile(x, 1-math.Pow(10, -t)))})
	}
	return append(pts, plotter.XY{X: end, Y: drawn(quantile(x, 1-math.Pow(10, -end)))})
}

// markedPercentiles returns the percentiles of tailPercentiles that n
// samples resolve: those at or below 1-1/n.
func markedPercentiles(n int) []float64 {
	var ps []float64
	for _, tp := range tailPercentiles {
		if nines(tp.p) <= tailEnd(n)+1e-9 {
			ps = append(ps, tp.p)
		}
	}
	return ps
}

// histogram is a histogram of latencies.
type histogram struct {
	Edges    []float64 // bin edges, ascending, len(Fraction)+1 of them
	Fraction []float64 // the fraction of all samples in each bin
	Above    float64   // the fraction of samples above the last edge
}

// newHistogram counts the sorted samples x into the bins between edges; a
// bin holds the latencies above its lower edge up to its upper one (the
// first bin holds its lower edge, and anything below, too).
func newHistogram(x []float64, edges []float64) histogram {
	h := histogram{Edges: edges, Fraction: make([]float64, len(edges)-1)}
	unit := 1 / float64(len(x))
	for _, v := range x {
		v = drawn(v)
		if v > edges[len(edges)-1] {
			h.Above += unit
			continue
		}
		i, _ := slices.BinarySearch(edges, v)
		h.Fraction[max(i-1, 0)] += unit
	}
	return h
}

// logEdges returns the edges of bins bins spaced evenly on a logarithmic
// axis from lo to hi.
func logEdges(lo, hi float64, bins int) []float64 {
	edges := make([]float64, bins+1)
	l, span := math.Log10(lo), math.Log10(hi)-math.Log10(lo)
	for b := range edges {
		edges[b] = math.Pow(10, l+span*float64(b)/float64(bins))
	}
	return edges
}

// valueEdges returns the edges of one bar per value of the ascending,
// distinct values, on a logarithmic axis from lo to hi: each bar reaches
// halfway to its neighbours, but no further than a twentieth of the axis
// either side of its value, so that values far apart get bars apart
// instead of bars as wide as the gap. Between two bars lies an empty bin,
// of no width where the bars touch.
func valueEdges(values []float64, lo, hi float64) []float64 {
	reach := math.Pow(hi/lo, 0.05)
	edges := make([]float64, 0, 2*len(values))
	for i, v := range values {
		left, right := math.Max(v/reach, lo), math.Min(v*reach, hi)
		if i > 0 {
			left = math.Max(left, math.Sqrt(values[i-1]*v))
		}
		if i < len(values)-1 {
			right = math.Min(right, math.Sqrt(v*values[i+1]))
		}
		edges = append(edges, left, right)
	}
	return edges
}

// outline returns the histogram's outline as a line: a step for each bin,
// from the baseline to the baseline.
func (h histogram) outline() plotter.XYs {
	pts := plotter.XYs{{X: h.Edges[0], Y: 0}}
	for b, f := range h.Fraction {
		pts = append(pts, plotter.XY{X: h.Edges[b], Y: f}, plotter.XY{X: h.Edges[b+1], Y: f})
	}
	return append(pts, plotter.XY{X: h.Edges[len(h.Edges)-1], Y: 0})
}

// at returns the height of the bin holding latency v (0 when v lies
// above the last bin).
func (h histogram) at(v float64) float64 {
	for b, f := range h.Fraction {
		if v <= h.Edges[b+1] {
			return f
		}
	}
	return 0
}

// peak returns the highest bin's fraction.
func (h histogram) peak() float64 { return slices.Max(h.Fraction) }
