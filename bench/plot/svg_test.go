package plot

import (
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	gonum "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
)

// This file reads back the SVG files Plot writes, as a reader's eye would:
// where the texts are, which lines are drawn and in what style. All
// coordinates are in points, y upwards (as gonum draws), with the origin at
// the bottom left of the picture.

// svgDoc is what an SVG file of Plot holds.
type svgDoc struct {
	Width, Height float64
	Texts         []svgText
	Paths         []svgPath
}

// svgText is one text element.
type svgText struct {
	X, Y    float64 // the start of the baseline
	Size    float64 // font size, points
	Rotated bool    // turned a quarter (a vertical axis label)
	S       string
}

// svgPath is one path element.
type svgPath struct {
	Cmds  string // the path's commands, one letter each ("MLLLL", "MAAZ")
	Pts   []point
	Style map[string]string
}

type point struct{ X, Y float64 }

// rect is an axis-aligned rectangle.
type rect struct{ Min, Max point }

func (r rect) String() string {
	return fmt.Sprintf("(%.1f,%.1f)-(%.1f,%.1f)", r.Min.X, r.Min.Y, r.Max.X, r.Max.Y)
}

// overlaps reports whether r and o share more than a sliver of area.
func (r rect) overlaps(o rect) bool {
	const sliver = 0.5
	return r.Min.X+sliver < o.Max.X && o.Min.X+sliver < r.Max.X &&
		r.Min.Y+sliver < o.Max.Y && o.Min.Y+sliver < r.Max.Y
}

// inside reports whether r lies within o, give or take tol.
func (r rect) inside(o rect, tol float64) bool {
	return r.Min.X >= o.Min.X-tol && r.Max.X <= o.Max.X+tol &&
		r.Min.Y >= o.Min.Y-tol && r.Max.Y <= o.Max.Y+tol
}

// bounds returns the bounding box of pts.
func bounds(pts []point) rect {
	r := rect{Min: point{math.Inf(1), math.Inf(1)}, Max: point{math.Inf(-1), math.Inf(-1)}}
	for _, p := range pts {
		r.Min.X, r.Min.Y = math.Min(r.Min.X, p.X), math.Min(r.Min.Y, p.Y)
		r.Max.X, r.Max.Y = math.Max(r.Max.X, p.X), math.Max(r.Max.Y, p.Y)
	}
	return r
}

// readSVG parses the SVG file at path.
func readSVG(t *testing.T, path string) svgDoc {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := parseSVG(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}

// parseSVG parses an SVG document as vgsvg writes it: paths and texts
// under one group that flips y, rotated texts in groups of their own.
func parseSVG(r io.Reader) (svgDoc, error) {
	var doc svgDoc
	dec := xml.NewDecoder(r)
	var rotated []bool // per open group
	var text *svgText
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return doc, nil
		}
		if err != nil {
			return doc, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := attrs(tok)
			switch tok.Name.Local {
			case "svg":
				if _, err := fmt.Sscanf(attr["viewBox"], "0 0 %g %g", &doc.Width, &doc.Height); err != nil {
					return doc, fmt.Errorf("viewBox %q: %v", attr["viewBox"], err)
				}
			case "g":
				rotated = append(rotated, strings.HasPrefix(attr["transform"], "rotate("))
			case "path":
				p, err := parsePath(attr["d"])
				if err != nil {
					return doc, err
				}
				p.Style = parseStyle(attr["style"])
				doc.Paths = append(doc.Paths, p)
			case "text":
				text = &svgText{Rotated: len(rotated) > 0 && rotated[len(rotated)-1]}
				text.X, _ = strconv.ParseFloat(attr["x"], 64)
				y, _ := strconv.ParseFloat(attr["y"], 64)
				text.Y = -y // the text flips y back
				text.Size, _ = strconv.ParseFloat(strings.TrimSuffix(parseStyle(attr["style"])["font-size"], "px"), 64)
			}
		case xml.CharData:
			if text != nil {
				text.S += string(tok)
			}
		case xml.EndElement:
			switch tok.Name.Local {
			case "g":
				rotated = rotated[:len(rotated)-1]
			case "text":
				doc.Texts = append(doc.Texts, *text)
				text = nil
			}
		}
	}
}

func attrs(e xml.StartElement) map[string]string {
	m := map[string]string{}
	for _, a := range e.Attr {
		m[a.Name.Local] = a.Value
	}
	return m
}

