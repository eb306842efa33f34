package plot

import (
	"math"
	"slices"
	"strconv"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/stats"
)

// run is one result and how it is drawn.
type run struct {
	*bench.Result
	style runStyle
}

// metric is one latency of a run that a column of the figure shows.
type metric struct {
	// Name heads the column's panels ("Injection call").
	Name string
	// Samples returns a run's sorted samples of the latency.
	Samples func(*bench.Result) []float64
}

// panel is one plot of the figure, with its title and axis labels. The
// figure draws these itself, beside the data area: gonum's alignment
// moves data areas away from the titles it draws, and on a logarithmic
// axis it reserves room for an axis label at the linear middle of the
// range, far off centre, which shrinks the data area.
type panel struct {
	plot           *gonum.Plot
	title          string
	xLabel, yLabel string
}

// Font sizes of the panels, in points.
const (
	titleSize = 11
	labelSize = 10
	tickSize  = 9
)

// newPanel returns an empty panel with tick labels at tickSize and a
// grid; [panel.finish] frames it once its curves are added.
func newPanel(title, xLabel, yLabel string) *panel {
	p := gonum.New()
	p.BackgroundColor = nil
	for _, a := range []*gonum.Axis{&p.X, &p.Y} {
		a.Tick.Label.Font.Size = tickSize
		a.Padding = 0
		a.LineStyle.Width = 0
	}
	grid := plotter.NewGrid()
	grid.Vertical, grid.Horizontal = gridStyle, gridStyle
	p.Add(grid)
	return &panel{plot: p, title: title, xLabel: xLabel, yLabel: yLabel}
}

// finish draws the frame of the data area over the curves.
func (pn *panel) finish() { pn.plot.Add(frame{}) }

// frame is a plotter that strokes the border of the data area.
type frame struct{}

// Plot implements [gonum.Plotter].
func (frame) Plot(c draw.Canvas, _ *gonum.Plot) {
	r := c.Rectangle
	c.StrokeLines(frameStyle, []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}, r.Min})
}

// addCurve adds a curve through pts in style s, with s's markers at
// marks. gonum widens the axes to take in what is added: panels set their
// axis ranges after adding their curves.
func addCurve(p *gonum.Plot, s runStyle, pts, marks plotter.XYs) error {
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.LineStyle = s.lineStyle()
	p.Add(l)
	if len(marks) == 0 {
		return nil
	}
	m, err := plotter.NewScatter(marks)
	if err != nil {
		return err
	}
	m.GlyphStyle = s.glyphStyle()
	p.Add(m)
	return nil
}

// fitTicks tells p's latency axes the length they have in its data
// area, which decides how many labels they get.
func fitTicks(p *gonum.Plot, data draw.Canvas) {
	if t, ok := p.X.Tick.Marker.(latencyTicks); ok {
		t.Length = data.Max.X - data.Min.X
		p.X.Tick.Marker = t
	}
	if t, ok := p.Y.Tick.Marker.(latencyTicks); ok {
		t.Length = data.Max.Y - data.Min.Y
		p.Y.Tick.Marker = t
	}
}

// latencyRange returns the range of a latency axis for samples from lo
// to hi: at least a factor of 1.2 wide, and wider by a margin of 4% each
// side.
func latencyRange(lo, hi float64) (float64, float64) {
	lo, hi = widen(lo, hi)
	margin := math.Pow(hi/lo, 0.04)
	return lo / margin, hi * margin
}

// widen returns lo..hi (drawn as latencies) widened about its middle to
// at least a factor of 1.2.
func widen(lo, hi float64) (float64, float64) {
	const least = 1.2
	lo, hi = drawn(lo), drawn(hi)
	if hi < least*lo {
		mid := math.Sqrt(lo * hi)
		lo, hi = mid/math.Sqrt(least), mid*math.Sqrt(least)
	}
	return lo, hi
}

// bulkRange returns the latencies the CDF and histogram of m show: from
// the smallest sample to the largest p99.9 of the runs, widened to at
// least a factor of 1.2. The tail beyond is the percentile panel's: with
// it, the bulk of the samples would be squeezed into a corner.
func bulkRange(runs []run, m metric) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		if x := m.Samples(r.Result); len(x) > 0 {
			lo, hi = math.Min(lo, x[0]), math.Max(hi, quantile(x, bulkQuantile))
		}
	}
	return widen(lo, hi)
}

