// Command lifebuoy is the supporter's command line.
//
//	lifebuoy login [-fingerprint HEX] [-user NAME] [-browser] https://help.example.com[:5512]
//	lifebuoy logout
//	lifebuoy code new [-admin 127.0.0.1:5515]
//	lifebuoy sessions [-all] [-json]
//	lifebuoy end [-reason TEXT] CODE
//	lifebuoy connect [-viewer auto|none|tigervnc|realvnc|ultravnc|remmina|PATH] CODE
//
// login signs in to the broker's desk (password and one-time code, or
// -browser for the console's sign-in, OIDC included) and keeps an API
// token in the user's config directory (lifebuoy/credentials.json, mode
// 0600). The other commands use it. "code new" without a login (or with
// -admin) asks the broker's admin port on this machine instead.
//
// connect bridges a stock VNC viewer to the session: TLS to the broker
// as the signed-in supporter, and on this machine a loopback port that
// takes exactly one connection, protected by a one-time VNC password
// (viewer/bridge). It prints "address=127.0.0.1::PORT password=XXXXXXXX"
// and starts the viewer it finds.
//
// code new prints the code grouped for reading out ("482 913"), then a
// line a script can parse: "code=482913 expires=2026-01-02T15:04:05Z".
package main

import (
	"io"
	"os"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return (&cli{stdin: os.Stdin, stdout: stdout, stderr: stderr}).run(args)
}
