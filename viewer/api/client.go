package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Client calls the desk's REST API.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient makes a client of the desk at base (https://host:5512) with an
// API token ("" before login). hc carries the TLS trust (nil: the default
// client, WebPKI).
func NewClient(base, token string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, hc: hc}
}

// APIError is an error answer of the desk.
type APIError struct {
	Status int
	Body   Error
}

func (e *APIError) Error() string {
	if e.Body.Error != "" {
		return e.Body.Error
	}
	return fmt.Sprintf("the desk answered %d", e.Status)
}

// IsCode reports whether err is an API error with the given code.
func IsCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Body.Code == code
}

// maxAnswer bounds what the client reads of an answer.
const maxAnswer = 4 << 20

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		ae := &APIError{Status: resp.StatusCode}
		if json.Unmarshal(b, &ae.Body) != nil || ae.Body.Error == "" {
			ae.Body.Error = fmt.Sprintf("the desk answered %s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return ae
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the desk's answer: %w", err)
	}
	return nil
}

// Login signs in with a password (and OTP) and returns a new API token.
// An account with a second factor and no OTP given fails with the code
// "otp_required".
func (c *Client) Login(ctx context.Context, r LoginRequest) (Token, error) {
	var t Token
	err := c.do(ctx, http.MethodPost, "/api/v1/login", r, &t)
	return t, err
}

// Logout revokes the client's token.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/api/v1/logout", nil, nil)
}

// Me is the token's account.
func (c *Client) Me(ctx context.Context) (Account, error) {
	var a Account
	err := c.do(ctx, http.MethodGet, "/api/v1/me", nil, &a)
	return a, err
}

// NewCode issues a supporter-first code.
func (c *Client) NewCode(ctx context.Context) (Code, error) {
	var cd Code
	err := c.do(ctx, http.MethodPost, "/api/v1/codes", nil, &cd)
	return cd, err
}

// Sessions lists the supporter's waiting codes and live sessions (all of
// them, for an admin asking for all).
func (c *Client) Sessions(ctx context.Context, all bool) ([]Session, error) {
	var ss []Session
	p := "/api/v1/sessions"
	if all {
		p += "?all=1"
	}
	err := c.do(ctx, http.MethodGet, p, nil, &ss)
	return ss, err
}

// End ends a waiting code or a running session.
func (c *Client) End(ctx context.Context, code, reason string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/sessions/"+url.PathEscape(code)+"/end", EndRequest{Reason: reason}, nil)
}

// RequestControl asks the customer, through their agent, for control.
func (c *Client) RequestControl(ctx context.Context, code string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/sessions/"+url.PathEscape(code)+"/request-control", nil, nil)
}

// Audit searches the audit log (admins).
func (c *Client) Audit(ctx context.Context, q url.Values) ([]AuditRecord, error) {
	var rs []AuditRecord
	err := c.do(ctx, http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &rs)
	return rs, err
}

// CLIStart begins a browser sign-in for the command line.
func (c *Client) CLIStart(ctx context.Context, challenge string) (CLIRequest, error) {
	var r CLIRequest
	err := c.do(ctx, http.MethodPost, "/api/v1/cli/start", CLIStart{Challenge: challenge}, &r)
	return r, err
}

// CLIToken polls for the token of a browser sign-in; it fails with the
// code "pending" until the supporter allowed it.
func (c *Client) CLIToken(ctx context.Context, request, verifier string) (Token, error) {
	var t Token
	err := c.do(ctx, http.MethodPost, "/api/v1/cli/token", CLIToken{Request: request, Verifier: verifier}, &t)
	return t, err
}
