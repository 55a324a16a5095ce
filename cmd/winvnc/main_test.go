package main

import (
	"context"
	"image/color"
	"io"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	defaultBroker, defaultFingerprint = "help.example.com", "abcd"
	defer func() { defaultBroker, defaultFingerprint = "", "" }()

	cfg, _, err := parseFlags([]string{"/tmp/dl/winvnc-482913"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Broker != "help.example.com" || cfg.Fingerprint != "abcd" || cfg.Code != "482913" {
		t.Errorf("built-in defaults and the file name's code: %+v", cfg)
	}
	cfg, _, err = parseFlags([]string{"winvnc-482913.exe", "-code", "111 222", "-broker", "b:1"}, io.Discard)
	if err != nil || cfg.Code != "111 222" || cfg.Broker != "b:1" {
		t.Errorf("flags over defaults: %+v, %v", cfg, err)
	}
	cfg, _, err = parseFlags([]string{"winvnc", "-listen", ":5900", "-password-file", "pw"}, io.Discard)
	if err != nil || cfg.Broker != "" || cfg.Listen != ":5900" {
		t.Errorf("direct mode: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"winvnc", "-listen", ":5900"},
		{"winvnc", "extra"},
		{"winvnc", "-nosuchflag"},
		{"winvnc", "-ui", "fancy"},
		{"winvnc", "-brand-color", "green"},
		{"winvnc", "-brand-color", "#12345"},
	} {
		if _, _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
	cfg, opts, err := parseFlags([]string{"winvnc", "-ui", "window", "-brand-color", "#007A5E"}, io.Discard)
	if err != nil || opts.ui != "window" || cfg.BrandColor != (color.RGBA{0x00, 0x7a, 0x5e, 0xff}) || cfg.Brand != "Lifebuoy" {
		t.Errorf("-ui window -brand-color: %+v %+v, %v", cfg.BrandColor, opts, err)
	}
	defaultBroker = ""
	if _, _, err := parseFlags([]string{"winvnc"}, io.Discard); err == nil || !strings.Contains(err.Error(), "no broker") {
		t.Errorf("no broker: %v", err)
	}
}

func TestRunUsage(t *testing.T) {
	var out strings.Builder
	if code := run(context.Background(), []string{"winvnc", "-bogus"}, strings.NewReader(""), &out, &out); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
}
