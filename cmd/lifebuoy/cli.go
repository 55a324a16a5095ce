package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"lifebuoy/broker"
	"lifebuoy/viewer/api"
	"lifebuoy/viewer/bridge"
)

const usage = `usage:
  lifebuoy login [-fingerprint HEX] [-user NAME] [-browser] https://help.example.com[:5512]
  lifebuoy logout
  lifebuoy code new [-admin 127.0.0.1:5515]
  lifebuoy sessions [-all] [-json]
  lifebuoy end [-reason TEXT] CODE
  lifebuoy connect [-viewer auto|none|tigervnc|realvnc|ultravnc|remmina|PATH] [-listen 127.0.0.1:0] CODE
  lifebuoy put CODE FILE...            (to the customer's Downloads/Lifebuoy; the customer allows it with F11)
  lifebuoy get [-o FILE] CODE PATH     (a file the customer offered, or PATH in the customer's home folder)`

// cli is one run of the command.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lines          *bufio.Reader
	// configDir replaces the user's config directory (tests).
	configDir string
	// openBrowser replaces starting the system's browser (tests).
	openBrowser func(url string) error
}

// usageError is a mistake on the command line (exit status 2).
type usageError string

func (e usageError) Error() string { return string(e) }

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "login":
		err = c.login(ctx, args[1:])
	case "logout":
		err = c.logout(ctx, args[1:])
	case "code":
		if len(args) < 2 || args[1] != "new" {
			err = usageError("code: the command is \"code new\"")
			break
		}
		err = c.codeNew(ctx, args[2:])
	case "sessions":
		err = c.sessions(ctx, args[1:])
	case "end":
		err = c.end(ctx, args[1:])
	case "connect":
		err = c.connect(ctx, args[1:])
	case "put":
		err = c.put(ctx, args[1:]) // files.go
	case "get":
		err = c.get(ctx, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(c.stdout, usage)
		return 0
	default:
		err = usageError(fmt.Sprintf("unknown command %q", args[0]))
	}
	var ue usageError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(c.stderr, "lifebuoy:", err)
		fmt.Fprintln(c.stderr, usage)
		return 2
	case err != nil:
		fmt.Fprintln(c.stderr, "lifebuoy:", err)
		return 1
	}
	return 0
}

// flags parses a subcommand's flags; it allows flags after positional
// arguments ("end 482913 -reason x").
func (c *cli) flags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(c.stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError(err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// credentials are what login keeps.
type credentials struct {
	URL         string `json:"url"`
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Account     string `json:"account"`
	Name        string `json:"name"`
}

func (c *cli) credentialsPath() (string, error) {
	dir := c.configDir
	if dir == "" {
		d, err := os.UserConfigDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	return filepath.Join(dir, "lifebuoy", "credentials.json"), nil
}

// errNotSignedIn tells what to do.
var errNotSignedIn = errors.New("not signed in: run lifebuoy login https://help.example.com")

func (c *cli) loadCredentials() (credentials, error) {
	var cr credentials
	p, err := c.credentialsPath()
	if err != nil {
		return cr, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return cr, errNotSignedIn
	}
	if err != nil {
		return cr, err
	}
	if err := json.Unmarshal(b, &cr); err != nil || cr.Token == "" || cr.URL == "" {
		return cr, fmt.Errorf("%s is damaged; run lifebuoy login again", p)
	}
	return cr, nil
}

func (c *cli) saveCredentials(cr credentials) (string, error) {
	p, err := c.credentialsPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, _ := json.MarshalIndent(cr, "", "  ")
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return p, os.Rename(tmp, p)
}

// httpClient trusts the broker by its pinned fingerprint, or through the
// system's roots.
func httpClient(fingerprint string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if fingerprint != "" {
		cfg, err := bridge.PinnedTLS(fingerprint)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = cfg
	}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// client is the API client of the signed-in supporter.
func (c *cli) client() (*api.Client, credentials, error) {
	cr, err := c.loadCredentials()
	if err != nil {
		return nil, cr, err
	}
	hc, err := httpClient(cr.Fingerprint)
	if err != nil {
		return nil, cr, err
	}
	return api.NewClient(cr.URL, cr.Token, hc), cr, nil
}

// normalizeURL makes "help.example.com" https://help.example.com.
func normalizeURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return "", usageError(fmt.Sprintf("%q: want https://host[:port]", s))
	}
	return u.Scheme + "://" + u.Host, nil
}

// readLine reads one line: from the terminal with echo unless secret,
// else from stdin.
func (c *cli) readLine(prompt string, secret bool) (string, error) {
	if f, ok := c.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(c.stderr, prompt)
		if secret {
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(c.stderr)
			return string(b), err
		}
	}
	if c.lines == nil {
		c.lines = bufio.NewReader(io.LimitReader(c.stdin, 64<<10))
	}
	line, err := c.lines.ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("%s: nothing on stdin", strings.TrimSuffix(strings.TrimSpace(prompt), ":"))
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (c *cli) login(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("login", flag.ContinueOnError)
	fingerprint := fs.String("fingerprint", "", "trust the broker's self-signed certificate with this SHA-256 `fingerprint` (lifebuoy-broker prints it)")
	user := fs.String("user", "", "user `name` (asked for when not given)")
	browser := fs.Bool("browser", false, "sign in through the console in a browser (for company sign-in through OIDC)")
	pos, err := c.flags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("login takes the broker's URL")
	}
	base, err := normalizeURL(pos[0])
	if err != nil {
		return err
	}
	hc, err := httpClient(*fingerprint)
	if err != nil {
		return usageError(err.Error())
	}
	anon := api.NewClient(base, "", hc)
	host, _ := os.Hostname()
	label := "lifebuoy login on " + host
	var tok api.Token
	if *browser {
		tok, err = c.browserLogin(ctx, anon, base)
	} else {
		tok, err = c.passwordLogin(ctx, anon, *user, label)
	}
	if err != nil {
		return err
	}
	p, err := c.saveCredentials(credentials{URL: base, Token: tok.Token, Fingerprint: strings.ToLower(*fingerprint),
		Account: tok.Account.Name, Name: tok.Account.DisplayName})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "signed in to %s as %s (%s); token kept in %s\n", base, tok.Account.DisplayName, tok.Account.Name, p)
	return nil
}

