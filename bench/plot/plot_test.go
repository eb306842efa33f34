package plot

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gicits/gicits/bench"
	"github.com/gicits/gicits/bench/benchtest"
	"github.com/gicits/gicits/bench/stats"
	"github.com/gicits/gicits/model"
)

// twoRuns runs lpistress, shrunk to a few milliseconds, twice on the fake
// backend, labelling the second run fake-b.
func twoRuns(t *testing.T) (*bench.Result, *bench.Result) {
	t.Helper()
	w, _ := bench.Lookup("lpistress")
	w.Iterations, w.Warmup = 50, min(w.Warmup, 200)
	run := func() *bench.Result {
		f := benchtest.New(model.Config{CPUs: w.CPUs})
		defer f.Close()
		res, err := bench.Run(context.Background(), f, w, bench.Options{})
		if err != nil {
			t.Fatalf("%s: %v", w.Name, err)
		}
		return res
	}
	a, b := run(), run()
	b.Label = "fake-b"
	return a, b
}

// latencies returns n sorted latencies (ns), log-normal about median with
// shape sigma, a fraction tail of them 10 to 1000 times slower, rounded
// down to multiples of quantum (the clock's tick; 0: not rounded).
func latencies(seed uint64, n int, median, sigma, tail, quantum float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 0))
	x := make([]float64, n)
	for i := range x {
		v := median * math.Exp(sigma*rng.NormFloat64())
		if rng.Float64() < tail {
			v *= math.Pow(10, 1+2*rng.Float64())
		}
		if quantum > 0 {
			v = math.Floor(v/quantum) * quantum
		}
		x[i] = v
	}
	slices.Sort(x)
	return x
}

// repeat returns n copies of v.
func repeat(n int, v float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = v
	}
	return x
}

// result returns a run labelled label of workload steady with these
// samples, its consumers spinning, its clock ticking every 10ns.
func result(label string, call, e2e []float64) *bench.Result {
	return &bench.Result{
		Label:           label,
		Backend:         "sim",
		Workload:        bench.Workload{Name: "steady", Wait: bench.WaitSpin},
		Clock:           bench.Clock{Resolution: 10 * time.Nanosecond},
		CallSamples:     call,
		EndToEndSamples: e2e,
	}
}

// churned returns r with churn: MOVIs at 2000/s, 4000 of them, whose
// latency summary comes from seed.
func churned(r *bench.Result, seed uint64) *bench.Result {
	r.Workload.Churn, r.Workload.ChurnRate = bench.ChurnMOVI, 2000
	r.ChurnOps = 4000
	r.Command = stats.Summarize(latencies(seed, 4000, 2000, 0.8, 0.01, 0))
	return r
}

// badChurn returns a churned run whose summary spoil has spoilt.
func badChurn(spoil func(*stats.Summary)) *bench.Result {
	r := churned(result("sim", latencies(1, 100, 40, 0.3, 0, 0), nil), 1)
	spoil(&r.Command)
	return r
}

// twoBackends returns two runs with long-tailed call and end-to-end
// latencies, the second slower.
func twoBackends() []*bench.Result {
	return []*bench.Result{
		result("sim", latencies(1, 50000, 40, 0.3, 0.001, 10), latencies(2, 20000, 2000, 1, 0.01, 0)),
		result("sim-walk", latencies(3, 50000, 70, 0.3, 0.001, 10), latencies(4, 20000, 2500, 1, 0.01, 0)),
	}
}

