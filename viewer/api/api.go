// Package api is the desk's REST API as its clients see it: the JSON
// types of docs/API.md and a Client for them, which the lifebuoy command
// uses.
//
//	c := api.NewClient("https://help.example.com", token, nil)
//	code, err := c.NewCode(ctx)
//	fmt.Println(code.Grouped, code.ExpiresAt)
package api

import "time"

// Supporter is who issued or redeemed a code.
type Supporter struct {
	Account string `json:"account"`
	Name    string `json:"name"`
	Team    string `json:"team"`
}

// Session is a waiting code or a running session.
type Session struct {
	Code          string    `json:"code"`
	Grouped       string    `json:"grouped"`
	State         string    `json:"state"`
	Flow          string    `json:"flow"`
	Supporter     Supporter `json:"supporter"`
	Customer      string    `json:"customer"`
	CustomerAddr  string    `json:"customer_addr"`
	Viewer        string    `json:"viewer"`
	Path          string    `json:"path"`       // how the viewer came: "5511", "5514", "wss"
	AgentPath     string    `json:"agent_path"` // how the agent came: "tls", "wss", "alpn"
	Since         time.Time `json:"since"`
	Expires       time.Time `json:"expires"`
	RightsKnown   bool      `json:"rights_known"` // the agent has reported the rights below
	Control       bool      `json:"control"`
	Files         bool      `json:"files"`
	BytesToViewer int64     `json:"bytes_to_viewer"`
	BytesToAgent  int64     `json:"bytes_to_agent"`
	// Node is the cluster node where a code waits, when it is not the
	// node that answered (docs/CLUSTER.md).
	Node string `json:"node,omitempty"`
}

// Code is a new supporter-first code.
type Code struct {
	Code      string            `json:"code"`
	Grouped   string            `json:"grouped"`
	ExpiresAt time.Time         `json:"expires_at"`
	Downloads map[string]string `json:"downloads,omitempty"` // "windows", "linux" → path of the agent named for the code
}

// Account is the signed-in supporter.
type Account struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Team        string `json:"team"`
	Role        string `json:"role"`
}

// LoginRequest signs in with a password (and a one-time code when the
// account has a second factor) for an API token.
type LoginRequest struct {
	User     string `json:"user"`
	Password string `json:"password"`
	OTP      string `json:"otp,omitempty"`
	Label    string `json:"label,omitempty"` // names the token in the console
}

// Token is a new API token, shown once.
type Token struct {
	Token   string  `json:"token"`
	ID      string  `json:"id"`
	Account Account `json:"account"`
}

// EndRequest says why a session is ended.
type EndRequest struct {
	Reason string `json:"reason,omitempty"`
}

// AuditRecord is one line of the audit log.
type AuditRecord struct {
	ID        int64          `json:"id"`
	At        time.Time      `json:"at"`
	Level     string         `json:"level"`
	Msg       string         `json:"msg"`
	Supporter string         `json:"supporter,omitempty"`
	Code      string         `json:"code,omitempty"`
	Session   string         `json:"session,omitempty"`
	Addrs     []string       `json:"addrs,omitempty"`
	Attrs     map[string]any `json:"attrs"`
}

// CLIStart begins a browser sign-in for the command line (like OAuth's
// device flow): the command sends the SHA-256 of a secret verifier.
type CLIStart struct {
	Challenge string `json:"challenge"` // base64url(SHA-256(verifier)), unpadded
}

// CLIRequest is the browser step the command asks the supporter to take.
type CLIRequest struct {
	Request string    `json:"request"` // the request's ID, to poll with
	URL     string    `json:"url"`     // path of the page that allows it
	Confirm string    `json:"confirm"` // shown in the terminal and on the page, to compare
	Expires time.Time `json:"expires"`
}

// CLIToken polls for the token once the supporter allowed the request.
type CLIToken struct {
	Request  string `json:"request"`
	Verifier string `json:"verifier"`
}

// Error is the body of every error answer.
type Error struct {
	Error string `json:"error"`
	// Code names errors a client branches on: "otp_required",
	// "throttled", "pending", "expired", "forbidden", "not_found".
	Code       string `json:"code,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds, with "throttled"
}
