package main

import (
	"bytes"
	"encoding/binary"
	"image/png"
	"testing"
)

func TestIcon(t *testing.T) {
	img, err := png.Decode(bytes.NewReader(iconPNG(32)))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
		t.Fatalf("icon is %v", b)
	}
	if _, _, _, a := img.At(16, 16).RGBA(); a != 0 {
		t.Error("the ring's hole is not transparent")
	}
	if _, _, _, a := img.At(16, 3).RGBA(); a == 0 {
		t.Error("the ring is not drawn")
	}
	ico := iconICO(32)
	le := binary.LittleEndian
	if le.Uint16(ico[2:]) != 1 || le.Uint16(ico[4:]) != 1 || ico[6] != 32 ||
		int(le.Uint32(ico[14:])) != len(ico)-22 || le.Uint32(ico[18:]) != 22 {
		t.Fatalf("bad ICO header % x", ico[:22])
	}
	if _, err := png.Decode(bytes.NewReader(ico[22:])); err != nil {
		t.Fatalf("ICO payload: %v", err)
	}
}