// writeSVG plots results into an SVG file and reads it back. With
// GICITS_PLOT_DIR set, the file is written there, named after the test,
// for a person to look at.
func writeSVG(t *testing.T, results []*bench.Result) svgDoc {
	t.Helper()
	dir := os.Getenv("GICITS_PLOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, strings.NewReplacer("/", "-", " ", "_").Replace(t.Name())+".svg")
	if err := Plot(results, path); err != nil {
		t.Fatal(err)
	}
	return readSVG(t, path)
}

func TestPlot(t *testing.T) {
	a, b := twoRuns(t)
	dir := t.TempDir()
	for _, name := range []string{"cdf.svg", "cdf.png"} {
		p := filepath.Join(dir, name)
		if err := Plot([]*bench.Result{a, b}, p); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(p); err != nil || fi.Size() < 1000 {
			t.Errorf("%s: %v %v", name, fi, err)
		}
	}
	if err := Plot([]*bench.Result{a}, filepath.Join(dir, "x.pdf")); err == nil || !strings.Contains(err.Error(), ".svg or .png") {
		t.Errorf("pdf: %v", err)
	}
}

func TestCheckPath(t *testing.T) {
	tests := []struct {
		path string
		want string // a part of the error; empty: no error
	}{
		{"run.svg", ""},
		{"run.png", ""},
		{"RUN.SVG", ""},
		{"dir/run.Png", ""},
		{"run.pdf", "not .pdf"},
		{"run.svg.gz", "not .gz"},
		{"run", "no extension"},
		{"", "no extension"},
		{"dir.svg/", "no extension"},
	}
	for _, tt := range tests {
		err := CheckPath(tt.path)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("CheckPath(%q) = %v, want nil", tt.path, err)
		case tt.want != "" && err == nil:
			t.Errorf("CheckPath(%q) = nil, want an error with %q", tt.path, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("CheckPath(%q) = %v, want an error with %q", tt.path, err, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), ".svg or .png"):
			t.Errorf("CheckPath(%q) = %v, want it to name .svg or .png", tt.path, err)
		}
	}
}

// The figure's layout, read back from the SVG: every panel has numbers on
// both axes, in one notation, not crowding each other; the legend lies in
// the picture and off every data area; nothing sticks out of the picture;
// every curve stays in its panel.
func TestPlotLayout(t *testing.T) {
	emulated := result("kvm", latencies(5, 20000, 8000, 0.5, 0.01, 0), latencies(6, 5000, 40000, 0.7, 0.01, 0))
	emulated.Emulated = true
	var many []*bench.Result
	for i := range 4 {
		many = append(many, result(fmt.Sprintf("backend-with-a-long-label-%d", i), latencies(uint64(10+i), 5000, 40+float64(10*i), 0.3, 0.001, 0), nil))
	}
	tests := []struct {
		name    string
		results []*bench.Result
		panels  int
	}{
		{"two backends, long tails", twoBackends(), 6},
		{"calls within one decade (30 to 90 ns)", []*bench.Result{result("sim", latencies(7, 20000, 45, 0.25, 0, 10), nil)}, 3},
		{"one latency only", []*bench.Result{result("sim", repeat(1000, 40), repeat(1000, 900))}, 6},
		{"zero latencies", []*bench.Result{result("sim", append(repeat(500, 0), repeat(500, 10)...), nil)}, 3},
		{"tens of microseconds, emulated", []*bench.Result{emulated}, 6},
		{"end-to-end only", []*bench.Result{result("sim", nil, latencies(8, 3000, 700, 0.4, 0.01, 0))}, 3},
		{"four runs with long labels", many, 3},
		{"one sample each", []*bench.Result{result("sim", []float64{35}, []float64{700})}, 6},
		{"churn", []*bench.Result{churned(twoBackends()[0], 9), churned(twoBackends()[1], 10)}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := writeSVG(t, tt.results)
			frames := doc.frames()
			if len(frames) != tt.panels {
				t.Fatalf("%d panels (framed data areas), want %d", len(frames), tt.panels)
			}
			checkInPicture(t, doc)
			for i, f := range frames {
				checkTickLabels(t, doc, f, fmt.Sprintf("panel %d %v", i, f))
			}
			checkLegend(t, doc, tt.results, frames)
			checkCurvesInPanels(t, doc, len(tt.results), frames)
		})
	}
}

// checkInPicture fails for every text that reaches outside the picture.
func checkInPicture(t *testing.T, doc svgDoc) {
	t.Helper()
	pic := rect{Max: point{doc.Width, doc.Height}}
	for _, s := range doc.Texts {
		if b := s.box(); !b.inside(pic, 0.5) {
			t.Errorf("text %q at %v sticks out of the picture %v", s.S, b, pic)
		}
	}
}

