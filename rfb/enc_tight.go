package rfb

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zlib"
)

// Tight (encoding 7) and TightPNG (-260).
//
// Each rectangle is at most 2048 pixels wide. Its data starts with a
// compression-control byte:
//
//	bits 0-3  reset zlib stream 0..3 before decoding this rectangle
//	          (this encoder never resets a stream: see tightStream)
//	bits 4-7  0sfx  BasicCompression with stream s (bits 4-5); f=bit 6:
//	                a filter-id byte follows (0 copy, 1 palette, 2 gradient)
//	          1000  Fill: one TPIXEL
//	          1001  JPEG: compact length, JFIF data
//	          1010  PNG (TightPNG only): compact length, PNG data
//
// Basic compression: [filter id] [palette: U8 n-1, n TPIXELs] then the
// filtered data; if it is shorter than 12 bytes it is sent as is,
// otherwise as a compact length and the output of the chosen persistent
// zlib stream, sync-flushed. A compact length is 1-3 bytes, 7 bits per
// byte low bits first with bit 7 meaning "more", the third byte holding 8
// bits. TPIXEL is R, G, B when the client's format is 32 bpp true colour,
// depth 24, all maxima 255; otherwise a PIXEL.
//
// TightPNG knows only Fill, JPEG and PNG.
//
// Planning: large uniform areas are cut out of each dirty rectangle as
// Fill rectangles (TigerVNC's 16x16 block search). When the client allows
// JPEG, the rest is cut into photo-like parts, which become JPEG
// rectangles, and the others (enc_tight_plan.go). Every non-JPEG
// subrectangle of at most 65,536 pixels is then analysed: one colour →
// Fill; up to 256 colours → palette (2 colours: 1 bit per pixel); more →
// the gradient filter for smooth content (16/32 bpp, clients that decode
// it) or the copy filter.
//
// Streams: mono data goes through stream 1 and palette data through
// stream 2, at a higher zlib level (small data, and the stream's
// dictionary then holds similar glyphs; mono and palette in one stream
// made a terminal's bytes 13% more). Full colour takes stream 0, and
// streams 0 and 3 in turn for rectangles large enough to compress in
// parallel: a compressor is about 1 MiB, and each stream in use keeps one
// (the photo workload's busy memory, issue 17). A lossless refresh's
// full colour takes stream 3 alone, at its own level (tightRefreshStream).
// The streams are independent and compress in parallel.
// Analysis, filtering, JPEG and PNG also run in parallel across
// subrectangles.

const (
	tightMaxWidth    = 2048
	tightMaxArea     = 65536 // TigerVNC's SubRectMaxArea
	tightMinToZlib   = 12
	tightMaxLength   = 1<<22 - 1
	tightSolidBlock  = 16
	tightMinSolid    = 2048 // smallest area worth a Fill of its own
	tightMinSearch   = 2 * tightMinSolid
	tightJPEGMinArea = 1024 // JPEG's ~600 header bytes do not pay below this
	tightSquare      = 256  // side of a refresh's subrectangles

	tightCtlFill     = 0x80
	tightCtlJPEG     = 0x90
	tightCtlPNG      = 0xA0
	tightCtlFilter   = 0x40
	tightFilterPal   = 1
	tightFilterGrad  = 2
	tightMaxPalette  = 256
	tightParallelMin = 64 * 1024 // pixels (or bytes) before goroutines pay
)

// tightJPEGQuality and tightJPEGSubsampling map QualityLevel 0..9 as
// TigerVNC and TurboVNC's compatibility table do (perf.md).
var (
	tightJPEGQuality     = [10]int{15, 29, 41, 42, 62, 77, 79, 86, 92, 100}
	tightJPEGSubsampling = [10]Subsampling{
		Subsample420, Subsample420, Subsample420, Subsample422, Subsample422,
		Subsample422, Subsample444, Subsample444, Subsample444, Subsample444}
)

// tightZlibLevel maps CompressLevel 0..9 to a klauspost/compress level.
// klauspost's level 1 beats C zlib's level 1 in speed at the same ratio
// (perf.md), so low levels stay at 1 and level 0 is not "store".
var tightZlibLevel = [10]int{1, 1, 2, 3, 4, 5, 6, 7, 8, 9}

// tightIdxZlibLevel is the level for palette and mono data, which is a
// quarter to a thirty-second of full colour's size, so a higher level
// costs little time; TigerVNC also compresses it harder (level 3 where
// full colour gets 2, at its default). klauspost's level 7 makes text
// about as small as C zlib's level 3 (14% smaller than its level 1 on
// the office workload, at a few milliseconds for a screen of text).
var tightIdxZlibLevel = [10]int{1, 3, 7, 7, 7, 7, 8, 8, 9, 9}

// tightRefreshZlibLevel is the least level of full colour in a lossless
// refresh. For BenchmarkPhotoEncode's four 1280x800 photos (klauspost's
// levels, CPU ms a photo · bytes): level 2 29 · 1,545,399; 4 41 ·
// 1,400,392; 6 53 · 1,364,219; 7 141 · 1,314,466. Past 6 the matcher
// changes and the CPU nearly triples for 3.8% fewer bytes, which on a
// 10 Mbit/s link take less time to send (40 ms) than level 7 takes to
// make them smaller (88 ms more), and the CPU is the customer's.
const tightRefreshZlibLevel = 6

// The levels when the client sent no CompressLevel.
const (
	tightDefaultZlibLevel = 1
	tightDefaultIdxLevel  = 7
)

// tightJPEGDefaultQuality applies when a client sent only a subsampling
// pseudo-encoding: libjpeg's default, as TigerVNC leaves it.
const tightJPEGDefaultQuality = 75

type tightKind uint8

const (
	tightKindAnalyse tightKind = iota
	tightKindFill
	tightKindMono
	tightKindPalette
	tightKindCopy
	tightKindGradient
	tightKindJPEG
	tightKindPNG
)

// tightJob is one rectangle of the output.
type tightJob struct {
	r      image.Rectangle
	kind   tightKind
	colour uint32 // Fill colour, 0x00RRGGBB
	head   []byte // filter id and palette
	data   []byte // filtered data, or the JPEG/PNG
	z      []byte // compressed data (slice of a stream's sink)
	stream int    // -1 when no zlib
	err    error
}

