package plot

import (
	"math"
	"slices"
	"strconv"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
)

// formatLatency writes a latency of ns nanoseconds in one notation: a
// plain decimal of at most three significant digits and a unit, ns, µs, ms
// or s, whichever keeps the number at or above 1 ("500 ns", "1.5 µs",
// "20 ms"). It never writes an exponent.
func formatLatency(ns float64) string {
	ns = roundSignificant(ns)
	units := []struct {
		name  string
		scale float64
	}{{"s", 1e9}, {"ms", 1e6}, {"µs", 1e3}}
	for _, u := range units {
		if math.Abs(ns) >= u.scale {
			return formatDecimal(ns/u.scale) + " " + u.name
		}
	}
	return formatDecimal(ns) + " ns"
}

// formatDecimal writes v rounded to three significant digits as a plain
// decimal, without trailing zeros or an exponent.
func formatDecimal(v float64) string {
	return strconv.FormatFloat(roundSignificant(v), 'f', -1, 64)
}

// roundSignificant returns v rounded to three significant digits.
func roundSignificant(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return r
}

// latencyTicks marks a log-scaled latency axis (in nanoseconds) with
// labels in one notation ([formatLatency]), and with at least two labels
// whenever the axis has room for two, however narrow its range.
//
// Its candidates run from coarse to fine: the ladders (every third
// decade, every other decade, every decade, 1-2-5 in each decade, every
// digit in each decade), then even steps of 1, 2 or 5 times a power of
// ten, as on a linear axis, for ranges within a decade. It takes the
// first candidate that puts three labels on the axis without crowding
// them; failing that, the one that puts the most; failing two, the finest
// with labels taken off evenly until they fit.
type latencyTicks struct {
	// Length is the length of the axis, which the figure measures before
	// drawing; 0 means a guess, defaultAxisLength.
	Length vg.Length
	// Vertical says the labels stack up the axis, a line each, instead of
	// standing side by side.
	Vertical bool
}

// defaultAxisLength is the axis length latencyTicks assumes until it is
// told.
const defaultAxisLength = vg.Length(200)

// ladder is one way to place latency labels: at mantissas (times a power
// of ten) of every step-th decade, with unlabelled ticks at minor.
type ladder struct {
	step     int
	mantissa []float64
	minor    []float64
}

