package agentlink

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

var fileCases = []FileFrame{
	&FileRequest{Op: FileOpPut, Name: "Bericht für Anna.pdf", Size: 5 << 20},
	&FileRequest{Op: FileOpGet, Path: "Documents/a b.txt"},
	&FileRequest{Op: FileOpGet, Offer: "3"},
	&FileRequest{Op: FileOpList},
	&FileReply{Error: "the customer has not allowed file transfer"},
	&FileReply{Name: "x", Size: 12},
	&FileReply{Offers: []FileOffer{{ID: "1", Name: "log.txt", Size: 99}}},
	&FileReply{Path: "Documents", Entries: []FileEntry{{Name: "sub", Dir: true, MTime: 1700000000}, {Name: "f", Size: 3}}, Truncated: true},
	FileData("some bytes \x00\xff"),
	&FileEnd{SHA256: strings.Repeat("ab", 32)},
	&FileAbort{Reason: "the customer turned file transfer off"},
	&FileDone{Name: "x (1).txt", Folder: "Downloads/Lifebuoy", Size: 3, SHA256: strings.Repeat("cd", 32)},
}

// TestFileWireRoundTrip: every frame reads back as written, one byte at
// a time, and the stream of all of them too.
func TestFileWireRoundTrip(t *testing.T) {
	var all bytes.Buffer
	w := NewFileWriter(&all)
	for _, f := range fileCases {
		if err := w.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	r := NewFileReader(iotest.OneByteReader(&all))
	for _, want := range fileCases {
		got, err := r.Read()
		if err != nil {
			t.Fatalf("%v: %v", want.Kind(), err)
		}
		if d, ok := got.(FileData); ok {
			got = FileData(bytes.Clone(d))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	if _, err := r.Read(); err != io.EOF {
		t.Errorf("after the last frame: %v", err)
	}
}

func TestFileWireErrors(t *testing.T) {
	frame := func(k FileKind, n uint32, body ...byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{byte(k)}, n), body...)
	}
	for name, in := range map[string][]byte{
		"data over a chunk":  frame(KindFileData, MaxFileChunk+1),
		"frame over the max": frame(KindFileReply, MaxFileFrame+1),
		"unknown kind":       frame(77, 0),
		"kind 0":             frame(0, 0),
		"bad JSON":           frame(KindFileRequest, 3, '{', '{', '}'),
	} {
		if _, err := NewFileReader(bytes.NewReader(in)).Read(); !errors.Is(err, ErrFileProtocol) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A length that lies: the reader fails at the end of the bytes,
	// having held no more than it was sent.
	r := NewFileReader(bytes.NewReader(frame(KindFileReply, MaxFileFrame, '{')))
	if _, err := r.Read(); err != io.ErrUnexpectedEOF {
		t.Errorf("short frame: %v", err)
	}
	if cap(r.buf) > 64<<10 {
		t.Errorf("a 1-byte body grew the buffer to %d", cap(r.buf))
	}
	if _, err := AppendFileFrame(nil, FileData(make([]byte, MaxFileChunk+1))); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("writing a large chunk: %v", err)
	}
}

// FuzzFileReader: arbitrary bytes give frames or errors, never a panic;
// a frame written again reads back the same.
func FuzzFileReader(f *testing.F) {
	for _, c := range fileCases {
		b, _ := AppendFileFrame(nil, c)
		f.Add(b)
	}
	f.Add([]byte{3, 0, 1, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewFileReader(bytes.NewReader(in))
		for range 16 {
			fr, err := r.Read()
			if err != nil {
				return
			}
			if d, ok := fr.(FileData); ok {
				fr = FileData(bytes.Clone(d))
			}
			b, err := AppendFileFrame(nil, fr)
			if err != nil {
				t.Fatalf("%+v: %v", fr, err)
			}
			back, err := NewFileReader(bytes.NewReader(b)).Read()
			if err != nil {
				t.Fatalf("%+v written and read: %v", fr, err)
			}
			if d, ok := back.(FileData); ok {
				back = FileData(bytes.Clone(d))
			}
			if !reflect.DeepEqual(back, fr) {
				t.Fatalf("%+v written and read as %+v", fr, back)
			}
		}
	})
}
