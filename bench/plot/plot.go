package plot

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gicits/gicits/bench"
)

// PNGDPI is the resolution of PNG plots, in pixels per inch.
const PNGDPI = 120

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

// Plot draws the latencies of the runs into path, an .svg or .png file
// (see [CheckPath]).
//
// The figure has a column for each latency the runs measured (the
// injection call; inject → acknowledge when the runs had consumers), each
// with three panels: the CDF, the percentiles out to p99.99 (the tail
// view) and a histogram. When the runs churned, a last row draws the
// churn commands' latency. Each run has its own colour (Okabe–Ito's
// colour-blind-safe palette), dash pattern and marker, the same on every
// panel, and one legend above the panels names them.
//
// The samples of each result must be sorted in ascending order, as
// [bench.Run] leaves them; Plot says which run's are not.
func Plot(results []*bench.Result, path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	f, err := newFigure(results)
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if err := f.write(path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

// write draws the figure into path: as PNG when its extension says so,
// as SVG otherwise.
func (f *figure) write(path string) error {
	var c vg.CanvasWriterTo
	w, h := f.width, f.height()
	if strings.EqualFold(filepath.Ext(path), ".png") {
		img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(PNGDPI), vgimg.UseBackgroundColor(color.White))
		c = vgimg.PngCanvas{Canvas: img}
	} else {
		c = vgsvg.New(w, h)
	}
	f.draw(draw.New(c))
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := c.WriteTo(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}