// parseStyle parses "fill:none;stroke:#0072B2".
func parseStyle(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(kv, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// parsePath parses a path's d attribute: M, L, A (whose end point it
// keeps) and Z commands with absolute coordinates, as in
// "M0,0L576,0A3,3 0 1 1 5,5Z".
func parsePath(d string) (svgPath, error) {
	var p svgPath
	// Put a space around every command letter, then read fields.
	var spaced strings.Builder
	for _, r := range d {
		switch {
		case r >= 'A' && r <= 'Z':
			spaced.WriteString(" " + string(r) + " ")
		case r == ',':
			spaced.WriteRune(' ')
		default:
			spaced.WriteRune(r)
		}
	}
	var nums []float64
	end := func() error {
		if p.Cmds == "" {
			return nil
		}
		switch c := p.Cmds[len(p.Cmds)-1]; {
		case (c == 'M' || c == 'L') && len(nums) == 2:
			p.Pts = append(p.Pts, point{nums[0], nums[1]})
		case c == 'A' && len(nums) == 7:
			// vgsvg draws circles as two half arcs between the ends of a
			// diameter: their end points, and the radius above and below
			// them, bound the circle.
			x, y, r := nums[5], nums[6], nums[1]
			p.Pts = append(p.Pts, point{x, y}, point{x, y - r}, point{x, y + r})
		case c == 'Z' && len(nums) == 0:
		default:
			return fmt.Errorf("path %q: command %c with %d numbers", d, c, len(nums))
		}
		nums = nums[:0]
		return nil
	}
	for _, f := range strings.Fields(spaced.String()) {
		if c := f[0]; c >= 'A' && c <= 'Z' {
			if err := end(); err != nil {
				return p, err
			}
			p.Cmds += f
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return p, fmt.Errorf("path %q: %v", d, err)
		}
		nums = append(nums, v)
	}
	return p, end()
}

// box returns the area a text covers, measured with the font Plot draws
// it in.
func (s svgText) box() rect {
	sty := text.Style{Font: font.From(gonum.DefaultFont, font.Length(s.Size)), Handler: gonum.DefaultTextHandler}
	w := float64(sty.Width(s.S).Points())
	ext := sty.FontExtents()
	asc, desc := float64(ext.Ascent.Points()), float64(ext.Descent.Points())
	if s.Rotated {
		// rotate(90) of (x, -y) puts the baseline's start at (y, x),
		// the text running up and its top to the left.
		return rect{Min: point{-s.Y - asc, s.X}, Max: point{-s.Y + desc, s.X + w}}
	}
	return rect{Min: point{s.X, s.Y - desc}, Max: point{s.X + w, s.Y + asc}}
}

// frames returns the data areas of the panels: the rectangles stroked in
// the frame's colour.
func (d svgDoc) frames() []rect {
	var out []rect
	grey := colourHex(frameStyle.Color)
	for _, p := range d.Paths {
		if p.Style["stroke"] != grey || len(p.Pts) != 5 {
			continue
		}
		b := bounds(p.Pts)
		if b.Max.X-b.Min.X > 50 && b.Max.Y-b.Min.Y > 50 {
			out = append(out, b)
		}
	}
	return out
}

// colourHex writes c as SVG does, #RRGGBB.
func colourHex(c interface{ RGBA() (r, g, b, a uint32) }) string {
	r, g, b, _ := c.RGBA()
	return fmt.Sprintf("#%02X%02X%02X", r>>8, g>>8, b>>8)
}

// runPaths returns the paths drawn in colour: curves (lines of many
// points) and markers (small shapes), apart.
func (d svgDoc) runPaths(colour string) (curves, markers []svgPath) {
	for _, p := range d.colourPaths(colour) {
		b := bounds(p.Pts)
		switch {
		case b.Max.X-b.Min.X < 10 && b.Max.Y-b.Min.Y < 10:
			markers = append(markers, p)
		case len(p.Pts) > 5:
			curves = append(curves, p)
		}
	}
	return curves, markers
}

// colourPaths returns the paths stroked or filled in colour.
func (d svgDoc) colourPaths(colour string) []svgPath {
	var out []svgPath
	for _, p := range d.Paths {
		if p.Style["stroke"] == colour || p.Style["fill"] == colour {
			out = append(out, p)
		}
	}
	return out
}

// tickLabels returns the tick labels of a frame: texts at the ticks' size
// just below it (x) or just left of it (y).
func (d svgDoc) tickLabels(f rect) (x, y []svgText) {
	for _, t := range d.Texts {
		if t.Size != tickSize || t.Rotated {
			continue
		}
		b := t.box()
		mid := point{(b.Min.X + b.Max.X) / 2, (b.Min.Y + b.Max.Y) / 2}
		switch {
		case b.Max.Y < f.Min.Y && b.Max.Y > f.Min.Y-25 && mid.X >= f.Min.X-1 && mid.X <= f.Max.X+1:
			x = append(x, t)
		case b.Max.X < f.Min.X && b.Max.X > f.Min.X-25 && mid.Y >= f.Min.Y-1 && mid.Y <= f.Max.Y+1:
			y = append(y, t)
		}
	}
	return x, y
}