// tightParams is what one encode call needs from the update writer.
type tightParams struct {
	conv      *converter
	tpixel3   bool
	tpBytes   int // bytes per TPIXEL
	jpeg      bool
	jpegEnc   JPEGEncoder
	quality   int
	sub       Subsampling
	palMax    int
	gradient  bool
	png       bool
	zlibLevel int  // full colour
	idxLevel  int  // palette and mono
	refresh   bool // a lossless refresh: full colour on tightRefreshStream
}

// streamLevel is the zlib level of stream s: 1 holds mono, 2 palette
// data, 0 and 3 full colour (3 alone in a lossless refresh).
func (p *tightParams) streamLevel(s int) int {
	if s == 1 || s == 2 {
		return p.idxLevel
	}
	return p.zlibLevel
}

// tightStream is one of the four zlib streams. It is a zlib header and
// then one deflate stream for the connection's life, never reset: when
// the level changes, a new compressor continues the same deflate stream
// with the last 32 KiB of what went in as its dictionary, as zlib's
// deflateParams would (TigerVNC does that). A reset would work by the
// protocol, but noVNC's inflater (its copy of pako) loses its window on
// inflateReset and then fails on the first match that reaches into an
// earlier rectangle ("invalid distance too far back").
//
// A compressor takes about 1 MiB, so a stream unused for tightStreamIdle
// encode calls drops its compressor and, when used again, continues the same
// way with a new one and the last 32 KiB as its dictionary.
type tightStream struct {
	fw      *flate.Writer // nil before the first use and after idling
	started bool          // the zlib header went out
	sink    byteSink
	level   int
	hist    []byte // the last tightWindow bytes written
	// used: the stream compressed something in this update; idle:
	// updates since it last did.
	used bool
	idle int
}

// tightFlatePool holds, by level, the compressors streams gave up (idle,
// or at another level for a lossless refresh), shared by the connections.
var tightFlatePool [10]sync.Pool

// newTightFlate returns a compressor at level that writes to w and
// continues after dict, from tightFlatePool if it has one.
func newTightFlate(w io.Writer, level int, dict []byte) (*flate.Writer, error) {
	if fw, _ := tightFlatePool[level].Get().(*flate.Writer); fw != nil {
		fw.ResetDict(w, dict)
		return fw, nil
	}
	return flate.NewWriterDict(w, level, dict)
}

// tightStreamIdle is how many encode calls a stream keeps its compressor
// without using it. An update is one call per dirty rectangle, so this
// is often less than one update; keeping them a second instead made
// fewer new compressors but raised the photo workload's busy memory by
// 2-4 MiB (issue 17).
const tightStreamIdle = 4

const tightWindow = 32 << 10

type byteSink struct{ b []byte }

// countWriter counts the bytes written to it.
type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}

// trialSize is how many bytes a fresh zlib stream at level 1 makes of b:
// an estimate of what the connection's stream would send (which knows
// earlier rectangles and so does a little better).
func trialSize(b []byte) (int, error) {
	t, _ := tightTrialPool.Get().(*tightTrial)
	if t == nil {
		t = new(tightTrial)
		zw, err := zlib.NewWriterLevel(&t.out, 1)
		if err != nil {
			return 0, err
		}
		t.zw = zw
	} else {
		t.zw.Reset(&t.out)
	}
	defer tightTrialPool.Put(t)
	t.out.n = 0
	if _, err := t.zw.Write(b); err != nil {
		return 0, err
	}
	if err := t.zw.Flush(); err != nil {
		return 0, err
	}
	return t.out.n, nil
}

// tightEntropyMargin (in tenths) is how much more than the JPEG's
// allowance a full-colour job's estimated size (tightEstimateSize) must
// be for analyseJPEG to keep the JPEG without a zlib trial. On the
// lomiri wallpapers at 1280x800, 1920x1080 and 700x500 (1,074
// full-colour trials, 19.8 MB) the estimate is 0.41-0.97 of level 1's
// size, and with this margin 893 trials (93% of the data) are skipped,
// none of which the trial would have made lossless.
const tightEntropyMargin = 11

// tightEstimateSize is a quick estimate of what zlib makes of b, from
// below: the bytes no match covers (tightMatches) at b's order-0 entropy
// (tightEntropySize), and each match at tightMatchBits or what its bytes
// would cost as literals, whichever is less. On a photo's gradient
// residuals, where zlib finds few matches that pay, it is close; on a
// drawn gradient's, which repeat, it is far below.
func tightEstimateSize(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	bits := float64(tightEntropySize(b)) * 8 / float64(len(b)) // a byte
	// The matches of the first tightMatchSample bytes stand for all.
	sample := b[:min(len(b), tightMatchSample)]
	covered, matches := tightMatches(sample)
	covered, matches = covered*len(b)/len(sample), matches*len(b)/len(sample)
	est := float64(len(b)-covered) * bits
	if perMatch := float64(covered) / float64(max(1, matches)) * bits; perMatch > tightMatchBits {
		est += float64(matches) * tightMatchBits
	} else {
		est += float64(covered) * bits
	}
	return int(est / 8)
}

// tightMatchSample is how much of the data tightEstimateSize looks for
// matches in: a sixth of a smooth 256x256 job's trial band.
const tightMatchSample = 8 << 10

// tightMatchBits is about the least a deflate match costs: a byte when
// its length and distance repeat (a drawn gradient's do).
const tightMatchBits = 8

// tightEntropySize is the size in bytes of b coded at its order-0
// entropy: what zlib's Huffman codes make of b without matches.
func tightEntropySize(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	// Four histograms, so that runs of a byte do not wait on one counter.
	var h [4][256]uint32
	i := 0
	for ; i+4 <= len(b); i += 4 {
		h[0][b[i]]++
		h[1][b[i+1]]++
		h[2][b[i+2]]++
		h[3][b[i+3]]++
	}
	for ; i < len(b); i++ {
		h[0][b[i]]++
	}
	// n·log2(n) - Σ c·log2(c) bits.
	n := float64(len(b))
	bits := n * math.Log2(n)
	for v := range 256 {
		if c := float64(h[0][v] + h[1][v] + h[2][v] + h[3][v]); c > 0 {
			bits -= c * math.Log2(c)
		}
	}
	return int(bits / 8)
}

