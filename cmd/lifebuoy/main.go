// Command lifebuoy is the supporter's command line.
//
//	lifebuoy code new [-admin 127.0.0.1:5515]
//
// asks the broker for a supporter-first session code and prints it
// grouped for reading out ("482 913"), then a line a script can parse:
// "code=482913 expires=2026-01-02T15:04:05Z".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"lifebuoy/broker"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 || args[0] != "code" || args[1] != "new" {
		fmt.Fprintln(stderr, "usage: lifebuoy code new [-admin host:port]")
		return 2
	}
	fs := flag.NewFlagSet("lifebuoy code new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	admin := fs.String("admin", "127.0.0.1:5515", "the broker's admin `address`")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cr, err := newCode(ctx, *admin)
	if err != nil {
		fmt.Fprintln(stderr, "lifebuoy:", err)
		return 1
	}
	fmt.Fprintln(stdout, broker.GroupCode(cr.Code))
	fmt.Fprintf(stdout, "code=%s expires=%s\n", cr.Code, cr.ExpiresAt.UTC().Format(time.RFC3339))
	return 0
}

func newCode(ctx context.Context, admin string) (*broker.CodeResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+admin+"/admin/codes", nil)
	if err != nil {
		return nil, err
	}
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
