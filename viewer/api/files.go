package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// File transfer with the customer of a running session (docs/API.md,
// "Files"). Every transfer needs the customer's Files right (F11).

// FileOffer is a file the customer offered to the supporter.
type FileOffer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// FileEntry is an entry of a folder in the customer's home folder.
type FileEntry struct {
	Name     string    `json:"name"`
	Dir      bool      `json:"dir,omitempty"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

// FileList is a folder of the customer's home folder.
type FileList struct {
	Path      string      `json:"path"` // relative to the home folder, '/'-separated; "" is the home folder
	Entries   []FileEntry `json:"entries"`
	Truncated bool        `json:"truncated,omitempty"`
}

// FileOffers lists what the customer offered.
type FileOffers struct {
	Offers []FileOffer `json:"offers"`
}

// FileStored says where an uploaded file landed on the customer's side.
type FileStored struct {
	Name   string `json:"name"`   // its final name (sanitised, numbered if taken)
	Folder string `json:"folder"` // "Downloads/Lifebuoy"
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// SHA256Trailer is the trailer of a download with the hex SHA-256 of
// the file as the agent read it.
const SHA256Trailer = "X-Lifebuoy-Sha256"

// ErrorTrailer is the trailer of a download that stopped early, with
// the reason (the customer turned file transfer off, cancelled it...);
// only a client that takes trailers gets it, others see a broken
// response.
const ErrorTrailer = "X-Lifebuoy-Error"

func filesPath(code, rest string) string {
	return "/api/v1/sessions/" + url.PathEscape(code) + "/files" + rest
}

// Offers lists the files the customer offered.
func (c *Client) Offers(ctx context.Context, code string) (FileOffers, error) {
	var o FileOffers
	err := c.do(ctx, http.MethodGet, filesPath(code, "/offers"), nil, &o)
	return o, err
}

// ListFiles lists a folder of the customer's home folder.
func (c *Client) ListFiles(ctx context.Context, code, path string) (FileList, error) {
	var l FileList
	err := c.do(ctx, http.MethodGet, filesPath(code, "/list?path="+url.QueryEscape(path)), nil, &l)
	return l, err
}

// PutFile uploads size bytes of r as name to the customer's
// Downloads/Lifebuoy folder.
func (c *Client) PutFile(ctx context.Context, code, name string, size int64, r io.Reader) (FileStored, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+filesPath(code, "?name="+url.QueryEscape(name)), r)
	if err != nil {
		return FileStored{}, err
	}
	req.ContentLength = size
	if size == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	var out FileStored
	return out, c.send(req, &out)
}

// Download is a file coming from the customer. Read it to the end, then
// check SHA256. A transfer that stops early ends in a *TransferError
// with the reason.
type Download struct {
	io.ReadCloser
	Name string
	Size int64
	resp *http.Response
}

// Read reads the file; the end of a download that stopped early is a
// *TransferError, not io.EOF.
func (d *Download) Read(p []byte) (int, error) {
	n, err := d.ReadCloser.Read(p)
	if err == io.EOF {
		if reason := d.resp.Trailer.Get(ErrorTrailer); reason != "" {
			err = &TransferError{Reason: reason}
		}
	}
	return n, err
}

// TransferError is a transfer the customer's side stopped, and why.
type TransferError struct{ Reason string }

func (e *TransferError) Error() string { return "the transfer stopped: " + e.Reason }

// SHA256 is the digest the agent sent after the last byte; "" before
// the body was read to its end, or if the transfer broke.
func (d *Download) SHA256() string { return d.resp.Trailer.Get(SHA256Trailer) }

// GetFile starts the download of a file the customer offered (offer
// set) or of a file of their home folder (path).
func (c *Client) GetFile(ctx context.Context, code, path, offer string) (*Download, error) {
	q := url.Values{}
	if offer != "" {
		q.Set("offer", offer)
	} else {
		q.Set("path", path)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+filesPath(code, "/get?"+q.Encode()), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("TE", "trailers") // the SHA-256 comes in a trailer
	resp, err := c.start(req)
	if err != nil {
		return nil, err
	}
	d := &Download{ReadCloser: resp.Body, Size: resp.ContentLength, resp: resp}
	d.Name, _ = url.PathUnescape(strings.TrimPrefix(resp.Header.Get("X-Lifebuoy-Name"), "utf-8''"))
	if n, err := strconv.ParseInt(resp.Header.Get("X-Lifebuoy-Size"), 10, 64); err == nil {
		d.Size = n
	}
	return d, nil
}

// start sends req with the token and returns a 2xx answer unread.
func (c *Client) start(req *http.Request) (*http.Response, error) {
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &ae.Body) != nil || ae.Body.Error == "" {
			ae.Body.Error = fmt.Sprintf("the desk answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return nil, ae
	}
	return resp, nil
}

// send sends req and decodes a JSON answer into out.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.start(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the desk's answer: %w", err)
	}
	return nil
}