// tightMatches is how many bytes of b a greedy match finder covers, and
// with how many matches of 4 to 258 bytes within deflate's window: a
// hash table of the last position of each 4 bytes, which steps faster
// and faster while it finds nothing, as zlib's fast levels do (so it may
// miss some matches in data that has few).
func tightMatches(b []byte) (covered, matches int) {
	var table [1 << 12]int32 // position+1 of the last 4 bytes with this hash
	misses := 0
	for i := 0; i+4 <= len(b); {
		v := binary.LittleEndian.Uint32(b[i:])
		h := (v * 0x9E3779B1) >> 20
		c := int(table[h]) - 1
		table[h] = int32(i + 1)
		if c < 0 || i-c > tightWindow || binary.LittleEndian.Uint32(b[c:]) != v {
			misses++
			i += 1 + misses>>5
			continue
		}
		n := 4
		for n < 258 && i+n < len(b) && b[c+n] == b[i+n] {
			n++
		}
		covered += n
		matches++
		i += n
		misses = 0
	}
	return covered, matches
}

// tightTrial is a trial compressor (about 1 MiB) and what counts its output.
type tightTrial struct {
	zw  *zlib.Writer
	out countWriter
}

// tightTrialPool holds the trial compressors, shared by every
// connection's workers rather than one kept per worker.
var tightTrialPool sync.Pool

func (s *byteSink) Write(p []byte) (int, error) {
	s.b = append(s.b, p...)
	return len(p), nil
}

// tightScratch is one worker's scratch space.
type tightScratch struct {
	trial    tightJob
	pal      tightPalette
	row, up  []uint32
	zero     []byte
	pngImg   image.RGBA
	pngPal   image.Paletted
	pngOut   bytes.Buffer
	pngCodec png.Encoder
}

type tightEncoder struct {
	png      bool
	planJPEG bool // plan photo-like areas as JPEG
	// planGradient: the client decodes the gradient filter, which beats
	// JPEG on drawn gradients
	planGradient bool
	// square: split into squares rather than rows (a lossless refresh)
	square  bool
	grid    []bool
	tiles   tightTileScratch
	streams [4]tightStream
	next    int // stream for the next zlib rectangle
	jobs    []tightJob
	batch   int // pixels of jobs per batch; 0: the default
	scratch []*tightScratch
}

func newTightEncoder(png bool) *tightEncoder {
	return &tightEncoder{png: png}
}

func (e *tightEncoder) params(u *updateWriter) *tightParams {
	pf := u.conv.pf
	p := &tightParams{conv: u.conv, png: e.png, zlibLevel: tightDefaultZlibLevel, idxLevel: tightDefaultIdxLevel, jpegEnc: u.jpeg}
	if p.jpegEnc == nil {
		p.jpegEnc = defaultJPEG
	}
	p.tpixel3 = pf.TrueColour && pf.BPP == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255
	p.tpBytes = u.conv.bpp
	if p.tpixel3 {
		p.tpBytes = 3
	}
	// As TigerVNC: any of the quality pseudo-encodings allows JPEG; the
	// fine settings override the level's. JPEG needs 16 bpp or more.
	level := u.quality >= 0 && u.quality <= 9
	if !u.lossless && u.conv.bpp >= 2 && pf.TrueColour && (level || u.fineQuality > 0 || u.subsamplingSet) {
		p.jpeg, p.quality, p.sub = true, tightJPEGDefaultQuality, Subsample420
		if level {
			p.quality, p.sub = tightJPEGQuality[u.quality], tightJPEGSubsampling[u.quality]
		}
		if u.fineQuality > 0 {
			p.quality = u.fineQuality
		}
		if u.subsamplingSet {
			p.sub = u.subsampling
		}
	}
	if c := u.compress; c >= 0 && c <= 9 {
		p.zlibLevel, p.idxLevel = tightZlibLevel[c], tightIdxZlibLevel[c]
	}
	if u.lossless {
		// A lossless refresh goes out when the screen is still, and is
		// mostly photo: level 6 makes it 12% smaller than level 2 for
		// 1.8 times the time.
		p.zlibLevel = max(p.zlibLevel, tightRefreshZlibLevel)
		p.refresh = true
	}
	p.palMax = tightMaxPalette
	p.gradient = u.conv.bpp >= 2 && !u.noGradient
	return p
}

func (e *tightEncoder) encode(u *updateWriter, img *Image, r image.Rectangle) error {
	r = r.Intersect(img.Bounds())
	if r.Empty() {
		return nil
	}
	p := e.params(u)
	e.jobs = e.jobs[:0]
	e.planJPEG, e.planGradient, e.square = p.jpeg, p.gradient, u.lossless
	e.planArea(img, r)

	// The jobs go through analysis, compression and assembly in batches
	// of a bounded area, so a large area does not hold every job's
	// filtered data and compressed output at once. The streams see the
	// same data in the same order either way, so the bytes are the same.
	all := e.jobs
	batch := e.batch
	if batch == 0 {
		batch = max(tightBatchJobs, 2*runtime.GOMAXPROCS(0)) * tightMaxArea
	}
	for start := 0; start < len(all); {
		end, area := start, 0
		for end < len(all) && area < batch {
			if all[end].kind != tightKindFill {
				area += all[end].r.Dx() * all[end].r.Dy()
			}
			end++
		}
		e.jobs = all[start:end]
		start = end
		if err := e.encodeJobs(u, img, p); err != nil {
			e.release()
			e.jobs = all
			return err
		}
	}
	e.jobs = all
	e.release()
	return nil
}

// encodeJobs analyses, compresses and appends the jobs of one batch,
// in order.
func (e *tightEncoder) encodeJobs(u *updateWriter, img *Image, p *tightParams) error {
	for i := range e.jobs {
		if j := &e.jobs[i]; j.kind != tightKindFill && j.data == nil {
			j.data = tightBufPool.Get().(*tightBuf).b
		}
	}
	// Analyse, filter, JPEG/PNG: independent per job.
	e.forEachJob(img, p)
	for i := range e.jobs {
		if err := e.jobs[i].err; err != nil {
			return err
		}
	}
	if err := e.compress(p); err != nil {
		return err
	}
	for i := range e.jobs {
		if e.jobs[i].kind == tightKindJPEG {
			u.lossy = append(u.lossy, e.jobs[i].r)
		}
	}
	e.assemble(u, p)
	e.putData()
	return nil
}

// tightBatchJobs is how many full-size jobs (tightMaxArea) a batch holds
// at least; more with more CPUs, so that every CPU has work. Each job in
// flight holds its filtered data (up to 256 KiB) and its output, so a
// batch is kept small.
const tightBatchJobs = 4

