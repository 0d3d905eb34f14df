package main

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// panel is one chart of the figure: a column, scaled.
type panel struct {
	column, label string
	scale         float64
}

var panels = []panel{
	{"rss_bytes", "RSS (MiB)", 1.0 / (1 << 20)},
	{"heap_inuse_bytes", "Go heap in use (MiB)", 1.0 / (1 << 20)},
	{"goroutines", "goroutines", 1},
	{"open_fds", "open file descriptors", 1},
	{"gc_pause_max_s", "GC pause, max recent (ms)", 1000},
	{"calls_active", "calls in progress", 1},
}

// Chart draws one panel per figure over time into a PNG at out, with
// vertical lines where the warm-up and the load end.
func Chart(samples []Sample, title string, warmup float64, out string) error {
	if len(samples) == 0 {
		return fmt.Errorf("soakplot: no samples to draw")
	}
	loadStart, loadEnd := -1.0, -1.0
	for _, s := range samples {
		if s.Phase == PhaseLoad {
			if loadStart < 0 {
				loadStart = s.T
			}
			loadEnd = s.T
		}
	}
	grid := make([][]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		if i == 0 {
			p.Title.Text = title
		}
		p.Y.Label.Text = pn.label
		if i == len(panels)-1 {
			p.X.Label.Text = "time (s)"
		}
		p.Add(plotter.NewGrid())
		pts := make(plotter.XYs, len(samples))
		lo, hi := 0.0, 0.0
		for j, s := range samples {
			pts[j].X, pts[j].Y = s.T, s.V[pn.column]*pn.scale
			if j == 0 || pts[j].Y < lo {
				lo = pts[j].Y
			}
			hi = max(hi, pts[j].Y)
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return fmt.Errorf("soakplot: %s: %w", pn.column, err)
		}
		line.Color = color.RGBA{B: 200, A: 255}
		p.Add(line)
		for _, x := range []float64{loadStart + warmup, loadEnd} {
			if loadStart < 0 || x < 0 {
				continue
			}
			mark, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
			if err != nil {
				return err
			}
			mark.Color = color.RGBA{R: 200, A: 255}
			mark.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
			p.Add(mark)
		}
		grid[i] = []*plot.Plot{p}
	}
	img := vgimg.New(vg.Points(900), vg.Points(float64(180*len(panels))))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(6), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
	canvases := plot.Align(grid, tiles, dc)
	for i := range grid {
		grid[i][0].Draw(canvases[i][0])
	}
	png := vgimg.PngCanvas{Canvas: img}
	f, err := createFile(out)
	if err != nil {
		return err
	}
	if _, err := png.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("soakplot: %s: %w", out, err)
	}
	return f.Close()
}
