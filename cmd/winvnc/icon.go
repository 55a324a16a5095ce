package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"math"
)

// lifebuoyImage draws the tray icon: a ring in red and white quarters,
// size×size, transparent outside the ring.
func lifebuoyImage(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	c := float64(size) / 2
	outer, inner := c-0.5, c*0.45
	red := color.NRGBA{0xd8, 0x1e, 0x1e, 0xff}
	white := color.NRGBA{0xf4, 0xf4, 0xf4, 0xff}
	for y := range size {
		for x := range size {
			dx, dy := float64(x)+0.5-c, float64(y)+0.5-c
			d := math.Hypot(dx, dy)
			if d > outer || d < inner {
				continue
			}
			// Red quarters on the diagonals, white between them.
			angle := math.Atan2(dy, dx) + math.Pi/4 // 0..2π, shifted
			if int(math.Floor(angle/(math.Pi/2)))%2 == 0 {
				img.SetNRGBA(x, y, red)
			} else {
				img.SetNRGBA(x, y, white)
			}
		}
	}
	return img
}

// iconPNG is the icon as PNG, as the StatusNotifierItem tray takes it.
func iconPNG(size int) []byte {
	var b bytes.Buffer
	png.Encode(&b, lifebuoyImage(size)) // cannot fail on a bytes.Buffer
	return b.Bytes()
}

// iconICO wraps the PNG in an ICO container (one image, PNG-compressed,
// which Windows reads since Vista), as the Windows tray takes it:
//
//	ICONDIR:      u16 0, u16 1 (icon), u16 count
//	ICONDIRENTRY: u8 width, u8 height (0 means 256), u8 colours, u8 0,
//	              u16 planes, u16 bits per pixel, u32 size, u32 offset
func iconICO(size int) []byte {
	p := iconPNG(size)
	b := binary.LittleEndian.AppendUint16(nil, 0)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = append(b, byte(size%256), byte(size%256), 0, 0)
	b = binary.LittleEndian.AppendUint16(b, 1)
	b = binary.LittleEndian.AppendUint16(b, 32)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
	b = binary.LittleEndian.AppendUint32(b, 6+16)
	return append(b, p...)
}
