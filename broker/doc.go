// Package broker is Lifebuoy's connection broker. Customers' agents and
// supporters' viewers both dial out to it; it pairs them by a one-time
// session code and relays their bytes.
//
// Ports (each configurable):
//
//	5510  agents: TLS 1.3, the agent channel of package agentlink
//	5511  stock VNC viewers: RFB 3.3/3.7/3.8, the VNC password is the code
//	      (viewer.go)
//	5514  UltraVNC repeater mode II: "ID:<code>", then RFB end to end
//	      (repeater.go)
//	5515  /healthz, /metrics and the admin API (admin.go)
//
// A code's life is in codes.go (State), guessing defence in throttle.go,
// the relay in relay.go. Every refusal, pairing and session end goes to
// the audit log, JSON lines in the data directory.
//
// Idle connections hold no goroutine: an agent's control link waiting for
// its supporter, and a spliced session with nothing to relay, wait in the
// broker's own epoll set (park_linux.go), and a goroutine starts when a
// byte arrives. A spliced session is its two connections alone: the
// agent's control link closes once its data connection is spliced.
//
// The smallest real use:
//
//	b, err := broker.New(broker.DefaultConfig(), logger)
//	fmt.Println("fingerprint sha256=" + b.Fingerprint())
//	err = b.Run(ctx) // until ctx is cancelled
package broker
