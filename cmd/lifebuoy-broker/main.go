// Command lifebuoy-broker runs Lifebuoy's connection broker.
//
//	lifebuoy-broker [-config broker.json] [-data dir] [-agent-listen :5510] ...
//	lifebuoy-broker users add|list|passwd|disable|enable|role|totp-reset ...
//
// On start it prints "fingerprint sha256=<hex>" on a line of its own: the
// certificate fingerprint agents pin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"lifebuoy/broker"
)

func main() { os.Exit(run()) }

func run() int {
	if len(os.Args) > 1 && os.Args[1] == "users" {
		return runUsers(os.Args[2:], os.Stdin, os.Stdout, os.Stderr)
	}
	deskArgs, args := splitDeskFlags(os.Args[1:])
	cfg, err := broker.ConfigFromArgs("lifebuoy-broker", args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		printDeskUsage(os.Stderr)
		return 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifebuoy-broker:", err)
		return 2
	}
	dc, err := parseDeskFlags(deskArgs, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifebuoy-broker:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	b, err := broker.New(cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifebuoy-broker:", err)
		return 1
	}
	defer b.Close()
	if b.CreatedCertificate() {
		log.Info("created a new broker certificate", "dir", cfg.DataDir)
	}
	fmt.Println("fingerprint sha256=" + b.Fingerprint())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reads the certificate files again (renewed by the admin's
	// tooling); running sessions are not touched.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				if err := b.ReloadCertificate(); err != nil {
					log.Error("certificate reload failed; keeping the old one", "err", err)
				} else {
					fmt.Println("fingerprint sha256=" + b.Fingerprint())
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	stopDesk, err := startDesk(ctx, cfg, dc, b, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lifebuoy-broker:", err)
		return 1
	}
	defer stopDesk()
	if err := b.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lifebuoy-broker:", err)
		return 1
	}
	log.Info("broker stopped")
	return 0
}
