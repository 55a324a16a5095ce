package panel

import "strings"

// Lang is the language the window speaks.
type Lang int

// The languages.
const (
	English Lang = iota
	German
)

func (l Lang) String() string {
	if l == German {
		return "de"
	}
	return "en"
}

// LangFromLocale picks the language of a POSIX locale name ("de_DE.UTF-8")
// or a Windows one ("de-AT"): German for "de", English otherwise.
func LangFromLocale(locale string) Lang {
	l := strings.ToLower(locale)
	if l == "de" || strings.HasPrefix(l, "de_") || strings.HasPrefix(l, "de-") || strings.HasPrefix(l, "de.") {
		return German
	}
	return English
}

// LangFromEnv picks the language as POSIX programs do: the first set of
// LC_ALL, LC_MESSAGES and LANG.
func LangFromEnv(getenv func(string) string) Lang {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(k); v != "" {
			return LangFromLocale(v)
		}
	}
	return English
}

// text is every string the window shows, in one language.
type text struct {
	codeLabel   string
	expires     string // %s: 15:04
	expired     string
	connecting  string
	waiting     string
	asking      string // %s: who
	sharing     string // %s: who
	ended       string
	askView     string // %s: who
	askControl  string // %s: who
	allow, deny string
	control     string
	files       string
	arrow       string
	hide        string
	noKey       string
	end         string
	close       string
	transfers   string
	cancel      string
	send        string // the button
	sendTitle   string // the file chooser's title
	sendFailed  string
	receiving   string // %s name, %d percent
	sending     string
	received    string // %s name
	sent        string
	aborted     string // %s name, %s why
	offered     string // %s name
	someone     string
	phase       [numPhases]string // short, for the title
	on, off     string
}

var texts = [...]text{
	English: {
		codeLabel:  "Your session code",
		expires:    "Valid until %s",
		expired:    "This code has expired. Start the program again for a new one.",
		connecting: "Connecting…",
		waiting:    "Read this code to your supporter. Nobody sees your screen until you allow it.",
		asking:     "%s wants to see your screen.",
		sharing:    "%s sees your screen.",
		ended:      "The session has ended.",
		askView:    "%s wants to see your screen.",
		askControl: "%s asks to control your mouse and keyboard.",
		allow:      "Allow",
		deny:       "Deny",
		control:    "Remote control",
		files:      "File transfer",
		arrow:      "Supporter's pointing arrow",
		hide:       "Hide this window from the supporter",
		noKey:      "no key",
		end:        "End session",
		close:      "Close",
		transfers:  "Files",
		cancel:     "Cancel transfers",
		send:       "Send files…",
		sendTitle:  "Send files to the supporter",
		sendFailed: "The file chooser could not be opened, so no file was offered. Please tell your supporter.",
		receiving:  "Receiving %s: %d %%",
		sending:    "Sending %s: %d %%",
		received:   "Received %s (in Downloads/Lifebuoy)",
		sent:       "Sent %s",
		aborted:    "Stopped %s: %s",
		offered:    "Offered %s to the supporter",
		someone:    "The supporter",
		phase:      [numPhases]string{"connecting", "waiting", "asking", "sharing", "ended"},
		on:         "on",
		off:        "off",
	},
	German: {
		codeLabel:  "Ihre Sitzungsnummer",
		expires:    "Gültig bis %s Uhr",
		expired:    "Diese Nummer ist abgelaufen. Starten Sie das Programm neu.",
		connecting: "Verbindung wird aufgebaut…",
		waiting:    "Nennen Sie diese Nummer Ihrem Berater. Niemand sieht Ihren Bildschirm ohne Ihre Erlaubnis.",
		asking:     "%s möchte Ihren Bildschirm sehen.",
		sharing:    "%s sieht Ihren Bildschirm.",
		ended:      "Die Sitzung ist beendet.",
		askView:    "%s möchte Ihren Bildschirm sehen.",
		askControl: "%s möchte Maus und Tastatur steuern.",
		allow:      "Zulassen",
		deny:       "Ablehnen",
		control:    "Fernsteuerung",
		files:      "Dateiübertragung",
		arrow:      "Zeigepfeil des Beraters",
		hide:       "Fenster vor dem Berater verbergen",
		noKey:      "keine Taste",
		end:        "Sitzung beenden",
		close:      "Schließen",
		transfers:  "Dateien",
		cancel:     "Übertragungen abbrechen",
		send:       "Dateien senden…",
		sendTitle:  "Dateien an den Berater senden",
		sendFailed: "Die Dateiauswahl ließ sich nicht öffnen, daher wurde keine Datei angeboten. Bitte sagen Sie es Ihrem Berater.",
		receiving:  "Empfange %s: %d %%",
		sending:    "Sende %s: %d %%",
		received:   "%s empfangen (in Downloads/Lifebuoy)",
		sent:       "%s gesendet",
		aborted:    "%s abgebrochen: %s",
		offered:    "%s dem Berater angeboten",
		someone:    "Der Berater",
		phase:      [numPhases]string{"Verbindung", "wartet", "Anfrage", "freigegeben", "beendet"},
		on:         "an",
		off:        "aus",
	},
}
