package plot

import (
	"image/color"
	"slices"
	"strings"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// header is the top of the figure: its title, one legend for every panel
// (each run's line and marker, then its label), and notes on reading the
// figure. It lies above the panels, so it never covers data.
type header struct {
	title  string
	rows   [][]legendEntry // legend entries, wrapped to the figure's width
	notes  []string
	height vg.Length
}

// legendEntry is one run in the legend.
type legendEntry struct {
	label string
	style runStyle
	width vg.Length // thumbnail, gap and label
}

// Header sizes.
var (
	headerTitle  = textStyle(12, color.Black)
	headerLegend = textStyle(10, color.Black)
	headerNote   = textStyle(8.5, color.Gray{Y: 0x40})
	thumbWidth   = vg.Points(30)
	entryGap     = vg.Points(18) // between legend entries
	lineGap      = vg.Points(3)  // between lines of the header
)

// textStyle returns the text style of the figure's font at size points.
func textStyle(size float64, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(gonum.DefaultFont, font.Length(size)), Handler: gonum.DefaultTextHandler}
}

// newHeader lays out the header of the runs in a width.
func newHeader(runs []run, width vg.Length) header {
	h := header{title: "Latency of " + workloadTitle(runs)}
	var row []legendEntry
	var used vg.Length
	for _, r := range runs {
		label := r.Label
		if r.Emulated {
			label += " (CPUs emulated)"
		}
		e := legendEntry{label: label, style: r.style}
		e.width = thumbWidth + headerLegend.Width(" "+label)
		if len(row) > 0 && used+entryGap+e.width > width {
			h.rows, row, used = append(h.rows, row), nil, 0
		}
		if len(row) > 0 {
			used += entryGap
		}
		row, used = append(row, e), used+e.width
	}
	h.rows = append(h.rows, row)
	notes := "Markers: each run's p50, p90, p99, p99.9 and p99.99, as far as its samples reach."
	if slices.ContainsFunc(runs, func(r run) bool { return r.Emulated }) {
		notes += " CPUs emulated: compare the runs' ratios, not their absolute times."
	}
	if slices.ContainsFunc(runs, belowFloor) {
		notes += " Latencies under 1 ns (two clock readings in one tick) are drawn at 1 ns."
	}
	h.notes = wrap(headerNote, notes, width)
	h.height = headerTitle.Height(h.title) + lineGap +
		vg.Length(len(h.rows))*(headerLegend.Height("M")+lineGap) +
		vg.Length(len(h.notes))*(headerNote.Height("M")+lineGap)
	return h
}

// wrap breaks s into lines no wider than width in style sty, at spaces.
// A word wider than width gets a line of its own.
func wrap(sty text.Style, s string, width vg.Length) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case sty.Width(line+" "+word) <= width:
			line += " " + word
		default:
			lines, line = append(lines, line), word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// belowFloor reports whether r measured a latency below floorNs, which
// the plots draw at floorNs.
func belowFloor(r run) bool {
	below := func(x []float64) bool { return len(x) > 0 && x[0] < floorNs }
	return below(r.CallSamples) || below(r.EndToEndSamples) || (hasChurn(r.Result) && r.Command.Min < floorNs)
}

// workloadTitle names the runs' workloads, each once.
func workloadTitle(runs []run) string {
	var names []string
	for _, r := range runs {
		if !slices.Contains(names, r.Workload.Name) {
			names = append(names, r.Workload.Name)
		}
	}
	if len(names) == 1 {
		return "workload " + names[0]
	}
	return "workloads " + strings.Join(names, ", ")
}

// draw draws the header at the top of c, centred.
func (h header) draw(c draw.Canvas) {
	mid := (c.Min.X + c.Max.X) / 2
	y := c.Max.Y
	title := headerTitle
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	c.FillText(title, vg.Point{X: mid, Y: y}, h.title)
	y -= headerTitle.Height(h.title) + lineGap
	for _, row := range h.rows {
		lineHeight := headerLegend.Height("M")
		x := mid - rowWidth(row)/2
		for _, e := range row {
			e.draw(c, vg.Point{X: x, Y: y - lineHeight/2})
			x += e.width + entryGap
		}
		y -= lineHeight + lineGap
	}
	note := headerNote
	note.XAlign, note.YAlign = draw.XCenter, draw.YTop
	for _, n := range h.notes {
		c.FillText(note, vg.Point{X: mid, Y: y}, n)
		y -= headerNote.Height(n) + lineGap
	}
}

// rowWidth returns the width of a row of legend entries.
func rowWidth(row []legendEntry) vg.Length {
	var w vg.Length
	for i, e := range row {
		if i > 0 {
			w += entryGap
		}
		w += e.width
	}
	return w
}

// draw draws the entry with its left end at left, centred vertically on
// left.Y: a stretch of the run's line with its marker, then its label.
func (e legendEntry) draw(c draw.Canvas, left vg.Point) {
	c.StrokeLine2(e.style.lineStyle(), left.X, left.Y, left.X+thumbWidth, left.Y)
	c.DrawGlyph(e.style.glyphStyle(), vg.Point{X: left.X + thumbWidth/2, Y: left.Y})
	label := headerLegend
	label.XAlign, label.YAlign = draw.XLeft, draw.YCenter
	c.FillText(label, vg.Point{X: left.X + thumbWidth + headerLegend.Width(" "), Y: left.Y}, e.label)
}