// tightBuf is a buffer of tightBufPool.
type tightBuf struct{ b []byte }

// tightBufPool holds the buffers of the jobs' filtered data and of the
// streams' output between updates, shared by the connections: a
// connection keeps none of them while it waits, and the runtime frees
// them when all connections are idle.
var tightBufPool = sync.Pool{New: func() any { return new(tightBuf) }}

// tightBufMax is the largest buffer put back into tightBufPool: one job
// needs at most a few hundred KiB.
const tightBufMax = 1 << 20

func putTightBuf(b []byte) {
	if b != nil && cap(b) <= tightBufMax {
		tightBufPool.Put(&tightBuf{b[:0]})
	}
}

// putData gives the jobs' data buffers back to tightBufPool.
func (e *tightEncoder) putData() {
	for i := range e.jobs {
		j := &e.jobs[i]
		putTightBuf(j.data)
		j.data, j.z = nil, nil
	}
}

// release ends an encode call: the jobs' and streams' buffers go back
// to tightBufPool, and the compressor of a stream unused for
// tightStreamIdle calls is dropped.
func (e *tightEncoder) release() {
	e.putData()
	for s := range e.streams {
		st := &e.streams[s]
		putTightBuf(st.sink.b)
		st.sink.b = nil
		if st.fw == nil {
			continue
		}
		if st.used {
			st.used, st.idle = false, 0
			continue
		}
		if st.idle++; st.idle >= tightStreamIdle {
			tightFlatePool[st.level].Put(st.fw)
			st.fw, st.idle = nil, 0
		}
	}
}

// forEachJob runs analyse on every job, on all CPUs when there is enough work.
func (e *tightEncoder) forEachJob(img *Image, p *tightParams) {
	area := 0
	for i := range e.jobs {
		if e.jobs[i].kind == tightKindAnalyse {
			area += e.jobs[i].r.Dx() * e.jobs[i].r.Dy()
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(e.jobs), area/tightParallelMin)
	for len(e.scratch) < max(workers, 1) {
		e.scratch = append(e.scratch, new(tightScratch))
	}
	if workers <= 1 {
		for i := range e.jobs {
			e.analyse(&e.jobs[i], img, p, e.scratch[0])
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		s := e.scratch[w]
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(e.jobs) {
					return
				}
				e.analyse(&e.jobs[i], img, p, s)
			}
		})
	}
	wg.Wait()
}

// compress runs the zlib rectangles through the streams, taking the
// streams in turn; the streams run in parallel with each other.
func (e *tightEncoder) compress(p *tightParams) error {
	var per [4]int
	total := 0
	for i := range e.jobs {
		j := &e.jobs[i]
		j.stream = -1
		switch j.kind {
		case tightKindMono, tightKindPalette, tightKindCopy, tightKindGradient:
			if len(j.data) >= tightMinToZlib {
				switch j.kind {
				case tightKindMono:
					j.stream = 1
				case tightKindPalette:
					j.stream = 2
				default:
					if p.refresh {
						j.stream = tightRefreshStream
						break
					}
					if len(j.data) < tightParallelMin || e.refreshing(p) {
						j.stream = 0 // not worth a second compressor
						break
					}
					// Full colour is most of the work: two streams.
					j.stream = e.next
					e.next ^= 3
				}
				per[j.stream]++
				total += len(j.data)
			}
		}
	}
	used := 0
	for s := range 4 {
		if per[s] > 0 {
			used++
		}
	}
	var errs [4]error
	if used <= 1 || total < tightParallelMin || runtime.GOMAXPROCS(0) == 1 {
		for s := range 4 {
			if per[s] > 0 {
				errs[s] = e.runStream(s, p.streamLevel(s))
			}
		}
	} else {
		var wg sync.WaitGroup
		for s := range 4 {
			if per[s] > 0 {
				wg.Go(func() { errs[s] = e.runStream(s, p.streamLevel(s)) })
			}
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// tightRefreshStream holds a lossless refresh's full colour, alone: a
// refresh on a slow link goes out in pieces between other updates, at
// tightRefreshZlibLevel where they use the client's level, and a stream
// that changed level for each would make a new compressor each time
// (one is about 1 MiB, and making one costs 2-4 ms). Its compressor goes
// tightStreamIdle encode calls after the refresh ends. A refresh's full colour then
// compresses on one CPU rather than two, when the screen is still.
const tightRefreshStream = 3

// refreshing reports whether tightRefreshStream keeps a refresh's
// compressor, at a level other than this update's: the update's full
// colour then stays on stream 0.
func (e *tightEncoder) refreshing(p *tightParams) bool {
	st := &e.streams[tightRefreshStream]
	return st.fw != nil && st.level != p.streamLevel(tightRefreshStream)
}

// runStream compresses, in order, the jobs assigned to stream s.
func (e *tightEncoder) runStream(s, level int) error {
	st := &e.streams[s]
	st.used = true
	if st.sink.b == nil {
		st.sink.b = tightBufPool.Get().(*tightBuf).b
	}
	st.sink.b = st.sink.b[:0]
	if st.fw == nil || st.level != level {
		if !st.started {
			// The zlib header: deflate, 32 KiB window, no dictionary.
			st.sink.b = append(st.sink.b, 0x78, 0x01)
			st.started = true
		}
		// The compressor at the other level is let go, not pooled: a
		// level changes for a lossless refresh and back, seconds apart,
		// and a pooled compressor would stay alive past a few
		// collections beside the new one.
		fw, err := newTightFlate(&st.sink, level, st.hist)
		if err != nil {
			return err
		}
		st.fw, st.level = fw, level
	}
	first := true
	for i := range e.jobs {
		j := &e.jobs[i]
		if j.stream != s {
			continue
		}
		start := len(st.sink.b)
		if first {
			start, first = 0, false // with the header at the stream's start
		}
		if _, err := st.fw.Write(j.data); err != nil {
			return err
		}
		if err := st.fw.Flush(); err != nil {
			return err
		}
		j.z = st.sink.b[start:len(st.sink.b):len(st.sink.b)]
		st.remember(j.data)
	}
	return nil
}

// remember keeps the last tightWindow bytes that went into the stream,
// the dictionary for a compressor at another level.
func (st *tightStream) remember(b []byte) {
	if len(b) >= tightWindow {
		st.hist = append(st.hist[:0], b[len(b)-tightWindow:]...)
		return
	}
	if keep := tightWindow - len(b); len(st.hist) > keep {
		st.hist = append(st.hist[:0], st.hist[len(st.hist)-keep:]...)
	}
	st.hist = append(st.hist, b...)
}

// assemble appends the rectangles in job order.
func (e *tightEncoder) assemble(u *updateWriter, p *tightParams) {
	enc := EncTight
	if e.png {
		enc = EncTightPNG
	}
	// One allocation for a large update (a photo's JPEG rectangles are
	// hundreds of KiB) rather than a chain of doublings.
	n := 0
	for i := range e.jobs {
		j := &e.jobs[i]
		n += 20 + len(j.head) + max(len(j.data), len(j.z)) // header, control, length or pixel
	}
	u.buf = slices.Grow(u.buf, n)
	for i := range e.jobs {
		j := &e.jobs[i]
		u.rect(j.r, enc)
		switch j.kind {
		case tightKindFill:
			u.buf = append(u.buf, tightCtlFill)
			u.buf = p.appendTPixel(u.buf, j.colour)
		case tightKindJPEG, tightKindPNG:
			ctl := byte(tightCtlJPEG)
			if j.kind == tightKindPNG {
				ctl = tightCtlPNG
			}
			u.buf = append(u.buf, ctl)
			u.buf = appendCompactLength(u.buf, len(j.data))
			u.buf = append(u.buf, j.data...)
		default:
			ctl := byte(0)
			if j.stream >= 0 {
				ctl |= byte(j.stream) << 4
			}
			if len(j.head) > 0 {
				ctl |= tightCtlFilter
			}
			u.buf = append(u.buf, ctl)
			u.buf = append(u.buf, j.head...)
			if j.stream < 0 {
				u.buf = append(u.buf, j.data...)
			} else {
				u.buf = appendCompactLength(u.buf, len(j.z))
				u.buf = append(u.buf, j.z...)
			}
		}
	}
}

// appendCompactLength appends n (< 2^22) in Tight's 1-3 byte form.
func appendCompactLength(b []byte, n int) []byte {
	switch {
	case n < 1<<7:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n)|0x80, byte(n>>7))
	}
	return append(b, byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14))
}

