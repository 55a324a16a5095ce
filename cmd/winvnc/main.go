// Command winvnc is the customer's agent: it shows the customer's screen
// to a supporter through the Lifebuoy broker (or directly, with -listen),
// view-only until the customer grants control. See winvnc.Run.
//
//	winvnc                                  # built-in broker, new code
//	winvnc -broker help.example.com -fingerprint 3f2a... -code 482913
//	winvnc -listen :5900 -password-file pw  # no broker
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"lifebuoy/winvnc"
)

// Build-time defaults, set with -ldflags "-X main.defaultBroker=HOST
// -X main.defaultFingerprint=HEX -X main.defaultHTTPSPorts=5512,443
// -X main.defaultBrand=NAME -X main.defaultBrandColor=#RRGGBB" (make agent
// BROKER=... FINGERPRINT=... HTTPS_PORTS=... BRAND=... BRAND_COLOR=...),
// so that the customer runs the file with no arguments. Without a
// fingerprint the broker's certificate must be valid for its name (ACME,
// a company CA). defaultBrand is the help desk's name on the tray icon
// and the window, defaultBrandColor the window's colour.
var (
	defaultBroker      string
	defaultFingerprint string
	defaultHTTPSPorts  = "5512" // comma-separated; "5512,443" where the broker also serves 443
	defaultBrand       string
	defaultBrandColor  string
)

// brand is the name the customer sees on the tray icon.
func brand() string {
	if defaultBrand != "" {
		return defaultBrand
	}
	return "Lifebuoy"
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the command line and runs the agent; it returns the exit
// code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "winvnc:", err)
		return 2
	}
	level := slog.LevelWarn
	if opts.verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	agent := func(ui winvnc.UI) int {
		cfg.UI = ui
		if err := winvnc.Run(ctx, cfg); err != nil {
			fmt.Fprintln(stderr, "winvnc:", err)
			return 1
		}
		return 0
	}
	// The terminal UI always runs: it is how scripts drive the agent.
	term := winvnc.NewTerminal(stdin, stdout)
	switch opts.ui {
	case "window":
		cfg.Window = winvnc.WindowOn
		return agent(term)
	case "auto":
		// The window where there is a display (the agent tells when
		// there is none), the tray beside it where there is one.
		cfg.Window = winvnc.WindowAuto
	}
	if opts.ui != "terminal" && trayAvailable() {
		return runWithTray(agent, term)
	}
	if opts.ui == "tray" {
		fmt.Fprintln(stderr, "winvnc: no tray on this desktop (no session bus or StatusNotifierWatcher)")
		return 1
	}
	return agent(term)
}

// options are the command line's settings beyond the agent's Config.
type options struct {
	verbose bool
	ui      string // auto, tray or terminal
}

// parseFlags builds the agent's configuration from the command line, the
// build-time defaults and the executable's own name.
func parseFlags(args []string, stderr io.Writer) (cfg winvnc.Config, opts options, err error) {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Broker, "broker", defaultBroker, "broker `HOST[:PORT]` (port 5510 by default)")
	fs.StringVar(&cfg.Fingerprint, "fingerprint", defaultFingerprint, "the broker certificate's SHA-256 `hex` fingerprint (not needed when its certificate is from a CA this computer trusts)")
	httpsPorts := fs.String("https-ports", defaultHTTPSPorts, "the broker's HTTPS `ports`, comma-separated, tried over WebSocket when its agent port is blocked")
	fs.StringVar(&cfg.Code, "code", "", "session `code` from the supporter (default: from the file name, else ask the broker for one)")
	fs.StringVar(&cfg.Name, "name", "", "this computer's name for the broker's log (default: host name)")
	fs.StringVar(&cfg.Proxy, "proxy", "", "HTTP proxy `URL` for the broker (default: $HTTPS_PROXY; \"direct\" for none)")
	fs.StringVar(&cfg.Listen, "listen", "", "direct mode: serve VNC on `ADDR` with no broker")
	fs.StringVar(&cfg.PasswordFile, "password-file", "", "direct mode: `file` whose first line is the VNC password")
	fs.StringVar(&cfg.Display, "display", "", "X `display` to share (default: $DISPLAY)")
	fs.BoolVar(&opts.verbose, "v", false, "log debug messages")
	fs.StringVar(&opts.ui, "ui", "auto", "`auto` (the window, and the tray where the desktop has one), window, tray or terminal; the terminal UI always runs beside them")
	brandColor := fs.String("brand-color", defaultBrandColor, "the window's colour, `#RRGGBB`")
	if err := fs.Parse(args[1:]); err != nil {
		return cfg, opts, err
	}
	switch opts.ui {
	case "auto", "window", "tray", "terminal":
	default:
		return cfg, opts, fmt.Errorf("-ui %q: want auto, window, tray or terminal", opts.ui)
	}
	cfg.Brand = brand()
	cfg.PickFiles = fileChooser()
	if *brandColor != "" {
		c, err := parseColor(*brandColor)
		if err != nil {
			return cfg, opts, fmt.Errorf("-brand-color: %w", err)
		}
		cfg.BrandColor = c
	}
	if fs.NArg() > 0 {
		return cfg, opts, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.Listen != "" {
		cfg.Broker = "" // direct mode ignores the built-in broker
		if cfg.PasswordFile == "" {
			return cfg, opts, errors.New("-listen needs -password-file")
		}
	} else {
		if cfg.Broker == "" {
			return cfg, opts, errors.New("no broker: give -broker HOST (or -listen ADDR -password-file FILE)")
		}
		for _, p := range strings.Split(*httpsPorts, ",") {
			if p = strings.TrimSpace(p); p != "" {
				if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
					return cfg, opts, fmt.Errorf("-https-ports: %q is not a port", p)
				}
				cfg.HTTPSPorts = append(cfg.HTTPSPorts, p)
			}
		}
		if cfg.HTTPSPorts == nil {
			cfg.HTTPSPorts = []string{} // none: the agent port only
		}
	}
	if cfg.Code == "" {
		exe := args[0]
		if p, err := os.Executable(); err == nil {
			exe = p
		}
		cfg.Code = winvnc.CodeFromFilename(exe)
		if cfg.Code == "" {
			cfg.Code = winvnc.CodeFromFilename(args[0])
		}
	}
	if cfg.Name == "" {
		cfg.Name, _ = os.Hostname()
	}
	return cfg, opts, nil
}

// parseColor reads #RRGGBB.
func parseColor(s string) (color.RGBA, error) {
	h := strings.TrimPrefix(s, "#")
	v, err := strconv.ParseUint(h, 16, 32)
	if len(h) != 6 || err != nil {
		return color.RGBA{}, fmt.Errorf("%q is not a colour like #007a5e", s)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}, nil
}