// ladders run from the coarsest to the finest.
var ladders = []ladder{
	{step: 3, mantissa: []float64{1}},
	{step: 2, mantissa: []float64{1}},
	{step: 1, mantissa: []float64{1}, minor: []float64{2, 3, 4, 5, 6, 7, 8, 9}},
	{step: 1, mantissa: []float64{1, 2, 5}, minor: []float64{3, 4, 6, 7, 8, 9}},
	{step: 1, mantissa: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
}

// Ticks implements [gonum.Ticker]. It returns no ticks unless
// 0 < min < max < +Inf.
func (t latencyTicks) Ticks(min, max float64) []gonum.Tick {
	if !(min > 0 && max > min && !math.IsInf(max, 1)) {
		return nil
	}
	var candidates [][]gonum.Tick
	for _, l := range ladders {
		candidates = append(candidates, l.ticks(min, max))
	}
	candidates = append(candidates, evenTicks(min, max)...)
	var best []gonum.Tick
	for _, ticks := range candidates {
		if !t.fits(ticks, min, max) {
			continue
		}
		if labelled(ticks) >= 3 {
			return ticks
		}
		if labelled(ticks) > labelled(best) {
			best = ticks
		}
	}
	if labelled(best) >= 2 {
		return best
	}
	return t.thin(candidates[len(candidates)-1], min, max)
}

// ticks returns l's ticks between min and max.
func (l ladder) ticks(min, max float64) []gonum.Tick {
	var ticks []gonum.Tick
	first, last := int(math.Floor(math.Log10(min))), int(math.Ceil(math.Log10(max)))
	for d := first; d <= last; d++ {
		decade := math.Pow10(d)
		labelledDecade := ((d%l.step)+l.step)%l.step == 0
		for m := 1.0; m <= 9; m++ {
			v := m * decade
			if v < min || v > max {
				continue
			}
			switch {
			case labelledDecade && slices.Contains(l.mantissa, m):
				ticks = append(ticks, gonum.Tick{Value: v, Label: formatLatency(v)})
			case slices.Contains(l.minor, m) || (m == 1 && !labelledDecade):
				ticks = append(ticks, gonum.Tick{Value: v})
			}
		}
	}
	return ticks
}

// evenTicks returns candidate ticks at the multiples of even steps (5, 2
// and 1 times a power of ten) between min and max, coarse to fine: from
// the largest step below the range's width to the last that puts fewer
// than 20 labels on the axis.
func evenTicks(min, max float64) [][]gonum.Tick {
	var candidates [][]gonum.Tick
	if !(max > min) {
		return nil
	}
	top := int(math.Floor(math.Log10(max - min)))
	for k := top; k >= top-3; k-- {
		for _, m := range []float64{5, 2, 1} {
			step := m * math.Pow10(k)
			first, last := math.Ceil(min/step), math.Floor(max/step)
			if last-first >= 20 {
				return candidates
			}
			var ticks []gonum.Tick
			for i := first; i <= last; i++ {
				ticks = append(ticks, gonum.Tick{Value: i * step, Label: formatLatency(i * step)})
			}
			if len(ticks) > 0 {
				candidates = append(candidates, ticks)
			}
		}
	}
	return candidates
}

// labelled counts the ticks that carry a label.
func labelled(ticks []gonum.Tick) int { return len(labelledTicks(ticks)) }

// fits reports whether every two neighbouring labels of ticks, on the
// log-scaled axis min..max, stand apart by at least a space (side by
// side) or half a line (stacked).
func (t latencyTicks) fits(ticks []gonum.Tick, min, max float64) bool {
	length := t.Length
	if length <= 0 {
		length = defaultAxisLength
	}
	sty := text.Style{Font: font.From(gonum.DefaultFont, tickSize), Handler: gonum.DefaultTextHandler}
	span := math.Log10(max) - math.Log10(min)
	var last *gonum.Tick
	for i, tk := range ticks {
		if tk.Label == "" {
			continue
		}
		if last != nil {
			apart := length * vg.Length((math.Log10(tk.Value)-math.Log10(last.Value))/span)
			need := (sty.Width(last.Label)+sty.Width(tk.Label))/2 + sty.Width(" ")
			if t.Vertical {
				need = sty.Height(tk.Label) * 1.5
			}
			if apart < need {
				return false
			}
		}
		last = &ticks[i]
	}
	return true
}

// thin returns ticks labelled evenly enough to fit: every k-th label kept,
// for the smallest k that fits, counted so that a power of ten keeps its
// label if one has a label; the other ticks lose theirs.
func (t latencyTicks) thin(ticks []gonum.Tick, min, max float64) []gonum.Tick {
	n := labelled(ticks)
	phase := 0
	for i, tk := range labelledTicks(ticks) {
		if isPowerOfTen(tk.Value) {
			phase = i
			break
		}
	}
	out := ticks
	for k := 1; k <= n; k++ {
		out = keepEvery(ticks, k, phase%k)
		if t.fits(out, min, max) {
			break
		}
	}
	return out
}

// keepEvery returns ticks with the label kept on the labelled ticks whose
// index among them is phase modulo k.
func keepEvery(ticks []gonum.Tick, k, phase int) []gonum.Tick {
	out := make([]gonum.Tick, 0, len(ticks))
	i := 0
	for _, tk := range ticks {
		if tk.Label != "" {
			if i%k != phase {
				tk.Label = ""
			}
			i++
		}
		out = append(out, tk)
	}
	return out
}

// labelledTicks returns the ticks that carry a label.
func labelledTicks(ticks []gonum.Tick) []gonum.Tick {
	var out []gonum.Tick
	for _, tk := range ticks {
		if tk.Label != "" {
			out = append(out, tk)
		}
	}
	return out
}

// isPowerOfTen reports whether v is (within rounding) a power of ten.
func isPowerOfTen(v float64) bool {
	l := math.Log10(v)
	return math.Abs(l-math.Round(l)) < 1e-9
}

// percentTicks marks a linear axis of fractions (0..1) with percentages:
// "0%", "25%", "100%".
type percentTicks struct{}

// Ticks implements [gonum.Ticker].
func (percentTicks) Ticks(min, max float64) []gonum.Tick {
	var ticks []gonum.Tick
	for _, tk := range (gonum.DefaultTicks{}).Ticks(min, max) {
		if tk.Value < min || tk.Value > max {
			continue
		}
		if tk.Label != "" {
			tk.Label = formatDecimal(tk.Value*100) + "%"
		}
		ticks = append(ticks, tk)
	}
	return ticks
}

// nines maps a percentile p (0 ≤ p < 1) to the x coordinate of the
// percentile plots: -log10(1-p), the number of nines (p90 is 1, p99 is 2,
// p99.9 is 3), so that each step right is ten times rarer.
func nines(p float64) float64 { return -math.Log10(1 - p) }

// tailPercentiles are the percentiles the percentile plots label, and
// where every curve has a marker.
var tailPercentiles = []struct {
	p     float64
	label string
}{{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p99.9"}, {0.9999, "p99.99"}}

// maxNines is the right end of the percentile plots: p99.99.
const maxNines = 4

// percentileTicks marks the x axis of a percentile plot (in [nines]) at
// p50, p90, p99, p99.9 and p99.99.
type percentileTicks struct{}

// Ticks implements [gonum.Ticker].
func (percentileTicks) Ticks(min, max float64) []gonum.Tick {
	var ticks []gonum.Tick
	for _, tp := range tailPercentiles {
		if x := nines(tp.p); x >= min && x <= max {
			ticks = append(ticks, gonum.Tick{Value: x, Label: tp.label})
		}
	}
	return ticks
}