// appendTPixel appends 0x00RRGGBB as a TPIXEL.
func (p *tightParams) appendTPixel(b []byte, rgb uint32) []byte {
	if p.tpixel3 {
		return append(b, byte(rgb>>16), byte(rgb>>8), byte(rgb))
	}
	return p.conv.appendPixel(b, p.conv.pixelRGB(rgb))
}

// Planning: solid areas and splitting.

func (e *tightEncoder) addJob(r image.Rectangle, kind tightKind, colour uint32) {
	if len(e.jobs) < cap(e.jobs) {
		e.jobs = e.jobs[:len(e.jobs)+1]
	} else {
		e.jobs = append(e.jobs, tightJob{})
	}
	j := &e.jobs[len(e.jobs)-1]
	j.r, j.kind, j.colour, j.head, j.err, j.z = r, kind, colour, j.head[:0], nil, nil
	j.data = j.data[:0]
}

// addSplit adds r as subrectangles at most tightMaxWidth wide and
// tightMaxArea in area, to be analysed: rows as wide as r, or in a
// lossless refresh squares of tightSquare. The refresh is of photos,
// which take the gradient filter, and the filter predicts a
// subrectangle's first row and column from zeros: they cost about three
// times a pixel inside, so 256x256 squares make a 1080p photo 3.5%
// smaller than 1920x34 rows do.
func (e *tightEncoder) addSplit(r image.Rectangle) {
	cols := (r.Dx() + tightMaxWidth - 1) / tightMaxWidth
	w := (r.Dx() + cols - 1) / cols
	if e.square && r.Dx() > tightSquare && r.Dy() > tightSquare {
		cols = (r.Dx() + tightSquare - 1) / tightSquare
		w = (r.Dx() + cols - 1) / cols
	}
	rows := max(1, tightMaxArea/w)
	for y := r.Min.Y; y < r.Max.Y; y += rows {
		for x := r.Min.X; x < r.Max.X; x += w {
			e.addJob(image.Rect(x, y, min(x+w, r.Max.X), min(y+rows, r.Max.Y)), tightKindAnalyse, 0)
		}
	}
}

// addFill adds the uniform area r, in columns at most tightMaxWidth wide.
func (e *tightEncoder) addFill(r image.Rectangle, colour uint32) {
	for x := r.Min.X; x < r.Max.X; x += tightMaxWidth {
		e.addJob(image.Rect(x, r.Min.Y, min(x+tightMaxWidth, r.Max.X), r.Max.Y), tightKindFill, colour)
	}
}

// planArea cuts the big uniform areas out of r as Fill jobs and splits
// the rest. It scans 16x16 blocks; at the first uniform block it grows
// the best uniform area it can, and if that is big enough it sends it as
// a Fill and plans the left, right and lower remainders recursively (the
// rows above were scanned already).
func (e *tightEncoder) planArea(img *Image, r image.Rectangle) {
	if r.Dx()*r.Dy() < tightMinSearch {
		if !r.Empty() {
			e.planRest(img, r)
		}
		return
	}
	for by := r.Min.Y; by < r.Max.Y; by += tightSolidBlock {
		for bx := r.Min.X; bx < r.Max.X; bx += tightSolidBlock {
			b := image.Rect(bx, by, bx+tightSolidBlock, by+tightSolidBlock).Intersect(r)
			c := img.RGB(b.Min.X, b.Min.Y)
			if !tightUniform(img, b, c) {
				continue
			}
			sa := tightGrowSolid(img, r, b, c)
			if sa.Dx()*sa.Dy() < tightMinSolid {
				continue
			}
			if sa.Min.Y > r.Min.Y {
				e.planRest(img, image.Rect(r.Min.X, r.Min.Y, r.Max.X, sa.Min.Y))
			}
			e.planArea(img, image.Rect(r.Min.X, sa.Min.Y, sa.Min.X, sa.Max.Y))
			e.addFill(sa, c)
			e.planArea(img, image.Rect(sa.Max.X, sa.Min.Y, r.Max.X, sa.Max.Y))
			e.planArea(img, image.Rect(r.Min.X, sa.Max.Y, r.Max.X, r.Max.Y))
			return
		}
	}
	e.planRest(img, r)
}