func (c *cli) passwordLogin(ctx context.Context, anon *api.Client, user, label string) (api.Token, error) {
	var err error
	if user == "" {
		if user, err = c.readLine("User name: ", false); err != nil {
			return api.Token{}, err
		}
	}
	pw, err := c.readLine("Password: ", true)
	if err != nil {
		return api.Token{}, err
	}
	req := api.LoginRequest{User: user, Password: pw, Label: label}
	tok, err := anon.Login(ctx, req)
	if api.IsCode(err, "otp_required") {
		if req.OTP, err = c.readLine("One-time code: ", false); err != nil {
			return api.Token{}, err
		}
		tok, err = anon.Login(ctx, req)
	}
	return tok, err
}

// browserLogin lets the supporter allow this command in the console, in
// the manner of OAuth's device flow (viewer/desk, /cli/authorize).
func (c *cli) browserLogin(ctx context.Context, anon *api.Client, base string) (api.Token, error) {
	vb := make([]byte, 32)
	rand.Read(vb)
	verifier := base64.RawURLEncoding.EncodeToString(vb)
	sum := sha256.Sum256([]byte(verifier))
	req, err := anon.CLIStart(ctx, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		return api.Token{}, err
	}
	page := base + req.URL
	fmt.Fprintf(c.stderr, "Open %s in your browser, sign in and allow the command line.\nThe page shows %s; check that it does.\n", page, req.Confirm)
	open := c.openBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(page); err != nil {
		fmt.Fprintln(c.stderr, "(could not start a browser:", err, "- open the address by hand)")
	}
	deadline := time.Now().Add(time.Until(req.Expires))
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return api.Token{}, ctx.Err()
		case <-tick.C:
		}
		tok, err := anon.CLIToken(ctx, req.Request, verifier)
		if api.IsCode(err, "pending") {
			continue
		}
		return tok, err
	}
	return api.Token{}, errors.New("nobody allowed the sign-in in time; run lifebuoy login -browser again")
}

// openBrowser starts the system's browser on url.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	case "darwin":
		cmd = exec.Command("open", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}

func (c *cli) logout(ctx context.Context, args []string) error {
	if _, err := c.flags(flag.NewFlagSet("logout", flag.ContinueOnError), args); err != nil {
		return err
	}
	cl, cr, err := c.client()
	if err != nil {
		return err
	}
	if err := cl.Logout(ctx); err != nil && !api.IsCode(err, "unauthorized") {
		return err
	}
	p, _ := c.credentialsPath()
	if err := os.Remove(p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "signed out of %s; the token is revoked\n", cr.URL)
	return nil
}