// The notations a tick label may use: a latency with its unit, a
// percentage, a percentile.
var (
	latencyLabel    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)? (ns|µs|ms|s)$`)
	percentLabel    = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?%$`)
	percentileLabel = regexp.MustCompile(`^p[0-9]+(\.[0-9]+)?$`)
)

// checkTickLabels fails unless the panel framed by f has at least two
// tick labels on each axis, in one notation per axis, none overlapping
// another.
func checkTickLabels(t *testing.T, doc svgDoc, f rect, panel string) {
	t.Helper()
	xs, ys := doc.tickLabels(f)
	for axis, labels := range map[string][]svgText{"x": xs, "y": ys} {
		if len(labels) < 2 {
			t.Errorf("%s: %d %s-axis tick labels %v, want at least 2", panel, len(labels), axis, texts(labels))
		}
		notations := map[string]bool{}
		for i, l := range labels {
			switch {
			case latencyLabel.MatchString(l.S):
				notations["latency"] = true
			case percentLabel.MatchString(l.S):
				notations["percent"] = true
			case percentileLabel.MatchString(l.S):
				notations["percentile"] = true
			default:
				t.Errorf("%s: %s tick label %q is in no notation of the plot", panel, axis, l.S)
			}
			for _, o := range labels[i+1:] {
				if l.box().overlaps(o.box()) {
					t.Errorf("%s: %s tick labels %q and %q overlap", panel, axis, l.S, o.S)
				}
			}
		}
		if len(notations) > 1 {
			t.Errorf("%s: %s tick labels mix notations: %v", panel, axis, texts(labels))
		}
	}
}

func texts(ts []svgText) []string {
	var out []string
	for _, s := range ts {
		out = append(out, s.S)
	}
	return out
}

// checkLegend fails unless every run has one legend entry, its label
// with its line and marker before it, all inside the picture and off
// every data area.
func checkLegend(t *testing.T, doc svgDoc, results []*bench.Result, frames []rect) {
	t.Helper()
	pic := rect{Max: point{doc.Width, doc.Height}}
	for i, r := range results {
		var labels []rect
		for _, s := range doc.Texts {
			if s.S == r.Label || strings.HasPrefix(s.S, r.Label+" (") {
				labels = append(labels, s.box())
			}
		}
		if len(labels) != 1 {
			t.Errorf("run %q: %d legend labels, want 1", r.Label, len(labels))
			continue
		}
		label := labels[0]
		entry := []rect{label}
		line := false
		for _, p := range doc.colourPaths(colourHex(styleOf(i).Color)) {
			b := bounds(p.Pts)
			mid := (b.Min.Y + b.Max.Y) / 2
			if mid < label.Min.Y || mid > label.Max.Y || b.Max.X > label.Min.X || b.Min.X < label.Min.X-50 {
				continue // not before the label
			}
			entry = append(entry, b)
			line = line || (p.Cmds == "ML" && b.Max.X-b.Min.X >= 20)
		}
		if !line || len(entry) < 3 {
			t.Errorf("run %q: the legend shows %d lines and markers before the label, want its line and marker", r.Label, len(entry)-1)
		}
		for _, b := range entry {
			if !b.inside(pic, 0.5) {
				t.Errorf("run %q: legend entry %v sticks out of the picture %v", r.Label, b, pic)
			}
			for _, f := range frames {
				if b.overlaps(f) {
					t.Errorf("run %q: legend entry %v overlaps the data area %v", r.Label, b, f)
				}
			}
		}
	}
}

// checkCurvesInPanels fails for every curve of a run that leaves the data
// area it is drawn in, and for every line or marker of a run that is in no
// data area and not in the header above them (the legend).
func checkCurvesInPanels(t *testing.T, doc svgDoc, runs int, frames []rect) {
	t.Helper()
	top := 0.0
	for _, f := range frames {
		top = math.Max(top, f.Max.Y)
	}
	for i := range runs {
		colour := colourHex(styleOf(i).Color)
		curves, _ := doc.runPaths(colour)
		for _, c := range curves {
			b := bounds(c.Pts)
			if !slices.ContainsFunc(frames, func(f rect) bool { return b.inside(f, 1) }) {
				t.Errorf("run %d: a curve %v lies in no panel's data area", i, b)
			}
		}
		for _, p := range doc.colourPaths(colour) {
			if b := bounds(p.Pts); !slices.ContainsFunc(frames, b.overlaps) && b.Min.Y < top {
				t.Errorf("run %d: a %s at %v is in no panel, nor in the legend", i, p.Cmds, b)
			}
		}
	}
}