// planRest plans an area without big uniform parts.
func (e *tightEncoder) planRest(img *Image, r image.Rectangle) {
	if e.planJPEG {
		e.planLossy(img, r)
		return
	}
	e.addSplit(r)
}

// tightGrowSolid finds the largest area of colour c made of whole blocks that
// starts at block b and extends right and down inside r, then extends it
// pixel by pixel in all four directions.
func tightGrowSolid(img *Image, r, b image.Rectangle, c uint32) image.Rectangle {
	best := b
	bestArea := 0
	maxW := min(r.Max.X-b.Min.X, tightMaxWidth)
	for y := b.Min.Y; y < r.Max.Y; y += tightSolidBlock {
		y1 := min(y+tightSolidBlock, r.Max.Y)
		w := 0
		for x := b.Min.X; x < b.Min.X+maxW; x += tightSolidBlock {
			blk := image.Rect(x, y, min(x+tightSolidBlock, b.Min.X+maxW), y1)
			if !tightUniform(img, blk, c) {
				break
			}
			w = blk.Max.X - b.Min.X
		}
		if w == 0 {
			break
		}
		maxW = w
		if a := w * (y1 - b.Min.Y); a > bestArea {
			bestArea = a
			best = image.Rect(b.Min.X, b.Min.Y, b.Min.X+w, y1)
		}
	}
	for best.Min.Y > r.Min.Y && tightUniform(img, image.Rect(best.Min.X, best.Min.Y-1, best.Max.X, best.Min.Y), c) {
		best.Min.Y--
	}
	for best.Max.Y < r.Max.Y && tightUniform(img, image.Rect(best.Min.X, best.Max.Y, best.Max.X, best.Max.Y+1), c) {
		best.Max.Y++
	}
	for best.Min.X > r.Min.X && best.Dx() < tightMaxWidth && tightUniform(img, image.Rect(best.Min.X-1, best.Min.Y, best.Min.X, best.Max.Y), c) {
		best.Min.X--
	}
	for best.Max.X < r.Max.X && best.Dx() < tightMaxWidth && tightUniform(img, image.Rect(best.Max.X, best.Min.Y, best.Max.X+1, best.Max.Y), c) {
		best.Max.X++
	}
	return best
}

// tightUniform reports whether every pixel of r has colour c (0x00RRGGBB),
// ignoring the padding byte; it compares two pixels at a time.
func tightUniform(img *Image, r image.Rectangle, c uint32) bool {
	const mask2 = 0x00ffffff00ffffff
	want2 := uint64(c)&0xffffff | uint64(c&0xffffff)<<32
	n := r.Dx() * 4
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][:n:n]
		i := 0
		for ; i+8 <= len(row); i += 8 {
			if binary.LittleEndian.Uint64(row[i:])&mask2 != want2 {
				return false
			}
		}
		if i < len(row) && binary.LittleEndian.Uint32(row[i:])&0xffffff != c {
			return false
		}
	}
	return true
}

// Analysis and filtering.

// tightPalette maps colours to indices with open addressing.
type tightPalette struct {
	keys    [1024]uint32 // colour+1; 0 is empty
	idx     [1024]uint8
	colours [tightMaxPalette]uint32
	n       int
}

// index returns c's palette index, adding it if there is room, or -1.
func (p *tightPalette) index(c uint32, limit int) int {
	h := (c * 0x9E3779B1) >> 22
	for {
		k := p.keys[h]
		if k == c+1 {
			return int(p.idx[h])
		}
		if k == 0 {
			if p.n >= limit {
				return -1
			}
			p.keys[h], p.idx[h] = c+1, uint8(p.n)
			p.colours[p.n] = c
			p.n++
			return p.n - 1
		}
		h = (h + 1) & 1023
	}
}

// indexRect writes r's palette indices to dst and returns the number of
// colours, or 0 if there are more than limit. The last two colours are
// remembered, which covers runs and 2-colour text without hashing.
func (p *tightPalette) indexRect(dst []byte, img *Image, r image.Rectangle, limit int) ([]byte, int) {
	if out, n := p.indexTwo(dst, img, r); n > 0 {
		return out, n
	}
	clear(p.keys[:])
	p.n = 0
	w := r.Dx()
	area := w * r.Dy()
	dst = grow(dst, area)
	out := dst[len(dst) : len(dst)+area]
	last, lastIdx := ^uint32(0), byte(0)
	prev, prevIdx := ^uint32(0), byte(0)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		o := out[(y-r.Min.Y)*w:][:w:w]
		for x := range o {
			c := binary.LittleEndian.Uint32(row[x*4:]) & 0xffffff
			if c != last {
				if c == prev {
					last, prev, lastIdx, prevIdx = prev, last, prevIdx, lastIdx
				} else {
					k := p.index(c, limit)
					if k < 0 {
						return dst, 0
					}
					prev, prevIdx = last, lastIdx
					last, lastIdx = c, byte(k)
				}
			}
			o[x] = lastIdx
		}
	}
	return dst[:len(dst)+area], p.n
}

// indexTwo is indexRect for at most two colours, without branches that
// depend on the pixels (text alternates unpredictably); it returns 0 as
// soon as it meets a third colour.
func (p *tightPalette) indexTwo(dst []byte, img *Image, r image.Rectangle) ([]byte, int) {
	w := r.Dx()
	area := w * r.Dy()
	dst = grow(dst, area)
	out := dst[len(dst) : len(dst)+area]
	c0 := binary.LittleEndian.Uint32(img.Pix[r.Min.Y*img.Stride+r.Min.X*4:]) & 0xffffff
	c1 := c0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		o := out[(y-r.Min.Y)*w:][:w:w]
		for x := range o {
			c := binary.LittleEndian.Uint32(row[x*4:]) & 0xffffff
			// Neither c0 nor c1: the product of two 24-bit values is
			// zero only if one is, and it costs no data-dependent branch.
			if uint64(c^c0)*uint64(c^c1) != 0 {
				if c1 != c0 {
					return dst, 0
				}
				c1 = c
			}
			var k byte
			if c != c0 {
				k = 1
			}
			o[x] = k
		}
	}
	p.colours[0], p.colours[1], p.n = c0, c1, 2
	if c1 == c0 {
		p.n = 1
	}
	return dst[:len(dst)+area], p.n
}

