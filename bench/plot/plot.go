package plot

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gicits/gicits/bench"
)

// cdfPoints returns about 1500 points of the empirical CDF of the sorted
// samples x: evenly spaced in probability, plus the tail up to p99.999.
func cdfPoints(x []float64) plotter.XYs {
	n := len(x)
	var pts plotter.XYs
	add := func(p float64) {
		i := min(n-1, int(p*float64(n-1)))
		pts = append(pts, plotter.XY{X: math.Max(x[i], 1), Y: float64(i+1) / float64(n)})
	}
	for i := range 1000 {
		add(float64(i) / 999)
	}
	for k := 2.0; k <= 5; k += 0.01 {
		add(1 - math.Pow(10, -k))
	}
	add(1)
	// Keep the curve monotonic for the line drawer.
	out := pts[:0]
	for _, p := range pts {
		if len(out) == 0 || (p.X >= out[len(out)-1].X && p.Y >= out[len(out)-1].Y) {
			out = append(out, p)
		}
	}
	return out
}

// histPoints returns a step outline of the histogram of x over 60 bins
// evenly spaced in log10 between lo and hi: the fraction of samples in
// each bin.
func histPoints(x []float64, lo, hi float64) plotter.XYs {
	const bins = 60
	l, h := math.Log10(lo), math.Log10(hi)
	counts := make([]float64, bins)
	for _, v := range x {
		b := int((math.Log10(math.Max(v, 1)) - l) / (h - l) * bins)
		counts[min(max(b, 0), bins-1)]++
	}
	var pts plotter.XYs
	for b, c := range counts {
		x0 := math.Pow(10, l+(h-l)*float64(b)/bins)
		x1 := math.Pow(10, l+(h-l)*float64(b+1)/bins)
		f := c / float64(len(x))
		pts = append(pts, plotter.XY{X: x0, Y: f}, plotter.XY{X: x1, Y: f})
	}
	return pts
}

// CheckPath reports whether [Plot] can draw into a file of this name: the
// name must end in .svg or .png, in either case (.SVG and .Png too). It
// looks at the name only and never touches the file system, so a command
// can check its flags before a long run.
func CheckPath(path string) error {
	switch ext := strings.ToLower(filepath.Ext(path)); {
	case ext == ".svg" || ext == ".png":
		return nil
	case ext == "":
		return fmt.Errorf("plot file %q: want a file name ending in .svg or .png; it has no extension", path)
	default:
		return fmt.Errorf("plot file %q: want a file name ending in .svg or .png, not %s", path, filepath.Ext(path))
	}
}

// Plot draws latency CDFs of the runs (injection call solid, end-to-end
// dashed), and below them a histogram of the injection-call latencies, into
// path: an .svg or .png file.
func Plot(results []*bench.Result, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(path))
	lo, hi := latencyRange(results)
	if hi == 0 {
		return fmt.Errorf("plot %s: no latency samples to draw", path)
	}
	if hi <= lo {
		hi = lo * 10
	}
	title := "workload " + strings.Join(workloadNames(results), ", ")
	cdf, hist := newCDF(title, lo, hi), newHistogram(title, lo, hi)
	for i, r := range results {
		if err := addRun(cdf, hist, r, plotutil.Color(i), lo, hi); err != nil {
			return err
		}
	}
	hist.Legend.Top = true
	return write(path, ext, cdf, hist)
}

// workloadNames returns the names of the results' workloads, each once, in
// order.
func workloadNames(results []*bench.Result) []string {
	var names []string
	for _, r := range results {
		if !slices.Contains(names, r.Workload.Name) {
			names = append(names, r.Workload.Name)
		}
	}
	return names
}

// latencyRange returns the smallest (at least 1) and the largest latency
// of the results' samples; hi is 0 when there are none.
func latencyRange(results []*bench.Result) (lo, hi float64) {
	lo = math.Inf(1)
	for _, r := range results {
		for _, s := range [][]float64{r.CallSamples, r.EndToEndSamples} {
			if len(s) > 0 {
				lo, hi = math.Min(lo, math.Max(s[0], 1)), math.Max(hi, s[len(s)-1])
			}
		}
	}
	return lo, hi
}

// newCDF returns the empty CDF plot over latencies lo..hi.
func newCDF(title string, lo, hi float64) *gonum.Plot {
	cdf := gonum.New()
	cdf.Title.Text = "Latency CDF, " + title
	cdf.X.Label.Text = "latency (ns, log scale)"
	cdf.Y.Label.Text = "fraction of samples ≤ latency"
	cdf.X.Scale, cdf.X.Tick.Marker = gonum.LogScale{}, gonum.LogTicks{Prec: -1}
	cdf.X.Min, cdf.X.Max = lo, hi
	cdf.Y.Min, cdf.Y.Max = 0, 1
	cdf.Legend.Top, cdf.Legend.Left = false, false
	cdf.Add(plotter.NewGrid())
	return cdf
}

// newHistogram returns the empty injection-call histogram over latencies
// lo..hi.
func newHistogram(title string, lo, hi float64) *gonum.Plot {
	hist := gonum.New()
	hist.Title.Text = "Injection-call latency histogram, " + title
	hist.X.Label.Text = "latency (ns, log scale, 60 log-spaced bins)"
	hist.Y.Label.Text = "fraction of calls in bin"
	hist.X.Scale, hist.X.Tick.Marker = gonum.LogScale{}, gonum.LogTicks{Prec: -1}
	hist.X.Min, hist.X.Max = lo, hi
	hist.Add(plotter.NewGrid())
	return hist
}

// addRun adds r's curves in col: its injection-call CDF (solid) and
// histogram, and its end-to-end CDF (dashed).
func addRun(cdf, hist *gonum.Plot, r *bench.Result, col color.Color, lo, hi float64) error {
	if len(r.CallSamples) > 0 {
		l, err := plotter.NewLine(cdfPoints(r.CallSamples))
		if err != nil {
			return err
		}
		l.Color, l.Width = col, vg.Points(1.5)
		cdf.Add(l)
		cdf.Legend.Add(r.Label+" injection call", l)
		h, err := plotter.NewLine(histPoints(r.CallSamples, lo, hi))
		if err != nil {
			return err
		}
		h.Color, h.Width = col, vg.Points(1.2)
		hist.Add(h)
		hist.Legend.Add(r.Label, h)
	}
	if len(r.EndToEndSamples) > 0 {
		l, err := plotter.NewLine(cdfPoints(r.EndToEndSamples))
		if err != nil {
			return err
		}
		l.Color, l.Width, l.Dashes = col, vg.Points(1.5), []vg.Length{vg.Points(5), vg.Points(3)}
		cdf.Add(l)
		cdf.Legend.Add(r.Label+" end-to-end ("+r.Workload.Wait.String()+")", l)
	}
	return nil
}

// write draws cdf above hist on one canvas and writes it to path, as PNG
// when ext is ".png" and as SVG otherwise.
func write(path, ext string, cdf, hist *gonum.Plot) error {
	const width, height = 8 * vg.Inch, 9 * vg.Inch
	var c vg.CanvasWriterTo
	if ext == ".png" {
		img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))
		c = vgimg.PngCanvas{Canvas: img}
	} else {
		c = vgsvg.New(width, height)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4, PadY: vg.Millimeter * 6}
	grid := [][]*gonum.Plot{{cdf}, {hist}}
	canvases := gonum.Align(grid, tiles, dc)
	cdf.Draw(canvases[0][0])
	hist.Draw(canvases[1][0])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
