// Package winvnc is the customer's agent: it shares the screen over RFB
// through the Lifebuoy broker (or directly, as a plain VNC server), and
// keeps the customer in charge.
//
// The customer's rights are enforced here, never only in the broker:
//
//   - view-only at start: remote input is dropped and counted (Rights);
//   - a consent prompt naming the supporter before the screen is shown;
//   - control granted only by the customer, taken back at once by F12 (a
//     global hotkey) or the UI; F11 toggles file transfer;
//   - application selection: only the chosen windows' visible parts
//     reach the encoder, the rest is painted as a grey checker;
//   - end session from either side: Run returns and nothing is left.
//
// One loop owns the UI, the open questions and the selection; the session
// goroutines (one per viewer) and the platform's capture send it events.
// The flow in broker mode:
//
//	agent → broker: dial (TLS 1.3, pinned), ask for a code or present one
//	UI:             "code 482913"
//	broker → agent: a viewer paired (its address)
//	UI:             "prompt Allow 203.0.113.7:51012 to see your screen? [y/n]"
//	customer:       y → data connection, RFB served; n → Decline
//	viewer leaves / customer types "end" → Run returns nil
//
// The smallest real use:
//
//	err := winvnc.Run(ctx, winvnc.Config{
//		Broker:      "help.example.com",
//		Fingerprint: "3f2a…",
//		UI:          winvnc.NewTerminal(os.Stdin, os.Stdout),
//	})
package winvnc
