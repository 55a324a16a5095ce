//go:build interop

package rfb

import (
	"image"
	"math/rand/v2"
	"testing"
)

// TestTilePlanPhotos: on BenchmarkWire's four photos, where the tile
// judge spends its time, manyColours decides as the former hash set did,
// on every tile of the grid and of a grid moved by a few pixels.
func TestTilePlanPhotos(t *testing.T) {
	var s tightTileScratch
	rng := rand.New(rand.NewPCG(1, 1))
	for _, name := range []string{"Dragonfly_by_Bolly.jpg", "Fossa_by_Jasper_Roks.jpg", "Kleiber_by_Lukas_Baubkus.jpg", "sunset_by_Aitzol_Berasategi.jpg"} {
		img := LoadPhoto(t, "/usr/share/backgrounds/"+name, 1280, 800)
		many := 0
		for _, off := range []image.Point{{}, {7, 5}} {
			eachTile(img, off, rng, func(r image.Rectangle) {
				want := coloursOver(img, r, tightPhotoColours)
				if got := s.manyColours(img, r, tightPhotoColours); got != want {
					t.Fatalf("%s, tile %v: more colours %v, want %v", name, r, got, want)
				}
				if want {
					many++
				}
			})
		}
		t.Logf("%s: %d tiles with many colours", name, many)
	}
}