func (e *tightEncoder) analyse(j *tightJob, img *Image, p *tightParams, s *tightScratch) {
	switch j.kind {
	case tightKindAnalyse:
		analyseLossless(j, img, p, s)
	case tightKindJPEG:
		analyseJPEG(j, img, p, s)
	}
}

// analyseJPEG compresses a photo-like job with JPEG, and keeps the
// lossless encoding instead when the JPEG is large and the lossless one
// hardly larger (see enc_tight_plan.go).
func analyseJPEG(j *tightJob, img *Image, p *tightParams, s *tightScratch) {
	r := j.r
	area := r.Dx() * r.Dy()
	j.data, j.err = p.jpegEnc.AppendJPEG(j.data[:0], img, r, p.quality, p.sub)
	if j.err != nil {
		return
	}
	if len(j.data) > tightMaxLength {
		// Cannot happen at tightMaxArea pixels; kept as a guard.
		j.kind = tightKindAnalyse
		analyseLossless(j, img, p, s)
		return
	}
	big := len(j.data) > area*tightTrialBytesPer
	if !big && !(p.gradient && tightMeanError(img, r) < tightSmoothError) {
		return
	}
	// A smooth job is tried on a band across its middle, a quarter of
	// its rows, which tells a drawn gradient (next to nothing) from a
	// soft photo (several times its JPEG) for a quarter of the work.
	tr := r
	if !big && r.Dy() >= 32 {
		band := r.Dy() / 4
		tr.Min.Y = r.Min.Y + (r.Dy()-band)/2
		tr.Max.Y = tr.Min.Y + band
	}
	t := &s.trial
	t.r, t.kind, t.head, t.data, t.err = tr, tightKindAnalyse, t.head[:0], t.data[:0], nil
	analyseLossless(t, img, p, s)
	if t.err != nil {
		return
	}
	scale := func(n int) int {
		if tr != r {
			return n * area / (tr.Dx() * tr.Dy())
		}
		return n
	}
	size := len(t.data)
	switch t.kind {
	case tightKindFill, tightKindPNG:
	case tightKindGradient, tightKindCopy:
		// Full colour is most of the trials' data, and mostly a
		// photo's, which zlib makes about as small as its order-0
		// entropy. When even an estimate from below is clearly more
		// than the JPEG may lose to, the trial would keep the JPEG too.
		if size >= tightMinToZlib && (scale(tightEstimateSize(t.data))+len(t.head))*4*10 > len(j.data)*5*tightEntropyMargin {
			return
		}
		fallthrough
	default:
		if size >= tightMinToZlib {
			n, err := trialSize(t.data)
			if err != nil {
				return
			}
			size = n
		}
	}
	size = scale(size)
	if (size+len(t.head))*4 <= len(j.data)*5 {
		if tr != r {
			t.r, t.kind, t.head, t.data, t.err = r, tightKindAnalyse, t.head[:0], t.data[:0], nil
			if analyseLossless(t, img, p, s); t.err != nil {
				return
			}
		}
		j.kind, j.colour = t.kind, t.colour
		j.head, t.head = t.head, j.head
		j.data, t.data = t.data, j.data
	}
}

// analyseLossless chooses and applies a lossless subencoding.
func analyseLossless(j *tightJob, img *Image, p *tightParams, s *tightScratch) {
	r := j.r
	w, h := r.Dx(), r.Dy()
	area := w * h
	limit := min(p.palMax, max(2, area/2))
	var n int
	j.data, n = s.pal.indexRect(j.data[:0], img, r, limit)
	switch {
	case n == 1:
		j.kind, j.colour = tightKindFill, s.pal.colours[0]
		return
	case n >= 2 && p.png:
		j.kind = tightKindPNG
		j.data, j.err = s.appendPNG(j.data, img, r, &s.pal) // j.data holds the indices
		return
	case n == 2:
		j.kind = tightKindMono
		j.head = append(j.head, tightFilterPal, 1)
		j.head = p.appendTPixel(j.head, s.pal.colours[0])
		j.head = p.appendTPixel(j.head, s.pal.colours[1])
		j.data = tightPackMono(j.data[:0], j.data, w, h) // in place
		return
	case n > 2:
		j.kind = tightKindPalette
		j.head = append(j.head, tightFilterPal, byte(n-1))
		for _, c := range s.pal.colours[:n] {
			j.head = p.appendTPixel(j.head, c)
		}
		return
	case p.png:
		j.kind = tightKindPNG
		j.data, j.err = s.appendPNG(j.data[:0], img, r, nil)
		return
	case p.gradient && tightSmooth(img, r):
		j.kind = tightKindGradient
		j.head = append(j.head, tightFilterGrad)
		j.data = p.appendGradient(j.data[:0], img, r, s)
		return
	}
	j.kind = tightKindCopy
	j.data = p.appendCopy(j.data[:0], img, r)
}

// tightPackMono packs 0/1 indices into rows of bits, most significant first,
// each row padded to a byte. dst may share idx's memory: every byte is
// written at or before the position of the indices it packs.
func tightPackMono(dst, idx []byte, w, h int) []byte {
	rowBytes := (w + 7) / 8
	dst = grow(dst, rowBytes*h)
	out := dst[len(dst) : len(dst)+rowBytes*h]
	for y := range h {
		row := idx[y*w : y*w+w]
		o := out[y*rowBytes : (y+1)*rowBytes]
		x := 0
		for ; x+8 <= w; x += 8 {
			b := row[x : x+8 : x+8]
			o[x/8] = b[0]<<7 | b[1]<<6 | b[2]<<5 | b[3]<<4 | b[4]<<3 | b[5]<<2 | b[6]<<1 | b[7]
		}
		if x < w {
			var v byte
			for i := x; i < w; i++ {
				v |= row[i] << (7 - uint(i-x))
			}
			o[x/8] = v
		}
	}
	return dst[:len(dst)+rowBytes*h]
}

func (p *tightParams) appendCopy(dst []byte, img *Image, r image.Rectangle) []byte {
	if !p.tpixel3 {
		return p.conv.appendRect(dst, img, r)
	}
	w := r.Dx()
	dst = grow(dst, w*r.Dy()*3)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		o := len(dst)
		dst = dst[:o+w*3]
		out := dst[o:]
		for i := 0; i < w; i++ {
			out[i*3], out[i*3+1], out[i*3+2] = row[i*4+2], row[i*4+1], row[i*4]
		}
	}
	return dst
}

