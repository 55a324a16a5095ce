//go:build interop

package rfb

import (
	"image"
	"math/rand/v2"
	"testing"
)

// TestTilePlanPhotos: on BenchmarkWire's four photos, where the tile
// judge spends its time, manyColours decides as the former hash set did
// and the platform's tightTileSoft as its Go form, on every tile of the
// grid and of a grid moved by a few pixels.
func TestTilePlanPhotos(t *testing.T) {
	var s tightTileScratch
	rng := rand.New(rand.NewPCG(1, 1))
	for _, name := range []string{"Dragonfly_by_Bolly.jpg", "Fossa_by_Jasper_Roks.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "sunset_by_Aitzol_Berasategi.jpg"} {
		img := LoadPhoto(t, "/usr/share/backgrounds/"+name, 1280, 800)
		many, soft := 0, 0
		for _, off := range []image.Point{{}, {7, 5}} {
			eachTile(img, off, rng, func(r image.Rectangle) {
				want := coloursOver(img, r, tightPhotoColours)
				if got := s.manyColours(img, r, tightPhotoColours); got != want {
					t.Fatalf("%s, tile %v: more colours %v, want %v", name, r, got, want)
				}
				gs, gu := tightTileSoftGo(img, r)
				if ps, pu := tightTileSoft(img, r); ps != gs || pu != gu {
					t.Fatalf("%s, tile %v: soft %v uniform %v, Go %v %v", name, r, ps, pu, gs, gu)
				}
				if want {
					many++
				}
				if gs {
					soft++
				}
			})
		}
		t.Logf("%s: %d tiles with many colours, %d soft", name, many, soft)
	}
}
