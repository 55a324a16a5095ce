package win

import (
	"image"
	"reflect"
	"testing"

	"lifebuoy/rfb"
)

func TestWindowMoves(t *testing.T) {
	big := image.Rect(100, 100, 500, 400)
	small := image.Rect(10, 10, 60, 40)
	was := placements{1: big, 2: small, 3: image.Rect(0, 0, 50, 50), 4: image.Rect(700, 0, 800, 100), 5: small}
	now := placements{
		1: big.Add(image.Pt(30, -20)),     // moved
		2: small.Add(image.Pt(5, 5)),      // moved
		3: image.Rect(0, 0, 60, 50),       // resized: no hint
		4: image.Rect(700, 0, 800, 100),   // still
		5: small.Add(image.Pt(200, 0)),    // moved during the read
		6: image.Rect(300, 300, 400, 400), // new
	}
	after := placements{1: now[1], 2: now[2], 3: now[3], 4: now[4], 5: small.Add(image.Pt(210, 0)), 6: now[6]}
	got := windowMoves(was, now, after)
	want := []rfb.Copy{{Dst: now[1], Src: big.Min}, {Dst: now[2], Src: small.Min}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("windowMoves = %v, want %v", got, want)
	}
	if got := windowMoves(nil, now, after); got != nil {
		t.Errorf("without a previous layout: %v", got)
	}
	s := settled(now, after)
	if _, ok := s[5]; ok || len(s) != 5 {
		t.Errorf("settled kept %v", s)
	}
}
