package plot

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gicits/gicits/bench"
)

// Figure geometry.
const (
	// columnWidth is the width of a column of panels when there are
	// several; a single column gets singleWidth.
	columnWidth = 4 * vg.Inch
	singleWidth = 6 * vg.Inch
	rowHeight   = 2.8 * vg.Inch
	margin      = 8 // points, around the figure
)

// The figure's metrics, one column of panels each.
var (
	callMetric = metric{Name: "Injection call", Samples: func(r *bench.Result) []float64 { return r.CallSamples }}
	e2eMetric  = metric{Name: "Inject → acknowledge", Samples: func(r *bench.Result) []float64 { return r.EndToEndSamples }}
)

// figure is the whole picture: a header (title and legend), then one
// column of panels for each latency the runs measured (rows: CDF,
// percentiles, histogram), then, when the runs churned, a row for the
// churn commands' latency.
type figure struct {
	header header
	grid   [][]*panel // [row][column]; no rows when no run has latency samples
	churn  *panel     // nil when no run churned
	width  vg.Length
}

// newFigure lays out the figure of the results, or says what is wrong
// with them.
func newFigure(results []*bench.Result) (*figure, error) {
	runs, err := checkRuns(results)
	if err != nil {
		return nil, err
	}
	metrics := measuredMetrics(runs)
	churned := slices.ContainsFunc(results, hasChurn)
	if len(metrics) == 0 && !churned {
		return nil, errors.New("no latency samples to draw: the runs measured no injection-call, end-to-end or churn-command latency")
	}
	f := &figure{width: singleWidth}
	if len(metrics) > 1 {
		f.width = columnWidth * vg.Length(len(metrics))
	}
	if len(metrics) > 0 {
		if f.grid, err = panelGrid(runs, metrics); err != nil {
			return nil, err
		}
	}
	if churned {
		if f.churn, err = churnPanel(runs); err != nil {
			return nil, err
		}
	}
	f.header = newHeader(runs, f.width-2*margin)
	return f, nil
}

// checkRuns returns the results with their styles, or an error naming the
// first result that is missing or whose samples cannot be drawn.
func checkRuns(results []*bench.Result) ([]run, error) {
	if len(results) == 0 {
		return nil, errors.New("no runs to draw")
	}
	runs := make([]run, len(results))
	for i, r := range results {
		if r == nil {
			return nil, fmt.Errorf("run %d of %d is missing (nil)", i+1, len(results))
		}
		if err := checkSamples(r.Label, "injection-call samples", r.CallSamples); err != nil {
			return nil, err
		}
		if err := checkSamples(r.Label, "end-to-end samples", r.EndToEndSamples); err != nil {
			return nil, err
		}
		if err := checkChurn(r); err != nil {
			return nil, err
		}
		runs[i] = run{Result: r, style: styleOf(i)}
	}
	return runs, nil
}

// measuredMetrics returns the metrics some run has samples of, with the
// end-to-end metric named after the runs' consumers' wait modes.
func measuredMetrics(runs []run) []metric {
	var metrics []metric
	var waits []string
	for _, r := range runs {
		if w := r.Workload.Wait.String(); len(r.EndToEndSamples) > 0 && !slices.Contains(waits, w) {
			waits = append(waits, w)
		}
	}
	if slices.ContainsFunc(runs, func(r run) bool { return len(r.CallSamples) > 0 }) {
		metrics = append(metrics, callMetric)
	}
	if len(waits) > 0 {
		m := e2eMetric
		m.Name += " (" + strings.Join(waits, ", ") + ")"
		metrics = append(metrics, m)
	}
	return metrics
}

// panelGrid returns the CDF, percentile and histogram panels of each
// metric, a column each.
func panelGrid(runs []run, metrics []metric) ([][]*panel, error) {
	rows := []func([]run, metric) (*panel, error){cdfPanel, percentilePanel, histogramPanel}
	grid := make([][]*panel, len(rows))
	for i, newPanel := range rows {
		for _, m := range metrics {
			p, err := newPanel(runs, m)
			if err != nil {
				return nil, err
			}
			grid[i] = append(grid[i], p)
		}
	}
	return grid, nil
}

