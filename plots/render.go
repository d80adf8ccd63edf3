package plots

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/sgdstability/sgdstab/internal/atomicfile"
)

// DPI is the resolution of PNG output.
const DPI = 110

// Figure is one figure: one or more panels laid out in a row, plus the caption the report
// prints under it (which counts the runs left out of the curves).
type Figure struct {
	Name    string       // file stem, e.g. "fig1a"
	Title   string       // short title for the report
	Caption string       // Markdown caption: what is drawn, tolerances, excluded runs
	Panels  []*plot.Plot // drawn left to right
	Width   vg.Length    // whole figure; 0 = 6.4 in per panel
	Height  vg.Length    // 0 = 4.6 in
}

func (f *Figure) size() (vg.Length, vg.Length) {
	w, h := f.Width, f.Height
	if w == 0 {
		w = vg.Length(len(f.Panels)) * 6.4 * vg.Inch
	}
	if h == 0 {
		h = 4.6 * vg.Inch
	}
	return w, h
}

// Encode renders the figure as "png" or "svg" to w. A panic inside gonum/plot (for
// instance a non-positive value on a log axis) is returned as an error.
func (f *Figure) Encode(w io.Writer, format string) (err error) {
	if len(f.Panels) == 0 {
		return fmt.Errorf("figure %s: no panels", f.Name)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("figure %s: rendering %s: %v", f.Name, format, r)
		}
	}()
	width, height := f.size()
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(DPI))}
	case "svg":
		c = vgsvg.New(width, height)
	default:
		return fmt.Errorf("figure %s: unknown format %q (want png or svg)", f.Name, format)
	}
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 1, Cols: len(f.Panels),
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2,
		PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 3, PadX: vg.Millimeter * 6}
	canvases := plot.Align([][]*plot.Plot{f.Panels}, tiles, dc)
	for j, p := range f.Panels {
		p.Draw(canvases[0][j])
	}
	_, err = c.WriteTo(w)
	return err
}

// Save writes dir/<Name>.<format> for each format ("png", "svg"; none = both) and returns
// the paths written. Each file is rendered in memory first and then written atomically
// (temporary file in dir, fsync, rename), so a failure never leaves a partial file.
func (f *Figure) Save(dir string, formats ...string) ([]string, error) {
	if len(formats) == 0 {
		formats = []string{"png", "svg"}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, format := range formats {
		var buf bytes.Buffer
		if err := f.Encode(&buf, format); err != nil {
			return paths, err
		}
		path := filepath.Join(dir, f.Name+"."+format)
		if err := atomicfile.WriteFile(path, buf.Bytes()); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