func (c *cli) codeNew(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("code new", flag.ContinueOnError)
	admin := fs.String("admin", "", "ask the broker's admin `address` on this machine (no login needed), e.g. 127.0.0.1:5515")
	data := fs.String("data", broker.DefaultConfig().DataDir, "the broker's data `dir`ectory, whose "+broker.AdminTokenFile+" the admin address needs")
	if _, err := c.flags(fs, args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var code api.Code
	cl, cr, err := c.client()
	switch {
	case *admin != "" || errors.Is(err, errNotSignedIn):
		fallback := *admin == ""
		if fallback {
			*admin = "127.0.0.1:5515"
		}
		r, err := newCodeAdmin(ctx, *admin, filepath.Join(*data, broker.AdminTokenFile))
		if err != nil && fallback {
			return fmt.Errorf("not signed in (lifebuoy login https://help.example.com), and no broker's admin port on this machine: %w", err)
		}
		if err != nil {
			return err
		}
		code = api.Code{Code: r.Code, Grouped: r.Grouped, ExpiresAt: r.ExpiresAt}
	case err != nil:
		return err
	default:
		if code, err = cl.NewCode(ctx); err != nil {
			return err
		}
	}
	fmt.Fprintln(c.stdout, broker.GroupCode(code.Code))
	fmt.Fprintf(c.stdout, "code=%s expires=%s\n", code.Code, code.ExpiresAt.UTC().Format(time.RFC3339))
	for _, sys := range []string{"windows", "linux"} {
		if p, ok := code.Downloads[sys]; ok {
			fmt.Fprintf(c.stdout, "download %s %s%s\n", sys, cr.URL, p)
		}
	}
	return nil
}

// newCodeAdmin asks the broker's admin port (loopback only) for a code,
// with the admin token from the broker's data directory.
func newCodeAdmin(ctx context.Context, admin, tokenFile string) (*broker.CodeResponse, error) {
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("the broker's admin token (run as the broker's user, or give -data): %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/admin/codes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("broker: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var cr broker.CodeResponse
	if err := json.Unmarshal(body, &cr); err != nil {
		return nil, fmt.Errorf("broker answer: %w", err)
	}
	return &cr, nil
}

func (c *cli) sessions(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	all := fs.Bool("all", false, "every supporter's sessions (admins)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := c.flags(fs, args); err != nil {
		return err
	}
	cl, _, err := c.client()
	if err != nil {
		return err
	}
	ss, err := cl.Sessions(ctx, *all)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ss)
	}
	if len(ss) == 0 {
		fmt.Fprintln(c.stdout, "no waiting codes or live sessions")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CODE\tSTATE\tCUSTOMER\tRIGHTS\tSINCE\tSUPPORTER\tPATH")
	for _, s := range ss {
		rights := ""
		if s.RightsKnown {
			rights = "view only"
			if s.Control {
				rights = "control"
			}
			if s.Files {
				rights += "+files"
			}
		}
		since := ""
		if !s.Since.IsZero() {
			since = time.Since(s.Since).Round(time.Second).String()
		}
		who := s.Supporter.Name
		if who == "" && s.Viewer != "" {
			who = "an unidentified viewer at " + s.Viewer
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Grouped, s.State, printable(s.Customer), rights, since, printable(who), s.Path)
	}
	return tw.Flush()
}

// printable keeps names from the network from steering the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func (c *cli) end(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("end", flag.ContinueOnError)
	reason := fs.String("reason", "", "what the customer and the audit are told")
	pos, err := c.flags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("end takes one CODE")
	}
	cl, _, err := c.client()
	if err != nil {
		return err
	}
	code := broker.NormalizeCode(pos[0])
	if err := cl.End(ctx, code, *reason); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "ended %s\n", broker.GroupCode(code))
	return nil
}

func (c *cli) connect(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("connect", flag.ContinueOnError)
	viewerKind := fs.String("viewer", "auto", "the `viewer` to start: auto, none, tigervnc, realvnc, ultravnc, remmina or a path")
	listen := fs.String("listen", "127.0.0.1:0", "loopback `address` for the viewer")
	pos, err := c.flags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError("connect takes one CODE")
	}
	code := broker.NormalizeCode(pos[0])
	cr, err := c.loadCredentials()
	if err != nil {
		return err
	}
	var v bridge.Viewer
	if *viewerKind != "none" {
		if v, err = bridge.FindViewer(*viewerKind); err != nil {
			return err
		}
	}
	tlsCfg, err := bridgeTLS(cr.Fingerprint)
	if err != nil {
		return err
	}
	br, err := bridge.Listen(bridge.Config{URL: cr.URL, Token: cr.Token, Code: code, TLS: tlsCfg, Listen: *listen})
	if err != nil {
		return err
	}
	defer br.Close()
	addr := br.Addr()
	fmt.Fprintf(c.stdout, "address=%s::%d password=%s\n", addr.IP, addr.Port, br.Password())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if v.Path != "" {
		dir, err := os.MkdirTemp("", "lifebuoy-connect-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cmd, typed, err := v.Command(addr, br.Password(), dir)
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = c.stderr, c.stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("starting %s: %w", v.Path, err)
		}
		if typed != "" {
			fmt.Fprintln(c.stderr, typed)
		}
		fmt.Fprintf(c.stderr, "started %s (%s); waiting for the customer's consent\n", v.Path, v.Kind)
		viewerDone := make(chan struct{})
		go func() { cmd.Wait(); close(viewerDone) }()
		defer func() {
			select {
			case <-viewerDone:
			case <-time.After(5 * time.Second):
				cmd.Process.Kill()
				<-viewerDone
			}
		}()
		// A viewer that quits ends the bridge, whether it connected or not.
		go func() {
			select {
			case <-viewerDone:
				cancel()
			case <-ctx.Done():
			}
		}()
	} else {
		fmt.Fprintln(c.stderr, "start your viewer on that address with that password; the port takes one connection")
	}
	err = br.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err == nil {
		fmt.Fprintln(c.stderr, "session ended")
	}
	return err
}

func bridgeTLS(fingerprint string) (*tls.Config, error) {
	if fingerprint == "" {
		return nil, nil
	}
	return bridge.PinnedTLS(fingerprint)
}
