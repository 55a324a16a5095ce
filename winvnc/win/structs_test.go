package win

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"runtime"
	"testing"
	"unsafe"
)

// layout is a structure's size and its fields' offsets as the Windows SDK
// headers lay them out for one pointer size.
type layout struct {
	size    int64
	offsets map[string]int64
}

// sdkLayouts are the C layouts, by pointer size (8: amd64 and arm64,
// 4: 386), worked out from winuser.h and wingdi.h.
var sdkLayouts = map[int]map[string]layout{
	8: {
		"mouseInput":       {32, map[string]int64{"dx": 0, "dy": 4, "mouseData": 8, "flags": 12, "time": 16, "extraInfo": 24}},
		"keybdInput":       {32, map[string]int64{"vk": 0, "scan": 2, "flags": 4, "time": 8, "extraInfo": 16}},
		"mouseINPUT":       {40, map[string]int64{"typ": 0, "mi": 8}},
		"keybdINPUT":       {40, map[string]int64{"typ": 0, "ki": 8}},
		"bitmapInfoHeader": {40, bihOffsets},
		"bitmapInfo":       {48, map[string]int64{"header": 0, "colors": 40}},
		"bitmap":           {32, map[string]int64{"typ": 0, "width": 4, "height": 8, "widthBytes": 12, "planes": 16, "bitsPixel": 18, "bits": 24}},
		"point":            {8, map[string]int64{"x": 0, "y": 4}},
		"rect":             {16, map[string]int64{"left": 0, "top": 4, "right": 8, "bottom": 12}},
		"cursorInfo":       {24, map[string]int64{"size": 0, "flags": 4, "cursor": 8, "pos": 16}},
		"iconInfo":         {32, map[string]int64{"isIcon": 0, "xHotspot": 4, "yHotspot": 8, "mask": 16, "color": 24}},
		"msg":              {48, map[string]int64{"hwnd": 0, "message": 8, "wParam": 16, "lParam": 24, "time": 32, "pt": 36}},
		"kbdLLHookStruct":  {24, kbdOffsets(16)},
	},
	4: {
		"mouseInput":       {24, map[string]int64{"dx": 0, "dy": 4, "mouseData": 8, "flags": 12, "time": 16, "extraInfo": 20}},
		"keybdInput":       {24, map[string]int64{"vk": 0, "scan": 2, "flags": 4, "time": 8, "extraInfo": 12}},
		"mouseINPUT":       {28, map[string]int64{"typ": 0, "mi": 4}},
		"keybdINPUT":       {28, map[string]int64{"typ": 0, "ki": 4}},
		"bitmapInfoHeader": {40, bihOffsets},
		"bitmapInfo":       {48, map[string]int64{"header": 0, "colors": 40}},
		"bitmap":           {24, map[string]int64{"typ": 0, "width": 4, "height": 8, "widthBytes": 12, "planes": 16, "bitsPixel": 18, "bits": 20}},
		"point":            {8, map[string]int64{"x": 0, "y": 4}},
		"rect":             {16, map[string]int64{"left": 0, "top": 4, "right": 8, "bottom": 12}},
		"cursorInfo":       {20, map[string]int64{"size": 0, "flags": 4, "cursor": 8, "pos": 12}},
		"iconInfo":         {20, map[string]int64{"isIcon": 0, "xHotspot": 4, "yHotspot": 8, "mask": 12, "color": 16}},
		"msg":              {28, map[string]int64{"hwnd": 0, "message": 4, "wParam": 8, "lParam": 12, "time": 16, "pt": 20}},
		"kbdLLHookStruct":  {20, kbdOffsets(16)},
	},
}

func kbdOffsets(extra int64) map[string]int64 {
	return map[string]int64{"vkCode": 0, "scanCode": 4, "flags": 8, "time": 12, "extraInfo": extra}
}

var bihOffsets = map[string]int64{
	"size": 0, "width": 4, "height": 8, "planes": 12, "bitCount": 14, "compression": 16,
	"sizeImage": 20, "xPelsPerMeter": 24, "yPelsPerMeter": 28, "clrUsed": 32, "clrImportant": 36,
}