// bulkQuantile is the quantile that bounds the CDF and histogram panels.
const bulkQuantile = 0.999

// cdfPanel draws the empirical CDFs of m, latency on a logarithmic axis.
func cdfPanel(runs []run, m metric) (*panel, error) {
	pn := newPanel(m.Name+": CDF", "latency (log scale, to the slowest run's p99.9)", "samples ≤ latency")
	p := pn.plot
	p.X.Scale, p.X.Tick.Marker = gonum.LogScale{}, latencyTicks{}
	p.Y.Tick.Marker = percentTicks{}
	for _, r := range runs {
		x := m.Samples(r.Result)
		if len(x) == 0 {
			continue
		}
		var marks plotter.XYs
		for _, q := range markedPercentiles(len(x)) {
			marks = append(marks, plotter.XY{X: drawn(quantile(x, q)), Y: q})
		}
		if err := addCurve(p, r.style, cdfPoints(x), marks); err != nil {
			return nil, err
		}
	}
	p.X.Min, p.X.Max = latencyRange(bulkRange(runs, m))
	p.Y.Min, p.Y.Max = -0.03, 1.03
	pn.finish()
	return pn, nil
}

// percentilePanel draws the percentile curves of m out to p99.99: the
// tail view, where p99 and p99.9 stand apart.
func percentilePanel(runs []run, m metric) (*panel, error) {
	pn := newPanel(m.Name+": percentiles", "percentile (each step 10× rarer)", "latency (log scale)")
	p := pn.plot
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		x := m.Samples(r.Result)
		if len(x) == 0 {
			continue
		}
		pts := percentilePoints(x)
		lo, hi = math.Min(lo, pts[0].Y), math.Max(hi, pts[len(pts)-1].Y)
		var marks plotter.XYs
		for _, q := range markedPercentiles(len(x)) {
			marks = append(marks, plotter.XY{X: nines(q), Y: drawn(quantile(x, q))})
		}
		if err := addCurve(p, r.style, pts, marks); err != nil {
			return nil, err
		}
	}
	setPercentileAxes(p, lo, hi)
	pn.finish()
	return pn, nil
}

// setPercentileAxes makes p a percentile plot of latencies from lo to hi:
// percentiles from p0 to p99.99 along x (in nines), latency on a
// logarithmic y axis.
func setPercentileAxes(p *gonum.Plot, lo, hi float64) {
	p.X.Min, p.X.Max = -0.1, maxNines+0.1
	p.X.Tick.Marker = percentileTicks{}
	p.Y.Min, p.Y.Max = latencyRange(lo, hi)
	p.Y.Scale, p.Y.Tick.Marker = gonum.LogScale{}, latencyTicks{Vertical: true}
}

// histogramPanel draws histograms of m over the latencies of the CDF
// panel above it ([bulkRange]), in the bins [histogramEdges] chooses.
func histogramPanel(runs []run, m metric) (*panel, error) {
	lo, hi := bulkRange(runs, m)
	axisLo, axisHi := latencyRange(lo, hi)
	edges, bins := histogramEdges(runs, m, lo, hi, axisLo, axisHi)
	pn := newPanel(m.Name+": histogram", "latency (log scale, "+bins+", to the slowest p99.9)", "samples in bin")
	p := pn.plot
	p.X.Scale, p.X.Tick.Marker = gonum.LogScale{}, latencyTicks{}
	p.Y.Tick.Marker = percentTicks{}
	peak := 0.0
	for _, r := range runs {
		x := m.Samples(r.Result)
		if len(x) == 0 {
			continue
		}
		h := newHistogram(x, edges)
		peak = math.Max(peak, h.peak())
		var marks plotter.XYs
		for _, q := range markedPercentiles(len(x)) {
			if v := drawn(quantile(x, q)); v <= edges[len(edges)-1] {
				marks = append(marks, plotter.XY{X: v, Y: h.at(v)})
			}
		}
		if err := addCurve(p, r.style, h.outline(), marks); err != nil {
			return nil, err
		}
	}
	p.X.Min, p.X.Max = axisLo, axisHi
	p.Y.Min, p.Y.Max = 0, math.Max(peak, 0.01)*1.08
	pn.finish()
	return pn, nil
}

