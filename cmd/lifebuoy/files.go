package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"lifebuoy/broker"
	"lifebuoy/viewer/api"
)

// put uploads files to the customer's Downloads/Lifebuoy folder; the
// customer must allow file transfer (F11).
func (c *cli) put(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	pos, err := c.flags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageError("put takes a CODE and one or more FILEs")
	}
	cl, _, err := c.client()
	if err != nil {
		return err
	}
	code := broker.NormalizeCode(pos[0])
	for _, name := range pos[1:] {
		if err := c.putOne(ctx, cl, code, name); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func (c *cli) putOne(ctx context.Context, cl *api.Client, code, name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return errors.New("not a file")
	}
	h := sha256.New()
	st, err := cl.PutFile(ctx, code, fi.Name(), fi.Size(), io.TeeReader(f, h))
	if err != nil {
		return err
	}
	if sum := hex.EncodeToString(h.Sum(nil)); st.SHA256 != sum {
		return fmt.Errorf("the customer's copy has SHA-256 %s, this file %s", st.SHA256, sum)
	}
	fmt.Fprintf(c.stdout, "put %s → %s/%s (%d bytes, sha256 %s)\n", name, st.Folder, st.Name, st.Size, st.SHA256)
	return nil
}

// get downloads a file the customer offered (PATH is its name or
// number) or a file of the customer's home folder (PATH relative to it).
func (c *cli) get(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	out := fs.String("o", "", "where to write the `file` (default: its name, in this folder); never replaced")
	pos, err := c.flags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return usageError("get takes a CODE and a PATH")
	}
	cl, _, err := c.client()
	if err != nil {
		return err
	}
	code, path := broker.NormalizeCode(pos[0]), pos[1]
	offer := ""
	if o, err := cl.Offers(ctx, code); err == nil {
		for _, x := range o.Offers {
			if x.ID == path || x.Name == path {
				offer = x.ID
			}
		}
	} else if !api.IsCode(err, "refused") {
		return err
	}
	d, err := cl.GetFile(ctx, code, path, offer)
	if err != nil {
		return err
	}
	defer d.Close()
	dst := *out
	if dst == "" {
		dst = localName(d.Name)
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), d)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	sum := hex.EncodeToString(h.Sum(nil))
	var stopped *api.TransferError
	switch {
	case errors.As(err, &stopped):
		err = fmt.Errorf("the download stopped after %d of %d bytes: %s", n, d.Size, stopped.Reason)
	case err != nil:
		err = fmt.Errorf("the download broke off after %d of %d bytes (the customer may have stopped it): %w", n, d.Size, err)
	case n != d.Size:
		err = fmt.Errorf("%d of %d bytes arrived", n, d.Size)
	case d.SHA256() != sum:
		err = fmt.Errorf("SHA-256 %s, but the customer's agent read %q", sum, d.SHA256())
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	fmt.Fprintf(c.stdout, "got %s → %s (%d bytes, sha256 %s)\n", path, dst, n, sum)
	return nil
}

// localName is a name the customer's side gave, made safe for this
// folder: its last element, no control, reserved or bidirectional
// override characters, no
// leading dot (a hidden file such as .profile is never made), not a
// Windows device name, at most maxLocalName bytes.
func localName(name string) string {
	name = name[strings.LastIndexAny(name, `/\`)+1:]
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f:
			return -1 // bidirectional overrides make "gpj.exe" look like "exe.jpg"
		case r < 0x20 || (r >= 0x7f && r < 0xa0) || r == utf8.RuneError || strings.ContainsRune(`<>:"|?*`, r):
			return '_'
		}
		return r
	}, name)
	name = fitLocalName(strings.Trim(name, " ."))
	if stem, _, _ := strings.Cut(name, "."); deviceName(strings.TrimRight(stem, " ")) {
		// Cut again after the "_": the stem keeps it, so it is no
		// device name any more.
		name = fitLocalName("_" + name)
	}
	if name == "" {
		name = "download"
	}
	return name
}

// fitLocalName cuts name to maxLocalName bytes at a rune's end, without
// trailing spaces and dots.
func fitLocalName(name string) string {
	for len(name) > maxLocalName {
		_, n := utf8.DecodeLastRuneInString(name)
		name = strings.TrimRight(name[:len(name)-n], " .")
	}
	return name
}

// maxLocalName is the longest name localName gives (most file systems
// take 255 bytes).
const maxLocalName = 240

// deviceName reports whether stem names a Windows device (CON, COM1...),
// whatever its case.
func deviceName(stem string) bool {
	switch strings.ToUpper(stem) {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return true
	}
	u := strings.ToUpper(stem)
	if len(u) == 4 && (strings.HasPrefix(u, "COM") || strings.HasPrefix(u, "LPT")) && u[3] >= '0' && u[3] <= '9' {
		return true
	}
	for _, sup := range []string{"¹", "²", "³"} {
		if u == "COM"+sup || u == "LPT"+sup {
			return true
		}
	}
	return false
}
