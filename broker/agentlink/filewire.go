package agentlink

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// A files connection carries file transfers of a running session beside
// its RFB stream, so that a large file never stalls the screen. The
// broker asks for one among the session's control messages (OpenFiles,
// for the supporter's desk); the agent dials it as it dials a data
// connection (DataHello with the OpenFiles' FilesID and Token), and the
// desk and the agent then speak, through the broker:
//
//	D: FileRequest{op, path | offer | name, size}
//	A: FileReply{error} refuses it (the customer has not allowed file
//	   transfer, no such file, a name or size it will not take...)
//	op "offers": A: FileReply{offers}       files the customer offered
//	op "list":   A: FileReply{path, entries} a folder of the customer's home
//	op "get":    A: FileReply{name, size}, FileData..., FileEnd{sha256}
//	op "put":    A: FileReply{name}, D: FileData..., FileEnd{sha256},
//	             A: FileDone{name, size, sha256} once the file is stored
//	either side, instead of the next data: FileAbort{reason}, and the
//	transfer is over; the agent removes a partial file. The customer
//	turning file transfer off aborts at once.
//
// One request per connection. Every frame is
//
//	U8  kind
//	U32 length (FileData at most MaxFileChunk; others at most
//	    MaxFileFrame, checked before reading)
//	    payload: the raw bytes of FileData, a JSON object otherwise
//
// TCP's flow control is the back-pressure, end to end: nobody reads
// ahead more than a chunk.

// FileKind is a files connection frame's kind.
type FileKind uint8

// Frame kinds of a files connection.
const (
	KindFileRequest FileKind = 1
	KindFileReply   FileKind = 2
	KindFileData    FileKind = 3
	KindFileEnd     FileKind = 4
	KindFileAbort   FileKind = 5
	KindFileDone    FileKind = 6
)

func (k FileKind) String() string {
	switch k {
	case KindFileRequest:
		return "FileRequest"
	case KindFileReply:
		return "FileReply"
	case KindFileData:
		return "FileData"
	case KindFileEnd:
		return "FileEnd"
	case KindFileAbort:
		return "FileAbort"
	case KindFileDone:
		return "FileDone"
	}
	return fmt.Sprintf("FileKind(%d)", uint8(k))
}

// Limits of a files connection's frames.
const (
	MaxFileChunk = 64 << 10 // FileData
	MaxFileFrame = 1 << 20  // every other frame (a folder's listing)
)

// File operations of a FileRequest.
const (
	FileOpOffers = "offers"
	FileOpList   = "list"
	FileOpGet    = "get"
	FileOpPut    = "put"
)

// FileFrame is one of a files connection's frames: *FileRequest,
// *FileReply, FileData, *FileEnd, *FileAbort or *FileDone.
type FileFrame interface{ Kind() FileKind }