// Two runs differ in more than colour: in dash pattern and marker shape
// too, so that they read apart in greyscale.
func TestPlotRunsDifferInMoreThanColour(t *testing.T) {
	doc := writeSVG(t, twoBackends())
	type look struct{ colour, dashes, markers []string }
	var looks []look
	for i := range 2 {
		colour := colourHex(styleOf(i).Color)
		curves, markers := doc.runPaths(colour)
		if len(curves) == 0 || len(markers) == 0 {
			t.Fatalf("run %d (%s): %d curves, %d markers", i, colour, len(curves), len(markers))
		}
		l := look{colour: []string{colour}}
		for _, c := range curves {
			l.dashes = appendNew(l.dashes, c.Style["stroke-dasharray"])
		}
		for _, m := range markers {
			l.markers = appendNew(l.markers, markerShape(m))
		}
		looks = append(looks, l)
	}
	for _, aspect := range []struct {
		name string
		of   func(look) []string
	}{
		{"colour", func(l look) []string { return l.colour }},
		{"dash pattern", func(l look) []string { return l.dashes }},
		{"marker", func(l look) []string { return l.markers }},
	} {
		a, b := aspect.of(looks[0]), aspect.of(looks[1])
		for _, x := range a {
			if slices.Contains(b, x) {
				t.Errorf("both runs draw with %s %q (run 0: %q, run 1: %q)", aspect.name, x, a, b)
			}
		}
	}
}

// markerShape describes a marker's shape: its path commands, filled or
// not.
func markerShape(p svgPath) string {
	fill := p.Style["fill"]
	return fmt.Sprintf("%s fill=%v", p.Cmds, fill != "" && fill != "none")
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// A workload with churn adds a panel of the churn commands' latency, with
// each churning run's summary quantiles in it.
func TestPlotChurnPanel(t *testing.T) {
	tests := []struct {
		name    string
		results []*bench.Result
		panels  int
		markers []int // markers of each run in the churn panel; nil: no churn panel
	}{
		{"no churn", twoBackends(), 6, nil},
		{"both runs churn", []*bench.Result{churned(twoBackends()[0], 9), churned(twoBackends()[1], 10)}, 7, []int{5, 5}},
		{"one run churns", []*bench.Result{twoBackends()[0], churned(twoBackends()[1], 10)}, 7, []int{0, 5}},
		{"churn without latency samples", []*bench.Result{churned(result("sim", nil, nil), 11)}, 1, []int{5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := writeSVG(t, tt.results)
			frames := doc.frames()
			if len(frames) != tt.panels {
				t.Errorf("%d panels, want %d", len(frames), tt.panels)
			}
			var titles []svgText
			for _, s := range doc.Texts {
				if strings.HasPrefix(s.S, "Churn commands") {
					titles = append(titles, s)
				}
			}
			if tt.markers == nil {
				if len(titles) != 0 {
					t.Errorf("churn panel titled %q without churn", titles[0].S)
				}
				return
			}
			if len(titles) != 1 || !strings.Contains(titles[0].S, "movi at 2000/s") {
				t.Fatalf("churn panel titles %v, want one naming movi at 2000/s", texts(titles))
			}
			churn, ok := frameBelow(frames, titles[0])
			if !ok {
				t.Fatalf("no panel under the title %q", titles[0].S)
			}
			for i, want := range tt.markers {
				_, markers := doc.runPaths(colourHex(styleOf(i).Color))
				got := 0
				for _, m := range markers {
					if bounds(m.Pts).overlaps(churn) {
						got++
					}
				}
				if got != want {
					t.Errorf("run %d: %d markers in the churn panel, want %d (min, p50, p90, p99, p99.9)", i, got, want)
				}
			}
		})
	}
}

// frameBelow returns the frame whose top lies just below the title.
func frameBelow(frames []rect, title svgText) (rect, bool) {
	for _, f := range frames {
		if b := title.box(); b.Min.Y > f.Max.Y && b.Min.Y < f.Max.Y+15 && b.Min.X > f.Min.X && b.Max.X < f.Max.X {
			return f, true
		}
	}
	return rect{}, false
}

// PNG files decode, at the size the figure asks for, and show both runs'
// colours; the extension's case does not matter.
func TestPlotPNG(t *testing.T) {
	tests := []struct {
		name    string
		results []*bench.Result
		width   int // pixels
	}{
		{"plot.png", twoBackends(), 960},
		{"PLOT.PNG", twoBackends(), 960},
		{"Plot.Png", []*bench.Result{result("sim", latencies(1, 1000, 40, 0.3, 0, 0), nil), result("sim-walk", latencies(2, 1000, 60, 0.3, 0, 0), nil)}, 720},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.name)
			if err := Plot(tt.results, path); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			img, err := png.Decode(f)
			if err != nil {
				t.Fatalf("decoding %s: %v", tt.name, err)
			}
			fig, err := newFigure(tt.results)
			if err != nil {
				t.Fatal(err)
			}
			wantH := int(math.Ceil(float64(fig.height().Points()) / 72 * PNGDPI))
			if b := img.Bounds(); b.Dx() != tt.width || math.Abs(float64(b.Dy()-wantH)) > 1 {
				t.Errorf("%s is %dx%d pixels, want %dx%d", tt.name, b.Dx(), b.Dy(), tt.width, wantH)
			}
			for i := range tt.results {
				if n := countColour(img, styleOf(i).Color); n < 200 {
					t.Errorf("run %d's colour on %d pixels only", i, n)
				}
			}
		})
	}
}

