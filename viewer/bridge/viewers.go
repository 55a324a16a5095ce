package bridge

import (
	"bytes"
	"context"
	"crypto/des"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Viewer is a stock VNC viewer the bridge can start.
type Viewer struct {
	Kind string // "tigervnc", "realvnc", "ultravnc", "remmina"
	Path string
}

// Kinds of viewers FindViewer knows, in the order "auto" tries them.
var viewerKinds = []string{"tigervnc", "realvnc", "ultravnc", "remmina"}

// errNoStockViewer says what to install.
var errNoStockViewer = errors.New("no stock VNC viewer found (TigerVNC vncviewer, RealVNC Viewer, UltraVNC vncviewer.exe or Remmina); install one, or use -viewer none and start yours by hand")

// FindViewer finds a viewer: kind is "auto", one of the kinds, or the
// path of a viewer program (its kind guessed from its name).
func FindViewer(kind string) (Viewer, error) {
	switch kind {
	case "", "auto":
		for _, k := range viewerKinds {
			if v, err := FindViewer(k); err == nil {
				return v, nil
			}
		}
		return Viewer{}, errNoStockViewer
	case "tigervnc":
		for _, name := range []string{"xtigervncviewer", "vncviewer"} {
			if p, err := exec.LookPath(name); err == nil && viewerBrand(p) == "tigervnc" {
				return Viewer{Kind: kind, Path: p}, nil
			}
		}
	case "realvnc":
		for _, name := range []string{"vncviewer", "realvnc-vnc-viewer"} {
			if p, err := exec.LookPath(name); err == nil && viewerBrand(p) == "realvnc" {
				return Viewer{Kind: kind, Path: p}, nil
			}
		}
	case "ultravnc":
		if runtime.GOOS == "windows" {
			for _, p := range []string{"vncviewer.exe", `C:\Program Files\uvnc bvba\UltraVNC\vncviewer.exe`, `C:\Program Files\UltraVNC\vncviewer.exe`} {
				if lp, err := exec.LookPath(p); err == nil {
					return Viewer{Kind: kind, Path: lp}, nil
				}
			}
		}
	case "remmina":
		if p, err := exec.LookPath("remmina"); err == nil {
			return Viewer{Kind: kind, Path: p}, nil
		}
	default:
		if strings.ContainsAny(kind, `/\`) {
			p, err := exec.LookPath(kind)
			if err != nil {
				return Viewer{}, err
			}
			v := Viewer{Path: p}
			base := strings.ToLower(filepath.Base(p))
			switch {
			case strings.Contains(base, "remmina"):
				v.Kind = "remmina"
			case strings.HasSuffix(base, ".exe"):
				v.Kind = "ultravnc"
			default:
				v.Kind = viewerBrand(p)
			}
			if v.Kind == "" {
				v.Kind = "tigervnc"
			}
			return v, nil
		}
		return Viewer{}, fmt.Errorf("viewer %q: want auto, none, tigervnc, realvnc, ultravnc, remmina or a path", kind)
	}
	return Viewer{}, fmt.Errorf("%s viewer not found", kind)
}

// viewerBrand tells TigerVNC's vncviewer from RealVNC's by what it says
// about itself.
func viewerBrand(path string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, path, "-h").CombinedOutput()
	switch {
	case bytes.Contains(out, []byte("TigerVNC")):
		return "tigervnc"
	case bytes.Contains(out, []byte("RealVNC")), bytes.Contains(out, []byte("VNC Viewer")):
		return "realvnc"
	}
	return ""
}

// Command is the command that starts v on the bridge. dir is a private
// folder (0700) for the password file. typed is "" when the viewer gets
// the password by itself, else a sentence asking the supporter to type it.
//
// The password never goes on a command line where other local users can
// read it (/proc/PID/cmdline) but for UltraVNC on Windows, where other
// users cannot read a process's command line.
func (v Viewer) Command(addr *net.TCPAddr, password, dir string) (cmd *exec.Cmd, typed string, err error) {
	host := addr.IP.String()
	port := strconv.Itoa(addr.Port)
	switch v.Kind {
	case "tigervnc":
		f := filepath.Join(dir, "passwd")
		if err := os.WriteFile(f, VNCPasswdFile(password), 0o600); err != nil {
			return nil, "", err
		}
		return exec.Command(v.Path, "-passwd", f, host+"::"+port), "", nil
	case "ultravnc":
		return exec.Command(v.Path, host+"::"+port, "-password", password), "", nil
	case "realvnc":
		return exec.Command(v.Path, host+"::"+port), "type the one-time password " + password + " when the viewer asks", nil
	case "remmina":
		return exec.Command(v.Path, "-c", "vnc://"+host+":"+port), "type the one-time password " + password + " when Remmina asks", nil
	}
	return nil, "", fmt.Errorf("unknown viewer kind %q", v.Kind)
}

// vncPasswdKey is the fixed key that vncpasswd files are obscured with.
var vncPasswdKey = [8]byte{23, 82, 107, 6, 35, 78, 88, 7}

// VNCPasswdFile is a vncpasswd file for password, as TigerVNC's -passwd
// reads it: the first 8 bytes of the password, DES-encrypted with a
// fixed key whose bytes are bit-reversed (as in VNC Authentication). It
// obscures; the file's mode protects it.
func VNCPasswdFile(password string) []byte {
	var key, pw [8]byte
	for i, b := range vncPasswdKey {
		key[i] = reverse(b)
	}
	copy(pw[:], password)
	block, err := des.NewCipher(key[:])
	if err != nil {
		panic(err) // the key is always 8 bytes
	}
	out := make([]byte, 8)
	block.Encrypt(out, pw[:])
	return out
}

func reverse(b byte) byte {
	var r byte
	for i := range 8 {
		if b&(1<<i) != 0 {
			r |= 0x80 >> i
		}
	}
	return r
}
