package workload

import (
	"crypto/sha256"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// Every step must account for every pixel it changed: replaying its moves
// on the previous frame and copying its damage gives the new frame.
func TestStepsDescribeChanges(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			w, err := New(name, 480, 270)
			if err != nil {
				t.Fatal(err)
			}
			model := image.NewRGBA(w.Frame.Rect)
			draw.Draw(model, model.Rect, w.Frame, image.Point{}, draw.Src)
			for i := range 80 {
				st := w.Next()
				for _, m := range st.Moves {
					draw.Draw(model, m.Dst, model, m.Src, draw.Src)
				}
				for _, r := range st.Damage {
					draw.Draw(model, r, w.Frame, r.Min, draw.Src)
				}
				if string(model.Pix) != string(w.Frame.Pix) {
					t.Fatalf("step %d changed pixels it did not report", i)
				}
			}
		})
	}
}

// The same workload gives the same pixels every time.
func TestDeterministic(t *testing.T) {
	for _, name := range Names {
		a, _ := New(name, 320, 200)
		b, _ := New(name, 320, 200)
		for range 5 {
			a.Next()
			b.Next()
		}
		if sha256.Sum256(a.Frame.Pix) != sha256.Sum256(b.Frame.Pix) {
			t.Errorf("%s is not deterministic", name)
		}
	}
}

// WORKLOAD_PNG_DIR=dir go test -run TestWritePreviews writes each
// workload's first frame as a PNG to look at.
func TestWritePreviews(t *testing.T) {
	dir := os.Getenv("WORKLOAD_PNG_DIR")
	if dir == "" {
		t.Log("set WORKLOAD_PNG_DIR to write previews")
		return
	}
	for _, name := range Names {
		w, _ := New(name, 1920, 1080)
		for range 3 {
			w.Next()
		}
		rgb := image.NewRGBA(w.Frame.Rect)
		for i := 0; i < len(rgb.Pix); i += 4 {
			p := w.Frame.Pix[i:]
			rgb.Pix[i], rgb.Pix[i+1], rgb.Pix[i+2], rgb.Pix[i+3] = p[2], p[1], p[0], 0xff
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s.png", name)))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(f, rgb)
		f.Close()
	}
}