// tightSmooth guesses whether the gradient filter will help, from the
// gradient predictor's mean error on sampled rows. On smooth content
// (gradients, photos) it makes zlib's input mostly small numbers and
// halves the output or better; on flat content with sharp edges it does
// no harm; only on noise is it wasted work, so noise-like content, with a
// mean error of tightSmoothMax or more per channel, keeps the copy filter.
func tightSmooth(img *Image, r image.Rectangle) bool {
	return tightMeanError(img, r) < tightSmoothMax
}

// tightMeanError is the gradient predictor's mean error per colour
// component on up to 8 rows of r (255 when r is too small to tell).
func tightMeanError(img *Image, r image.Rectangle) int {
	w, h := r.Dx(), r.Dy()
	if w < 4 || h < 4 {
		return 255
	}
	step := max(1, h/8)
	var resid, n int
	for y := r.Min.Y + 1; y < r.Max.Y; y += step {
		row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		up := img.Pix[(y-1)*img.Stride+r.Min.X*4:][: w*4 : w*4]
		resid += gradientError(row, up)
		n += 3 * (w - 1)
	}
	return resid / n
}

const tightSmoothMax = 20

func tightAbs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// appendGradient applies the gradient filter: each colour component is
// predicted as left + above - above-left, clamped to 0..max, and the
// difference modulo max+1 is sent. Outside the rectangle values are 0.
func (p *tightParams) appendGradient(dst []byte, img *Image, r image.Rectangle, s *tightScratch) []byte {
	w := r.Dx()
	if p.tpixel3 {
		dst = grow(dst, w*r.Dy()*3)
		if cap(s.zero) < w*4 {
			s.zero = make([]byte, w*4)
		}
		up := s.zero[:w*4]
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
			o := len(dst)
			dst = dst[:o+w*3]
			gradientRow24(dst[o:o+w*3], row, up)
			up = row
		}
		return dst
	}
	// General 16/32 bpp: work on client pixel values, per component.
	conv := p.conv
	pf := &conv.pf
	if cap(s.row) < w {
		s.row, s.up = make([]uint32, w), make([]uint32, w)
	}
	row, up := s.row[:w], s.up[:w]
	clear(up)
	maxes := [3]int{int(pf.RedMax), int(pf.GreenMax), int(pf.BlueMax)}
	shifts := [3]uint8{pf.RedShift, pf.GreenShift, pf.BlueShift}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		src := img.Pix[y*img.Stride+r.Min.X*4:][: w*4 : w*4]
		for x := range w {
			row[x] = conv.pixel(src[x*4:])
		}
		var left, upLeft uint32
		for x := range w {
			v := row[x]
			var out uint32
			for c := range 3 {
				m, sh := maxes[c], shifts[c]
				a, b, d := int(left>>sh)&m, int(up[x]>>sh)&m, int(upLeft>>sh)&m
				pred := min(max(a+b-d, 0), m)
				out |= uint32((int(v>>sh)&m-pred)&m) << sh
			}
			dst = conv.appendPixel(dst, out)
			left, upLeft = v, up[x]
		}
		row, up = up, row
	}
	s.row, s.up = row[:cap(row)], up[:cap(up)]
	return dst
}

// gradientRow24Go filters one row of native pixels into R, G, B
// residuals, given the row above (zeros for the first row).
// gradientRow24 is this, in SSE2 assembly on amd64.
func gradientRow24Go(out, row, up []byte) {
	n := len(row) / 4
	if n == 0 || len(up) < n*4 || len(out) < n*3 {
		return
	}
	out[0], out[1], out[2] = row[2]-up[2], row[1]-up[1], row[0]-up[0]
	for x := 1; x < n; x++ {
		i, o := x*4, x*3
		cur, left := row[i:i+3:i+3], row[i-4:i-1:i-1]
		u, ul := up[i:i+3:i+3], up[i-4:i-1:i-1]
		o3 := out[o : o+3 : o+3]
		o3[0] = cur[2] - tightClamp(int(left[2])+int(u[2])-int(ul[2]))
		o3[1] = cur[1] - tightClamp(int(left[1])+int(u[1])-int(ul[1]))
		o3[2] = cur[0] - tightClamp(int(left[0])+int(u[0])-int(ul[0]))
	}
}

func tightClamp(v int) byte {
	if uint(v) > 255 {
		if v < 0 {
			return 0
		}
		return 255
	}
	return byte(v)
}

// appendPNG encodes r as a PNG: paletted when pal is given, else RGB.
func (s *tightScratch) appendPNG(dst []byte, img *Image, r image.Rectangle, pal *tightPalette) ([]byte, error) {
	w, h := r.Dx(), r.Dy()
	s.pngCodec.CompressionLevel = png.BestSpeed
	var m image.Image
	if pal != nil {
		// dst holds the indices already; move them into the Paletted image.
		s.pngPal.Pix = append(s.pngPal.Pix[:0], dst...)
		s.pngPal.Stride, s.pngPal.Rect = w, image.Rect(0, 0, w, h)
		s.pngPal.Palette = s.pngPal.Palette[:0]
		for _, c := range pal.colours[:pal.n] {
			s.pngPal.Palette = append(s.pngPal.Palette, tightRGBA(c))
		}
		m = &s.pngPal
	} else {
		n := w * h * 4
		if cap(s.pngImg.Pix) < n {
			s.pngImg.Pix = make([]byte, n)
		}
		s.pngImg.Pix, s.pngImg.Stride, s.pngImg.Rect = s.pngImg.Pix[:n], w*4, image.Rect(0, 0, w, h)
		for y := range h {
			src := img.Pix[(r.Min.Y+y)*img.Stride+r.Min.X*4:][: w*4 : w*4]
			out := s.pngImg.Pix[y*w*4:][: w*4 : w*4]
			for i := 0; i < len(src); i += 4 {
				out[i], out[i+1], out[i+2], out[i+3] = src[i+2], src[i+1], src[i], 0xff
			}
		}
		m = &s.pngImg
	}
	s.pngOut.Reset()
	if err := s.pngCodec.Encode(&s.pngOut, m); err != nil {
		return dst[:0], err
	}
	return append(dst[:0], s.pngOut.Bytes()...), nil
}

func tightRGBA(c uint32) color.RGBA {
	return color.RGBA{byte(c >> 16), byte(c >> 8), byte(c), 0xff}
}

var _ encoder = (*tightEncoder)(nil)
