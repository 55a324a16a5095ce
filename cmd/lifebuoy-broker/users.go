package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"lifebuoy/broker"
	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

const usersUsage = `usage: lifebuoy-broker users [-data dir | -config file | -cluster postgres://…] COMMAND

  add NAME [-name "Anna Berger"] [-team "Acme Support"] [-role supporter|admin] [-oidc-only]
  list
  passwd NAME
  disable NAME
  enable NAME
  role NAME supporter|admin
  totp-reset NAME      (turns the second factor off, for a lost phone)

Passwords are read from the terminal (twice, not shown) or, when stdin is
not a terminal, from its first line; never from the command line.
A running broker ends the live sessions of a disabled account within
seconds. A cluster's accounts are in its PostgreSQL (-cluster, or the
config file's "cluster"), shared by all its brokers.`

// runUsers manages the desk's accounts in the data directory's database.
func runUsers(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("lifebuoy-broker users", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usersUsage) }
	def := broker.DefaultConfig()
	data := fs.String("data", def.DataDir, "data `dir`ectory")
	configFile := fs.String("config", "", "the broker's JSON configuration `file` (for its data_dir and cluster)")
	cluster := fs.String("cluster", "", "the cluster's PostgreSQL `URL` (postgres://…): its accounts, not the data directory's")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dir := *data
	if *configFile != "" {
		c := def
		if err := broker.LoadConfigFile(*configFile, &c); err != nil {
			fmt.Fprintln(stderr, "lifebuoy-broker users:", err)
			return 2
		}
		if !flagGiven(fs, "data") {
			dir = c.DataDir
		}
		if !flagGiven(fs, "cluster") {
			*cluster = c.Cluster
		}
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fmt.Fprintln(stderr, "lifebuoy-broker users:", err)
		return 1
	}
	db, err := openDeskDB(ctx, dir, *cluster)
	if err != nil {
		fmt.Fprintln(stderr, "lifebuoy-broker users:", err)
		return 1
	}
	defer db.Close()
	u := &usersCmd{svc: auth.NewService(db, nil), db: db, stdin: stdin, stdout: stdout, stderr: stderr}
	err = u.run(ctx, rest[0], rest[1:])
	var usage usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "lifebuoy-broker users:", err)
		fmt.Fprintln(stderr, usersUsage)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "lifebuoy-broker users:", err)
		return 1
	}
	return 0
}

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

type usageError string

func (e usageError) Error() string { return string(e) }

type usersCmd struct {
	svc            *auth.Service
	db             *store.DB
	stdin          io.Reader
	stdout, stderr io.Writer
	lines          *bufio.Reader
}

func (u *usersCmd) run(ctx context.Context, verb string, args []string) error {
	one := func() (string, error) {
		if len(args) != 1 {
			return "", usageError(verb + " takes one NAME")
		}
		return args[0], nil
	}
	switch verb {
	case "add":
		return u.add(ctx, args)
	case "list":
		return u.list(ctx)
	case "passwd":
		name, err := one()
		if err != nil {
			return err
		}
		if _, err := u.db.Account(ctx, name); err != nil {
			return err
		}
		pw, err := u.password(name)
		if err != nil {
			return err
		}
		if err := u.svc.ChangePassword(ctx, name, pw); err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "password of %s changed; its console sessions were signed out\n", name)
	case "disable", "enable":
		name, err := one()
		if err != nil {
			return err
		}
		if err := u.svc.SetDisabled(ctx, name, verb == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "%s %sd\n", name, verb)
	case "role":
		if len(args) != 2 {
			return usageError("role takes NAME and supporter|admin")
		}
		r := store.Role(args[1])
		if !r.Valid() {
			return usageError("a role is supporter or admin")
		}
		if err := u.svc.SetRole(ctx, args[0], r); err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "%s is now %s\n", args[0], r)
	case "totp-reset":
		name, err := one()
		if err != nil {
			return err
		}
		if _, err := u.db.Account(ctx, name); err != nil {
			return err
		}
		if err := u.svc.DisableTOTP(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(u.stdout, "second factor of %s turned off; they set it up again in the console\n", name)
	default:
		return usageError(fmt.Sprintf("unknown command %q", verb))
	}
	return nil
}

func (u *usersCmd) add(ctx context.Context, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usageError("add takes NAME first")
	}
	name := args[0]
	fs := flag.NewFlagSet("add", flag.ContinueOnError)
	fs.SetOutput(u.stderr)
	display := fs.String("name", "", "display `name` (\"Anna Berger\"); default the user name")
	team := fs.String("team", "", "`team` (\"Acme Support\")")
	role := fs.String("role", "supporter", "supporter or admin")
	oidcOnly := fs.Bool("oidc-only", false, "no password: the account signs in only through the OIDC provider")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("unexpected arguments %q", fs.Args()))
	}
	if !store.Role(*role).Valid() {
		return usageError("a role is supporter or admin")
	}
	if !auth.ValidName(name) {
		return auth.ErrBadName
	}
	if _, err := u.db.Account(ctx, name); err == nil {
		return fmt.Errorf("account %q: %w", name, store.ErrExists)
	}
	var pw string
	if !*oidcOnly {
		var err error
		if pw, err = u.password(name); err != nil {
			return err
		}
	}
	if err := u.svc.CreateAccount(ctx, auth.NewAccount{Name: name, DisplayName: *display, Team: *team,
		Role: store.Role(*role), Password: pw}); err != nil {
		return err
	}
	fmt.Fprintf(u.stdout, "added %s (%s)\n", name, *role)
	return nil
}

func (u *usersCmd) list(ctx context.Context) error {
	as, err := u.db.Accounts(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(u.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDISPLAY NAME\tTEAM\tROLE\tSTATE\tSIGN-IN")
	for _, a := range as {
		state := "enabled"
		if a.Disabled {
			state = "disabled"
		}
		var how []string
		if a.PasswordHash != "" {
			how = append(how, "password")
		}
		if a.TOTPSecret != "" {
			how = append(how, "totp")
		}
		if a.OIDCSubject != "" {
			how = append(how, "oidc")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Name, oneLine(a.DisplayName), oneLine(a.Team), a.Role, state, strings.Join(how, "+"))
	}
	return tw.Flush()
}

// oneLine keeps a name from breaking the table (or the terminal).
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// password reads a new password: from the terminal twice without echo,
// or the first line of a non-terminal stdin.
func (u *usersCmd) password(name string) (string, error) {
	var pw string
	if f, ok := u.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(u.stderr, "New password for %s: ", name)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(u.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(u.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(u.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the passwords differ")
		}
		pw = string(a)
	} else {
		if u.lines == nil {
			u.lines = bufio.NewReader(io.LimitReader(u.stdin, 4096))
		}
		line, err := u.lines.ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on stdin")
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	return pw, auth.CheckPasswordRules(pw)
}
