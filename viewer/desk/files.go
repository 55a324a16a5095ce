package desk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"lifebuoy/broker"
	"lifebuoy/broker/agentlink"
	"lifebuoy/viewer/api"
)

// File transfer between the supporter and the customer of a running
// session (docs/API.md, "Files"). Each request gets a files connection to
// the agent from the broker (broker.OpenFiles) and speaks the frames of
// agentlink/filewire.go on it: an upload's body goes to the agent chunk
// by chunk, a download's chunks go into the response, so memory is one
// 64 KiB buffer per transfer and TCP's flow control is the back-pressure
// from end to end. The customer's agent decides (its Files right); the
// desk audits every file, whatever became of it: direction, name, size,
// SHA-256, supporter and customer.

// FilesBroker is what file transfer needs of the broker.
type FilesBroker interface {
	OpenFiles(ctx context.Context, code string, by Supporter) (net.Conn, error)
}

var _ FilesBroker = (*broker.Broker)(nil)

// Files timing.
const (
	filesReplyWait = 30 * time.Second // the agent's answer to a request
	filesStall     = 60 * time.Second // a transfer that makes no progress
	filesEndWait   = 30 * time.Second // the agent's word after the last byte
)

func (s *Server) filesRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/sessions/{code}/files/offers", s.api(s.apiFileOffers))
	mux.HandleFunc("GET /api/v1/sessions/{code}/files/list", s.api(s.apiFileList))
	mux.HandleFunc("GET /api/v1/sessions/{code}/files/get", s.api(s.apiFileGet))
	mux.HandleFunc("PUT /api/v1/sessions/{code}/files", s.api(s.apiFilePut))
}

// isUpload is a file upload, whose body is bounded by the agent's limit
// and its own Content-Length rather than the desk's 1 MiB.
func isUpload(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/sessions/") && strings.HasSuffix(r.URL.Path, "/files")
}

// filesSession is a files connection for one request.
type filesSession struct {
	si   SessionInfo
	by   Supporter
	conn net.Conn
	r    *agentlink.FileReader
	w    *agentlink.FileWriter
}

// openFiles checks that c may act on the session and opens a files
// connection with req sent and the agent's reply read. It answers the
// request itself on failure and returns nil then.
func (s *Server) openFiles(w http.ResponseWriter, r *http.Request, c *apiCaller, req *agentlink.FileRequest) (*filesSession, *agentlink.FileReply) {
	code := r.PathValue("code")
	si, err := s.mayAct(&c.signedIn, code)
	if err != nil {
		s.apiActionError(w, err)
		return nil, nil
	}
	fb, ok := s.cfg.Broker.(FilesBroker)
	if !ok {
		apiError(w, http.StatusNotImplemented, "unavailable", "file transfer is not available on this broker")
		return nil, nil
	}
	by := supporterOf(c.Account)
	conn, err := fb.OpenFiles(r.Context(), code, by)
	if err != nil {
		status := http.StatusConflict
		if errors.Is(err, broker.ErrNoSession) {
			status = http.StatusNotFound
		}
		apiError(w, status, "unavailable", err.Error())
		return nil, nil
	}
	fs := &filesSession{si: si, by: by, conn: conn, r: agentlink.NewFileReader(conn), w: agentlink.NewFileWriter(conn)}
	conn.SetDeadline(time.Now().Add(filesReplyWait))
	var f agentlink.FileFrame
	if err = fs.w.Write(req); err == nil {
		f, err = fs.r.Read()
	}
	rep, ok := f.(*agentlink.FileReply)
	if err == nil && !ok {
		err = fmt.Errorf("unexpected %v", f.Kind())
	}
	if err != nil {
		conn.Close()
		apiError(w, http.StatusBadGateway, "agent", "the customer's agent did not answer: "+err.Error())
		return nil, nil
	}
	if rep.Error != "" {
		conn.Close()
		s.auditFile(fs, req.Op, fileName(req), req.Size, "", "refused: "+rep.Error)
		apiError(w, http.StatusForbidden, "refused", rep.Error)
		return nil, nil
	}
	return fs, rep
}

// fileName is what a request names, for the audit.
func fileName(req *agentlink.FileRequest) string {
	switch {
	case req.Name != "":
		return req.Name
	case req.Offer != "":
		return "offer " + req.Offer
	}
	return req.Path
}