// TestStructLayoutsPerArch type-checks structs.go as the gc compiler
// would for each Windows architecture and compares every structure with
// the SDK's layout, so 386 and arm64 are checked on any host.
func TestStructLayoutsPerArch(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "structs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "386", "arm64"} {
		sizes := types.SizesFor("gc", arch)
		pkg, err := (&types.Config{Sizes: sizes}).Check("win", fset, []*ast.File{f}, nil)
		if err != nil {
			t.Fatalf("%s: %v", arch, err)
		}
		want := sdkLayouts[int(sizes.Sizeof(types.Typ[types.Uintptr]))]
		for name, l := range want {
			obj := pkg.Scope().Lookup(name)
			if obj == nil {
				t.Errorf("%s: no type %s", arch, name)
				continue
			}
			st := obj.Type().Underlying().(*types.Struct)
			if got := sizes.Sizeof(st); got != l.size {
				t.Errorf("%s: sizeof %s = %d, want %d", arch, name, got, l.size)
			}
			var fields []*types.Var
			for i := range st.NumFields() {
				fields = append(fields, st.Field(i))
			}
			offs := sizes.Offsetsof(fields)
			for i, fv := range fields {
				if fv.Name() == "_" {
					continue
				}
				w, ok := l.offsets[fv.Name()]
				if !ok {
					t.Errorf("%s: %s.%s not in the SDK table", arch, name, fv.Name())
				} else if offs[i] != w {
					t.Errorf("%s: offsetof %s.%s = %d, want %d", arch, name, fv.Name(), offs[i], w)
				}
			}
		}
	}
}

