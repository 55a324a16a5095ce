package winvnc

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Command is one thing the customer asked for, from the terminal or the
// tray. It is a closed set: the agent's loop handles every case in one
// type switch.
type Command interface{ command() }

// The commands.
type (
	// CmdControl grants (On) or revokes remote control.
	CmdControl struct{ On bool }
	// CmdFiles allows (On) or forbids file transfer.
	CmdFiles struct{ On bool }
	// CmdWindows lists the top-level windows with numbers for CmdShare.
	CmdWindows struct{}
	// CmdShareAll shares the whole screen again.
	CmdShareAll struct{}
	// CmdShare shares only the windows with these numbers from the last
	// list.
	CmdShare struct{ Numbers []int }
	// CmdStatus shows the state.
	CmdStatus struct{}
	// CmdEnd ends the session; the agent exits.
	CmdEnd struct{}
	// CmdHelp lists the commands.
	CmdHelp struct{}
	// CmdAnswer answers the oldest open prompt.
	CmdAnswer struct{ Yes bool }
	// CmdArrow lets the supporter's pointer show as an arrow on the
	// screen while they have no control (On), or not.
	CmdArrow struct{ On bool }
)

func (CmdControl) command()  {}
func (CmdFiles) command()    {}
func (CmdWindows) command()  {}
func (CmdShareAll) command() {}
func (CmdShare) command()    {}
func (CmdStatus) command()   {}
func (CmdEnd) command()      {}
func (CmdHelp) command()     {}
func (CmdAnswer) command()   {}
func (CmdArrow) command()    {}

// Help is the command summary the terminal UI prints.
const Help = `commands:
  control on|off     allow or take back remote control (F12 takes it back too)
  files on|off       allow or forbid file transfer (F11 toggles)
  arrow on|off       show the supporter's pointer as an arrow while they have no control
  windows            list the windows, numbered
  share N [N...]     show the supporter only these windows
  share all          show the whole screen
  status             show the session and your rights
  send FILE          offer a file to the supporter (with file transfer allowed)
  cancel [N]         stop file transfer N, or all of them
  end                end the session and quit
  y | n              answer a question
  help               this list`

// errEmpty is a blank line: nothing to do, nothing to complain about.
var errEmpty = errors.New("empty command")

// ParseCommand reads one line of the terminal UI. Words are
// case-insensitive and may be separated by any white space.
func ParseCommand(line string) (Command, error) {
	if c, ok, err := parseFileCommand(line); ok { // files.go
		return c, err
	}
	f := strings.Fields(strings.ToLower(line))
	if len(f) == 0 {
		return nil, errEmpty
	}
	onOffArg := func() (bool, error) {
		if len(f) != 2 {
			return false, fmt.Errorf("%s: say %q or %q", f[0], f[0]+" on", f[0]+" off")
		}
		switch f[1] {
		case "on", "yes", "allow":
			return true, nil
		case "off", "no", "revoke", "deny":
			return false, nil
		}
		return false, fmt.Errorf("%s: say %q or %q", f[0], f[0]+" on", f[0]+" off")
	}
	noArgs := func(c Command) (Command, error) {
		if len(f) != 1 {
			return nil, fmt.Errorf("%s takes no arguments", f[0])
		}
		return c, nil
	}
	switch f[0] {
	case "control":
		on, err := onOffArg()
		if err != nil {
			return nil, err
		}
		return CmdControl{on}, nil
	case "files":
		on, err := onOffArg()
		if err != nil {
			return nil, err
		}
		return CmdFiles{on}, nil
	case "arrow":
		on, err := onOffArg()
		if err != nil {
			return nil, err
		}
		return CmdArrow{on}, nil
	case "windows":
		return noArgs(CmdWindows{})
	case "share":
		if len(f) == 2 && f[1] == "all" {
			return CmdShareAll{}, nil
		}
		if len(f) < 2 {
			return nil, errors.New(`share: say "share all" or "share N [N...]" with numbers from "windows"`)
		}
		var ns []int
		for _, s := range f[1:] {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("share: %q is not a window number from \"windows\"", s)
			}
			ns = append(ns, n)
		}
		return CmdShare{ns}, nil
	case "status":
		return noArgs(CmdStatus{})
	case "end", "quit", "exit":
		return noArgs(CmdEnd{})
	case "help", "?":
		return noArgs(CmdHelp{})
	case "y", "yes":
		return noArgs(CmdAnswer{true})
	case "n", "no":
		return noArgs(CmdAnswer{false})
	}
	return nil, fmt.Errorf("unknown command %q (try \"help\")", f[0])
}

// exeCode matches an agent whose file name carries a supporter-first code:
// winvnc-482913, winvnc-482913.exe, and a browser's second download of it,
// "winvnc-482913 (1).exe".
var exeCode = regexp.MustCompile(`^(?i)winvnc[-_ ](\d{4,12})(?: ?\(\d+\))?(?:\.exe)?$`)

// CodeFromFilename returns the session code in the agent's own file name,
// or "" if it carries none.
func CodeFromFilename(path string) string {
	// Both separators: a Windows path may be examined on any system.
	name := path[strings.LastIndexAny(path, `/\`)+1:]
	if m := exeCode.FindStringSubmatch(name); m != nil {
		return m[1]
	}
	return ""
}

// DefaultBrokerPort is the broker's agent port.
const DefaultBrokerPort = "5510"

// BrokerAddr adds the default port to a broker given as HOST.
func BrokerAddr(s string) string {
	if s == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		return s + ":" + DefaultBrokerPort
	}
	return net.JoinHostPort(s, DefaultBrokerPort)
}

// GroupCode writes a code in groups of three for reading aloud:
// "482913" → "482 913".
func GroupCode(code string) string {
	var b strings.Builder
	for i, r := range code {
		if i > 0 && (len(code)-i)%3 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