// auditFile records one file (or a refused request for one).
func (s *Server) auditFile(fs *filesSession, op, name string, size int64, sum, result string) {
	dir := map[string]string{agentlink.FileOpPut: "to customer", agentlink.FileOpGet: "from customer"}[op]
	if dir == "" {
		dir = op
	}
	lvl := s.audit.Info
	if result != "ok" {
		lvl = s.audit.Warn
	}
	lvl("file", "direction", dir, "name", name, "size", size, "sha256", sum, "supporter", fs.by.Account,
		"customer", fs.si.Customer, "code", fs.si.Code, "result", result)
}

func (s *Server) apiFileOffers(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	fs, rep := s.openFiles(w, r, c, &agentlink.FileRequest{Op: agentlink.FileOpOffers})
	if fs == nil {
		return
	}
	fs.conn.Close()
	out := api.FileOffers{Offers: []api.FileOffer{}}
	for _, o := range rep.Offers {
		out.Offers = append(out.Offers, api.FileOffer(o))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiFileList(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	fs, rep := s.openFiles(w, r, c, &agentlink.FileRequest{Op: agentlink.FileOpList, Path: r.URL.Query().Get("path")})
	if fs == nil {
		return
	}
	fs.conn.Close()
	out := api.FileList{Path: rep.Path, Entries: []api.FileEntry{}, Truncated: rep.Truncated}
	for _, e := range rep.Entries {
		out.Entries = append(out.Entries, api.FileEntry{Name: e.Name, Dir: e.Dir, Size: e.Size, Modified: time.Unix(e.MTime, 0).UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// apiFileGet streams a file from the customer as an attachment. Once the
// first byte went out the status cannot change: an abort on the
// customer's side breaks the response off, and its SHA-256 comes in the
// trailer for clients that take trailers ("TE: trailers").
func (s *Server) apiFileGet(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	q := r.URL.Query()
	req := &agentlink.FileRequest{Op: agentlink.FileOpGet, Path: q.Get("path"), Offer: q.Get("offer")}
	fs, rep := s.openFiles(w, r, c, req)
	if fs == nil {
		return
	}
	defer fs.conn.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": rep.Name}))
	trailers := strings.Contains(strings.ToLower(r.Header.Get("TE")), "trailers")
	if !trailers {
		// Browsers show progress with the length; a client that takes
		// trailers (lifebuoy get) gets the SHA-256 in one instead, which
		// HTTP/1.1 sends only without a length.
		h.Set("Content-Length", strconv.FormatInt(rep.Size, 10))
	}
	h.Set("X-Lifebuoy-Name", "utf-8''"+url.PathEscape(rep.Name))
	h.Set("X-Lifebuoy-Size", strconv.FormatInt(rep.Size, 10))
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", api.SHA256Trailer+", "+api.ErrorTrailer)
	w.WriteHeader(http.StatusOK)
	sum, n, err := receiveFile(fs, w, rep.Size)
	if err != nil {
		s.auditFile(fs, req.Op, rep.Name, n, "", "aborted: "+err.Error())
		s.log.Info("desk: download aborted", "code", fs.si.Code, "name", rep.Name, "err", err)
		if !trailers {
			panic(http.ErrAbortHandler) // the client sees a broken response, not a short file
		}
		h.Set(api.ErrorTrailer, err.Error()) // and no SHA-256: the client knows why
		return
	}
	h.Set(api.SHA256Trailer, sum)
	s.auditFile(fs, req.Op, rep.Name, n, sum, "ok")
}

// receiveFile copies a file's frames into dst until its FileEnd, and
// checks its size and digest.
func receiveFile(fs *filesSession, dst io.Writer, size int64) (string, int64, error) {
	hs := sha256.New()
	var n int64
	for {
		fs.conn.SetReadDeadline(time.Now().Add(filesStall))
		f, err := fs.r.Read()
		if err != nil {
			return "", n, fmt.Errorf("the connection to the customer was lost: %w", err)
		}
		switch f := f.(type) {
		case agentlink.FileData:
			if n+int64(len(f)) > size {
				return "", n, errors.New("the customer's agent sent more than it announced")
			}
			hs.Write(f)
			if _, err := dst.Write(f); err != nil {
				return "", n, fmt.Errorf("the supporter's side stopped reading: %w", err)
			}
			n += int64(len(f))
		case *agentlink.FileEnd:
			sum := hex.EncodeToString(hs.Sum(nil))
			switch {
			case n != size:
				return "", n, fmt.Errorf("%d bytes arrived, not the announced %d", n, size)
			case !strings.EqualFold(sum, f.SHA256):
				return "", n, errors.New("the SHA-256 of what arrived does not match the customer's")
			}
			return sum, n, nil
		case *agentlink.FileAbort:
			return "", n, errors.New(f.Reason)
		default:
			return "", n, fmt.Errorf("unexpected %v", f.Kind())
		}
	}
}

// apiFilePut uploads the request's body (Content-Length bytes) to the
// customer's Downloads/Lifebuoy folder.
func (s *Server) apiFilePut(w http.ResponseWriter, r *http.Request, c *apiCaller) {
	name := r.URL.Query().Get("name")
	size := r.ContentLength
	switch {
	case name == "":
		apiError(w, http.StatusBadRequest, "bad_request", "name: the file's name is missing")
		return
	case size < 0:
		apiError(w, http.StatusLengthRequired, "bad_request", "Content-Length: the file's size is needed")
		return
	}
	req := &agentlink.FileRequest{Op: agentlink.FileOpPut, Name: name, Size: size}
	fs, _ := s.openFiles(w, r, c, req)
	if fs == nil {
		return
	}
	defer fs.conn.Close()
	stored, sum, err := sendFile(fs, r.Body, size)
	if err != nil {
		s.auditFile(fs, req.Op, name, size, sum, "aborted: "+err.Error())
		apiError(w, http.StatusConflict, "aborted", err.Error())
		return
	}
	s.auditFile(fs, req.Op, stored.Name, stored.Size, stored.SHA256, "ok")
	writeJSON(w, http.StatusCreated, api.FileStored{Name: stored.Name, Folder: stored.Folder, Size: stored.Size, SHA256: stored.SHA256})
}

// sendFile sends size bytes of body to the agent, and waits for where it
// stored them. The agent's word is read all along, so that its abort (the
// customer turned Files off) stops the upload at once and says why.
func sendFile(fs *filesSession, body io.Reader, size int64) (*agentlink.FileDone, string, error) {
	type answer struct {
		done *agentlink.FileDone
		err  error
	}
	answered := make(chan answer, 1)
	spoke := make(chan struct{}) // closed once the agent said something
	go func() {
		defer close(spoke)
		f, err := fs.r.Read()
		switch f := f.(type) {
		case *agentlink.FileDone:
			answered <- answer{done: f}
		case *agentlink.FileAbort:
			answered <- answer{err: errors.New(f.Reason)}
		default:
			if err == nil {
				err = fmt.Errorf("unexpected %v", f.Kind())
			}
			answered <- answer{err: fmt.Errorf("the connection to the customer was lost: %w", err)}
		}
	}()
	fs.conn.SetReadDeadline(time.Time{})
	hs := sha256.New()
	sendErr := sendChunks(fs, body, size, hs, spoke)
	sum := hex.EncodeToString(hs.Sum(nil))
	if sendErr == nil {
		sendErr = fs.w.Write(&agentlink.FileEnd{SHA256: sum})
	}
	var bodyErr *uploadError
	if errors.As(sendErr, &bodyErr) {
		// The supporter's side broke off: tell the agent, which removes
		// the partial file.
		fs.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		fs.w.Write(&agentlink.FileAbort{Reason: bodyErr.Error()})
		return nil, sum, sendErr
	}
	wait := time.NewTimer(filesEndWait)
	defer wait.Stop()
	select {
	case a := <-answered:
		if a.err != nil {
			return nil, sum, a.err // the agent's reason beats our write error
		}
		return a.done, sum, nil
	case <-wait.C:
		fs.conn.Close()
		if sendErr != nil {
			return nil, sum, sendErr
		}
		return nil, sum, errors.New("the customer's agent did not confirm the file")
	}
}

// errAgentSpoke stops an upload when the agent spoke before its end.
var errAgentSpoke = errors.New("the customer's agent stopped the upload")

// uploadError is a failure on the supporter's side of an upload.
type uploadError struct{ err error }

func (e *uploadError) Error() string { return "the upload was interrupted: " + e.err.Error() }

// sendChunks copies size bytes of body to the agent in chunks.
func sendChunks(fs *filesSession, body io.Reader, size int64, hs hash.Hash, spoke <-chan struct{}) error {
	buf := make([]byte, agentlink.MaxFileChunk)
	for left := size; left > 0; {
		select {
		case <-spoke:
			return errAgentSpoke // its abort, most likely: sendFile reads it
		default:
		}
		n, err := io.ReadFull(body, buf[:min(int64(len(buf)), left)])
		if err != nil {
			return &uploadError{err}
		}
		hs.Write(buf[:n])
		fs.conn.SetWriteDeadline(time.Now().Add(filesStall))
		if err := fs.w.Write(agentlink.FileData(buf[:n])); err != nil {
			return fmt.Errorf("the connection to the customer was lost: %w", err)
		}
		left -= int64(n)
	}
	return nil
}