// height returns the figure's height.
func (f *figure) height() vg.Length {
	h := 2*margin + f.header.height + rowHeight*vg.Length(len(f.grid))
	if f.churn != nil {
		h += rowHeight
	}
	return h
}

// draw draws the figure on dc, which must be f.width by f.height().
func (f *figure) draw(dc draw.Canvas) {
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	body := draw.Crop(dc, margin, -margin, margin, -margin)
	top := body.Max.Y - body.Min.Y - f.header.height
	f.header.draw(draw.Crop(body, 0, 0, top, 0))
	body = draw.Crop(body, 0, 0, 0, -f.header.height)
	if f.churn != nil {
		churn := draw.Crop(body, 0, 0, 0, -rowHeight*vg.Length(len(f.grid)))
		drawGrid([][]*panel{{f.churn}}, churn)
		body = draw.Crop(body, 0, 0, rowHeight, 0)
	}
	if len(f.grid) > 0 {
		drawGrid(f.grid, body)
	}
}

// drawGrid draws a grid of panels on c, their data areas aligned and of
// one size, each panel's title above its data area.
func drawGrid(grid [][]*panel, c draw.Canvas) {
	plots := make([][]*gonum.Plot, len(grid))
	for i, row := range grid {
		for _, p := range row {
			plots[i] = append(plots[i], p.plot)
		}
	}
	// Room outside the tiles for what gonum does not lay out: titles
	// above, axis labels left and below.
	label := textStyle(labelSize, color.Black).Height("M") + 2*labelGap
	title := textStyle(titleSize, color.Black).Height("M") + 2*labelGap
	tiles := draw.Tiles{Rows: len(grid), Cols: len(grid[0]),
		PadTop: title, PadBottom: label, PadLeft: label,
		PadX: label + vg.Points(20), PadY: title + label + vg.Points(6)}
	// Align twice: the first tells each latency axis its length, which
	// decides how many tick labels it gets, which moves the data areas.
	canvases := gonum.Align(plots, tiles, c)
	for i, row := range plots {
		for j, p := range row {
			fitTicks(p, p.DataCanvas(canvases[i][j]))
		}
	}
	canvases = gonum.Align(plots, tiles, c)
	for i, row := range grid {
		for j, p := range row {
			p.plot.Draw(canvases[i][j])
			p.drawLabels(p.plot.DataCanvas(canvases[i][j]))
		}
	}
}

// drawLabels draws p's title centred above its data area, and its axis
// labels outside its tick labels.
func (p *panel) drawLabels(data draw.Canvas) {
	mid := vg.Point{X: (data.Min.X + data.Max.X) / 2, Y: (data.Min.Y + data.Max.Y) / 2}
	title := textStyle(titleSize, color.Black)
	title.XAlign, title.YAlign = draw.XCenter, draw.YBottom
	data.FillText(title, vg.Point{X: mid.X, Y: data.Max.Y + labelGap}, p.title)

	label := textStyle(labelSize, color.Black)
	label.XAlign, label.YAlign = draw.XCenter, draw.YTop
	below := p.plot.X.Tick.Length + tickLabelExtent(p.plot.X, false) + labelGap
	data.FillText(label, vg.Point{X: mid.X, Y: data.Min.Y - below}, p.xLabel)

	// Turned a quarter left, the label's bottom faces the axis.
	label.YAlign, label.Rotation = draw.YBottom, math.Pi/2
	left := p.plot.Y.Tick.Length + tickLabelExtent(p.plot.Y, true) + labelGap
	data.FillText(label, vg.Point{X: data.Min.X - left, Y: mid.Y}, p.yLabel)
}

// labelGap is the gap between a panel's data area or tick labels and its
// title or axis labels.
const labelGap = vg.Length(4)

// tickLabelExtent returns how far a's tick labels reach from its ticks:
// the height of a label on a horizontal axis, the widest label's width on
// a vertical one.
func tickLabelExtent(a gonum.Axis, vertical bool) vg.Length {
	sty := a.Tick.Label
	var extent vg.Length
	for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
		if tk.IsMinor() {
			continue
		}
		if vertical {
			extent = max(extent, sty.Width(tk.Label)+sty.Width(" "))
		} else {
			extent = max(extent, sty.Height(tk.Label))
		}
	}
	return extent
}