// Bounds of the number of histogram bins.
const (
	mostBins   = 40
	fewestBins = 10
)

// histogramEdges returns the bins of m's histograms of the latencies lo
// to hi, on an axis from axisLo to axisHi, and says what they are. When
// the runs have at most mostBins distinct latencies there (a clock
// ticking coarsely against them), each gets its own bin: bins any
// narrower would stand empty between two latencies the clock can tell
// apart, drawing a comb. Otherwise the bins are log-spaced from lo to hi,
// mostBins of them, or fewer (but at least fewestBins) so that no bin is
// narrower than the coarsest clock resolution of the runs.
func histogramEdges(runs []run, m metric, lo, hi, axisLo, axisHi float64) ([]float64, string) {
	if values, ok := distinctValues(runs, m, hi, mostBins); ok {
		return valueEdges(values, axisLo, axisHi), "a bin per value"
	}
	var res float64
	for _, r := range runs {
		res = math.Max(res, float64(r.Clock.Resolution.Nanoseconds()))
	}
	bins := mostBins
	if res > 0 {
		bins = min(mostBins, max(fewestBins, int(math.Log(hi/lo)/math.Log(1+res/lo))))
	}
	return logEdges(lo, hi, bins), strconv.Itoa(bins) + " bins"
}

// distinctValues returns the distinct latencies (as drawn) up to hi of
// the runs' samples of m, ascending, when there are at most n of them.
func distinctValues(runs []run, m metric, hi float64, n int) ([]float64, bool) {
	var values []float64
	for _, r := range runs {
		for _, v := range m.Samples(r.Result) {
			v = drawn(v)
			if v > hi {
				break
			}
			if i, found := slices.BinarySearch(values, v); !found {
				if values = slices.Insert(values, i, v); len(values) > n {
					return nil, false
				}
			}
		}
	}
	return values, len(values) > 0
}

// churnPanel draws the latency of the churn's SubmitCommands calls. The
// runs keep only a summary of them, so the panel draws its quantiles (the
// minimum, p50, p90, p99 and p99.9, as far as the number of calls
// resolves them) on the percentile plot's axes, joined by lines.
func churnPanel(runs []run) (*panel, error) {
	pn := newPanel(churnTitle(runs), "percentile (each step 10× rarer; points: the runs' summary quantiles)", "latency (log scale)")
	p := pn.plot
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range runs {
		pts := churnPoints(r.Command)
		if len(pts) == 0 {
			continue
		}
		for _, pt := range pts {
			lo, hi = math.Min(lo, pt.Y), math.Max(hi, pt.Y)
		}
		if err := addCurve(p, r.style, pts, pts); err != nil {
			return nil, err
		}
	}
	setPercentileAxes(p, lo, hi)
	pn.finish()
	return pn, nil
}

// churnPoints returns the quantiles of a churn summary that its number of
// calls resolves, as (nines, latency).
func churnPoints(s stats.Summary) plotter.XYs {
	if s.N == 0 {
		return nil
	}
	pts := plotter.XYs{{X: 0, Y: drawn(s.Min)}}
	for i, v := range []float64{s.P50, s.P90, s.P99, s.P999} {
		if p := tailPercentiles[i].p; nines(p) <= tailEnd(s.N)+1e-9 {
			pts = append(pts, plotter.XY{X: nines(p), Y: drawn(v)})
		}
	}
	return pts
}

// hasChurn reports whether r ran churn commands.
func hasChurn(r *bench.Result) bool { return r.Command.N > 0 }

// churnTitle names the churn of the runs' workloads and its rate.
func churnTitle(runs []run) string {
	var kinds []string
	for _, r := range runs {
		if !hasChurn(r.Result) {
			continue
		}
		k := r.Workload.Churn.String() + " at " + formatDecimal(r.Workload.ChurnRate) + "/s"
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	return "Churn commands (" + strings.Join(kinds, "; ") + "): SubmitCommands latency"
}
