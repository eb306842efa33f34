package plot

import (
	"image/color"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// runStyle is how one run is drawn on every panel: a colour, a dash
// pattern and a marker shape, so that runs differ in more than colour and
// read apart in greyscale and to colour-blind readers.
type runStyle struct {
	Color  color.Color
	Dashes []vg.Length // nil: a solid line
	Glyph  draw.GlyphDrawer
}

// okabeIto is the colour-blind-safe palette of Okabe and Ito (2008),
// without its yellow, which is too light on white: blue, vermillion,
// bluish green, reddish purple, orange, sky blue, black.
var okabeIto = []color.Color{
	color.RGBA{0x00, 0x72, 0xb2, 0xff},
	color.RGBA{0xd5, 0x5e, 0x00, 0xff},
	color.RGBA{0x00, 0x9e, 0x73, 0xff},
	color.RGBA{0xcc, 0x79, 0xa7, 0xff},
	color.RGBA{0xe6, 0x9f, 0x00, 0xff},
	color.RGBA{0x56, 0xb4, 0xe9, 0xff},
	color.RGBA{0x00, 0x00, 0x00, 0xff},
}

// dashPatterns are the runs' line patterns: solid, dashed, dotted,
// dash-dotted, long-dashed, dash-dot-dotted.
var dashPatterns = [][]vg.Length{
	nil,
	{vg.Points(6), vg.Points(3)},
	{vg.Points(1.5), vg.Points(2)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)},
	{vg.Points(11), vg.Points(3)},
	{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2), vg.Points(1.5), vg.Points(2)},
}

// glyphs are the runs' marker shapes, filled and open in turn: a disc, an
// open square, a filled triangle, a cross, a ring, a filled square, an
// open triangle, a plus.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{},
	draw.SquareGlyph{},
	draw.PyramidGlyph{},
	draw.CrossGlyph{},
	draw.RingGlyph{},
	draw.BoxGlyph{},
	draw.TriangleGlyph{},
	draw.PlusGlyph{},
}

// styleOf returns the style of the i-th run. Colours, dashes and markers
// cycle with different periods, so the first 168 runs each get their own
// combination.
func styleOf(i int) runStyle {
	return runStyle{
		Color:  okabeIto[i%len(okabeIto)],
		Dashes: dashPatterns[i%len(dashPatterns)],
		Glyph:  glyphs[i%len(glyphs)],
	}
}

// Line and marker sizes, and the colours of what is not data.
var (
	curveWidth = vg.Points(1.4)
	markerSize = vg.Points(3)
	frameStyle = draw.LineStyle{Color: color.Gray{Y: 0x40}, Width: vg.Points(0.7)}
	gridStyle  = draw.LineStyle{Color: color.Gray{Y: 0xdd}, Width: vg.Points(0.5)}
)

// lineStyle is s's line.
func (s runStyle) lineStyle() draw.LineStyle {
	return draw.LineStyle{Color: s.Color, Width: curveWidth, Dashes: s.Dashes}
}

// glyphStyle is s's marker.
func (s runStyle) glyphStyle() draw.GlyphStyle {
	return draw.GlyphStyle{Color: s.Color, Radius: markerSize, Shape: s.Glyph}
}