// FileRequest is the desk's one request on a files connection.
type FileRequest struct {
	Op string `json:"op"`
	// Path is a path in the customer's home folder, with '/' between
	// names ("" is the home folder itself): the folder to list, the file
	// to get.
	Path string `json:"path,omitempty"`
	// Offer is the ID of a file the customer offered, to get.
	Offer string `json:"offer,omitempty"`
	// Name and Size announce a file to put.
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// FileReply answers a FileRequest. Error set refuses it.
type FileReply struct {
	Error string `json:"error,omitempty"`
	// get and put: the file's name (on put, as it was sanitised; the
	// final, numbered name comes in FileDone), get: its size.
	Name string `json:"name,omitempty"`
	Size int64  `json:"size,omitempty"`
	// offers
	Offers []FileOffer `json:"offers,omitempty"`
	// list: the folder listed, relative to the home folder, and its
	// entries, at most MaxFileEntries (Truncated says there are more).
	Path      string      `json:"path,omitempty"`
	Entries   []FileEntry `json:"entries,omitempty"`
	Truncated bool        `json:"truncated,omitempty"`
}

// MaxFileEntries bounds a listing.
const MaxFileEntries = 2000

// FileOffer is a file the customer offered to the supporter.
type FileOffer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// FileEntry is one entry of a listed folder.
type FileEntry struct {
	Name  string `json:"name"`
	Dir   bool   `json:"dir,omitempty"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"` // Unix seconds
}

// FileData is a chunk of a file's bytes.
type FileData []byte

// FileEnd ends a file's data; SHA256 is the hex digest of what was sent.
type FileEnd struct {
	SHA256 string `json:"sha256"`
}

// FileAbort ends a transfer early; Reason is for people.
type FileAbort struct {
	Reason string `json:"reason"`
}

// FileDone says where an uploaded file was stored.
type FileDone struct {
	Name   string `json:"name"` // the final name in the customer's folder
	Folder string `json:"folder"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

func (*FileRequest) Kind() FileKind { return KindFileRequest }
func (*FileReply) Kind() FileKind   { return KindFileReply }
func (FileData) Kind() FileKind     { return KindFileData }
func (*FileEnd) Kind() FileKind     { return KindFileEnd }
func (*FileAbort) Kind() FileKind   { return KindFileAbort }
func (*FileDone) Kind() FileKind    { return KindFileDone }

// fileParsers is the dispatch table of ReadFileFrame for the JSON kinds.
var fileParsers = [...]func() FileFrame{
	KindFileRequest: func() FileFrame { return new(FileRequest) },
	KindFileReply:   func() FileFrame { return new(FileReply) },
	KindFileEnd:     func() FileFrame { return new(FileEnd) },
	KindFileAbort:   func() FileFrame { return new(FileAbort) },
	KindFileDone:    func() FileFrame { return new(FileDone) },
}

// AppendFileFrame appends f's frame to b.
func AppendFileFrame(b []byte, f FileFrame) ([]byte, error) {
	var p []byte
	if d, ok := f.(FileData); ok {
		if len(d) > MaxFileChunk {
			return b, ErrFrameTooLarge
		}
		p = d
	} else {
		var err error
		if p, err = json.Marshal(f); err != nil {
			return b, err
		}
		if len(p) > MaxFileFrame {
			return b, ErrFrameTooLarge
		}
	}
	b = append(b, byte(f.Kind()))
	b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
	return append(b, p...), nil
}

// FileWriter writes a files connection's frames, reusing its buffer.
type FileWriter struct {
	w   io.Writer
	buf []byte
}

// NewFileWriter writes frames to w.
func NewFileWriter(w io.Writer) *FileWriter { return &FileWriter{w: w} }

// Write writes f as one frame, in one Write.
func (fw *FileWriter) Write(f FileFrame) error {
	b, err := AppendFileFrame(fw.buf[:0], f)
	if err != nil {
		return err
	}
	fw.buf = b
	_, err = fw.w.Write(b)
	return err
}

// FileReader reads a files connection's frames. A FileData it returns
// is valid until the next Read.
type FileReader struct {
	r   io.Reader
	buf []byte
}

// NewFileReader reads frames from r.
func NewFileReader(r io.Reader) *FileReader { return &FileReader{r: r} }

// ErrFileProtocol is a malformed frame on a files connection.
var ErrFileProtocol = errors.New("agentlink: files connection: protocol error")

// Read reads one frame.
func (fr *FileReader) Read() (FileFrame, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return nil, err
	}
	k, n := FileKind(h[0]), binary.BigEndian.Uint32(h[1:])
	switch {
	case k == KindFileData && n > MaxFileChunk, n > MaxFileFrame:
		return nil, fmt.Errorf("%w: %v of %d bytes", ErrFileProtocol, k, n)
	case k != KindFileData && (int(k) >= len(fileParsers) || fileParsers[k] == nil):
		return nil, fmt.Errorf("%w: unknown frame kind %d", ErrFileProtocol, h[0])
	}
	if cap(fr.buf) < int(n) {
		// Grown to what arrives, in steps, so a lying length costs no
		// more than the bytes really sent.
		fr.buf = make([]byte, 0, min(int(n), max(2*cap(fr.buf), 4<<10)))
	}
	fr.buf = fr.buf[:0]
	for len(fr.buf) < int(n) {
		if len(fr.buf) == cap(fr.buf) {
			fr.buf = append(fr.buf, 0)[:len(fr.buf)]
		}
		k, err := fr.r.Read(fr.buf[len(fr.buf):min(int(n), cap(fr.buf))])
		fr.buf = fr.buf[:len(fr.buf)+k]
		if err != nil && len(fr.buf) < int(n) {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	if k == KindFileData {
		return FileData(fr.buf), nil
	}
	f := fileParsers[k]()
	if err := json.Unmarshal(fr.buf, f); err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrFileProtocol, k, err)
	}
	if len(fr.buf) > 64<<10 {
		fr.buf = nil // do not keep a large listing's buffer
	}
	return f, nil
}

var (
	_ FileFrame = (*FileRequest)(nil)
	_ FileFrame = (*FileReply)(nil)
	_ FileFrame = FileData(nil)
	_ FileFrame = (*FileEnd)(nil)
	_ FileFrame = (*FileAbort)(nil)
	_ FileFrame = (*FileDone)(nil)
)