// TestStructLayoutsHost checks the compiled structures themselves under
// the host's GOARCH (run with GOARCH=386 too).
func TestStructLayoutsHost(t *testing.T) {
	want, ok := sdkLayouts[int(unsafe.Sizeof(uintptr(0)))]
	if !ok {
		t.Skip("no table for", runtime.GOARCH)
	}
	var (
		mi  mouseInput
		ki  keybdInput
		min mouseINPUT
		kin keybdINPUT
		bih bitmapInfoHeader
		bi  bitmapInfo
		bm  bitmap
		pt  point
		rc  rect
		ci  cursorInfo
		ii  iconInfo
		m   msg
		kb  kbdLLHookStruct
	)
	for name, got := range map[string]struct {
		size uintptr
		offs map[string]uintptr
	}{
		"mouseInput": {unsafe.Sizeof(mi), map[string]uintptr{"dx": unsafe.Offsetof(mi.dx), "dy": unsafe.Offsetof(mi.dy),
			"mouseData": unsafe.Offsetof(mi.mouseData), "flags": unsafe.Offsetof(mi.flags),
			"time": unsafe.Offsetof(mi.time), "extraInfo": unsafe.Offsetof(mi.extraInfo)}},
		"keybdInput": {unsafe.Sizeof(ki), map[string]uintptr{"vk": unsafe.Offsetof(ki.vk), "scan": unsafe.Offsetof(ki.scan),
			"flags": unsafe.Offsetof(ki.flags), "time": unsafe.Offsetof(ki.time), "extraInfo": unsafe.Offsetof(ki.extraInfo)}},
		"mouseINPUT": {unsafe.Sizeof(min), map[string]uintptr{"typ": unsafe.Offsetof(min.typ), "mi": unsafe.Offsetof(min.mi)}},
		"keybdINPUT": {unsafe.Sizeof(kin), map[string]uintptr{"typ": unsafe.Offsetof(kin.typ), "ki": unsafe.Offsetof(kin.ki)}},
		"bitmapInfoHeader": {unsafe.Sizeof(bih), map[string]uintptr{"size": unsafe.Offsetof(bih.size),
			"width": unsafe.Offsetof(bih.width), "height": unsafe.Offsetof(bih.height), "planes": unsafe.Offsetof(bih.planes),
			"bitCount": unsafe.Offsetof(bih.bitCount), "compression": unsafe.Offsetof(bih.compression),
			"sizeImage": unsafe.Offsetof(bih.sizeImage), "xPelsPerMeter": unsafe.Offsetof(bih.xPelsPerMeter),
			"yPelsPerMeter": unsafe.Offsetof(bih.yPelsPerMeter), "clrUsed": unsafe.Offsetof(bih.clrUsed),
			"clrImportant": unsafe.Offsetof(bih.clrImportant)}},
		"bitmapInfo": {unsafe.Sizeof(bi), map[string]uintptr{"header": unsafe.Offsetof(bi.header), "colors": unsafe.Offsetof(bi.colors)}},
		"bitmap": {unsafe.Sizeof(bm), map[string]uintptr{"typ": unsafe.Offsetof(bm.typ), "width": unsafe.Offsetof(bm.width),
			"height": unsafe.Offsetof(bm.height), "widthBytes": unsafe.Offsetof(bm.widthBytes),
			"planes": unsafe.Offsetof(bm.planes), "bitsPixel": unsafe.Offsetof(bm.bitsPixel), "bits": unsafe.Offsetof(bm.bits)}},
		"point": {unsafe.Sizeof(pt), map[string]uintptr{"x": unsafe.Offsetof(pt.x), "y": unsafe.Offsetof(pt.y)}},
		"rect": {unsafe.Sizeof(rc), map[string]uintptr{"left": unsafe.Offsetof(rc.left), "top": unsafe.Offsetof(rc.top),
			"right": unsafe.Offsetof(rc.right), "bottom": unsafe.Offsetof(rc.bottom)}},
		"cursorInfo": {unsafe.Sizeof(ci), map[string]uintptr{"size": unsafe.Offsetof(ci.size), "flags": unsafe.Offsetof(ci.flags),
			"cursor": unsafe.Offsetof(ci.cursor), "pos": unsafe.Offsetof(ci.pos)}},
		"iconInfo": {unsafe.Sizeof(ii), map[string]uintptr{"isIcon": unsafe.Offsetof(ii.isIcon),
			"xHotspot": unsafe.Offsetof(ii.xHotspot), "yHotspot": unsafe.Offsetof(ii.yHotspot),
			"mask": unsafe.Offsetof(ii.mask), "color": unsafe.Offsetof(ii.color)}},
		"msg": {unsafe.Sizeof(m), map[string]uintptr{"hwnd": unsafe.Offsetof(m.hwnd), "message": unsafe.Offsetof(m.message),
			"wParam": unsafe.Offsetof(m.wParam), "lParam": unsafe.Offsetof(m.lParam),
			"time": unsafe.Offsetof(m.time), "pt": unsafe.Offsetof(m.pt)}},
		"kbdLLHookStruct": {unsafe.Sizeof(kb), map[string]uintptr{"vkCode": unsafe.Offsetof(kb.vkCode),
			"scanCode": unsafe.Offsetof(kb.scanCode), "flags": unsafe.Offsetof(kb.flags),
			"time": unsafe.Offsetof(kb.time), "extraInfo": unsafe.Offsetof(kb.extraInfo)}},
	} {
		l, ok := want[name]
		if !ok {
			t.Errorf("%s not in the SDK table", name)
			continue
		}
		if int64(got.size) != l.size {
			t.Errorf("sizeof %s = %d, want %d", name, got.size, l.size)
		}
		if len(got.offs) != len(l.offsets) {
			t.Errorf("%s: %d fields checked, the table has %d", name, len(got.offs), len(l.offsets))
		}
		for f, o := range got.offs {
			if w, ok := l.offsets[f]; !ok || int64(o) != w {
				t.Errorf("offsetof %s.%s = %d, want %d", name, f, o, w)
			}
		}
	}
	if unsafe.Sizeof(bitmapInfoHeader{}) != sizeofBitmapInfoHeader {
		t.Errorf("sizeof bitmapInfoHeader = %d, want %d", unsafe.Sizeof(bitmapInfoHeader{}), sizeofBitmapInfoHeader)
	}
	// SendInput's cbSize: the one figure the brief insists on.
	wantInput := map[string]uintptr{"amd64": 40, "arm64": 40, "386": 28}[runtime.GOARCH]
	if wantInput != 0 && (unsafe.Sizeof(min) != wantInput || unsafe.Sizeof(kin) != wantInput) {
		t.Errorf("INPUT is %d/%d bytes on %s, want %d", unsafe.Sizeof(min), unsafe.Sizeof(kin), runtime.GOARCH, wantInput)
	}
}