// countColour counts the pixels of img in colour c.
func countColour(img image.Image, c color.Color) int {
	n := 0
	b := img.Bounds()
	wr, wg, wb, _ := c.RGBA()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r == wr && g == wg && bl == wb {
				n++
			}
		}
	}
	return n
}

// Bad input gets an error naming what is wrong, and no file.
func TestPlotBadInput(t *testing.T) {
	good := latencies(1, 100, 40, 0.3, 0, 0)
	unsorted := slices.Clone(good)
	unsorted[0], unsorted[99] = unsorted[99], unsorted[0]
	tests := []struct {
		name    string
		results []*bench.Result
		file    string
		want    string
	}{
		{"no runs", nil, "p.svg", "no runs to draw"},
		{"a nil run", []*bench.Result{result("sim", good, nil), nil}, "p.svg", "run 2 of 2 is missing"},
		{"unsorted samples", []*bench.Result{result("sim", unsorted, nil)}, "p.svg", `run "sim": injection-call samples are not sorted`},
		{"NaN", []*bench.Result{result("sim", good, []float64{1, math.NaN()})}, "p.png", `run "sim": end-to-end samples hold a value that is not a latency`},
		{"infinite", []*bench.Result{result("sim", []float64{1, math.Inf(1)}, nil)}, "p.svg", "not a latency"},
		{"negative", []*bench.Result{result("sim", []float64{-5, 1}, nil)}, "p.svg", "not a latency"},
		{"no samples", []*bench.Result{result("sim", nil, nil)}, "p.svg", "no latency samples to draw"},
		{"a churn summary out of order", []*bench.Result{badChurn(func(s *stats.Summary) { s.P99 = s.P50 / 2 })}, "p.svg", `run "sim": churn-command summary quantiles are not sorted`},
		{"a churn summary with NaN", []*bench.Result{badChurn(func(s *stats.Summary) { s.P999 = math.NaN() })}, "p.svg", "not a latency"},
		{"a pdf", []*bench.Result{result("sim", good, nil)}, "p.pdf", "want a file name ending in .svg or .png"},
		{"no directory", []*bench.Result{result("sim", good, nil)}, "nodir/p.svg", "nodir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.file)
			err := Plot(tt.results, path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Plot = %v, want an error with %q", err, tt.want)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s was written after the error (stat: %v)", tt.file, err)
			}
		})
	}
}
