package desk

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

// lang is a language the console speaks.
type lang string

const (
	english lang = "en"
	german  lang = "de"
)

var langs = []lang{english, german}

// langCookie keeps the language a supporter chose over the browser's.
const langCookie = "lb_lang"

// pickLang chooses the console's language: the cookie, else the
// browser's Accept-Language (the best-weighted of de and en), else English.
func pickLang(r *http.Request) lang {
	if c, err := r.Cookie(langCookie); err == nil {
		for _, l := range langs {
			if c.Value == string(l) {
				return l
			}
		}
	}
	best, bestQ := english, -1.0
	for i, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		if i > 32 {
			break
		}
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		for _, l := range langs {
			if base == string(l) && q > bestQ {
				best, bestQ = l, q
			}
		}
	}
	return best
}

// translate is the catalogue's text for key in l; English keys are the
// English text.
func translate(l lang, key string) string {
	if l == german {
		if s, ok := deText[key]; ok {
			return s
		}
	}
	return key
}

// tf translates a key with fmt verbs and fills them in.
func tf(l lang, key string, args ...any) string { return fmt.Sprintf(translate(l, key), args...) }

// formatTime writes a time the way the language does, in UTC.
func formatTime(l lang, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	if l == german {
		return t.UTC().Format("02.01.2006 15:04:05") + " UTC"
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// formatClock is a time of day.
func formatClock(t time.Time) string { return t.UTC().Format("15:04:05") + " UTC" }

// formatDuration is a rough "3 min" / "2 h 5 min".
func formatDuration(l lang, d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return tf(l, "%d s", int(d.Seconds()))
	case d < time.Hour:
		return tf(l, "%d min", int(d.Minutes()))
	}
	return tf(l, "%d h %d min", int(d.Hours()), int(d.Minutes())%60)
}

// formatBytes is a size in KiB/MiB/GiB.
func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

// deText is the German console. Every key the templates and handlers
// use must be here (TestGermanComplete).
var deText = map[string]string{
	// Layout and navigation.
	"Lifebuoy desk":        "Lifebuoy Support-Desk",
	"Home":                 "Start",
	"Admin":                "Verwaltung",
	"Account":              "Konto",
	"Sign out":             "Abmelden",
	"Language":             "Sprache",
	"Third-party licences": "Lizenzen von Drittanbietern",
	"Signed in as %s":      "Angemeldet als %s",

	// Sign-in.
	"Sign in":                           "Anmelden",
	"User name":                         "Benutzername",
	"Password":                          "Passwort",
	"Sign in with your company account": "Mit dem Firmenkonto anmelden",
	"or":                                "oder",
	"Second factor":                     "Zweiter Faktor",
	"One-time code":                     "Einmalcode",
	"The six digits from your authenticator app, or one of your recovery codes.": "Die sechs Ziffern aus Ihrer Authenticator-App oder einer Ihrer Wiederherstellungscodes.",
	"Verify":                               "Bestätigen",
	"Wrong user name or password.":         "Benutzername oder Passwort ist falsch.",
	"Wrong or already used one-time code.": "Der Einmalcode ist falsch oder wurde schon benutzt.",
	"This account is disabled.":            "Dieses Konto ist gesperrt.",
	"Too many failed sign-ins for this account. Try again at %s (in %s).":                                         "Zu viele fehlgeschlagene Anmeldungen für dieses Konto. Versuchen Sie es um %s wieder (in %s).",
	"Too many failed sign-ins from your address. Try again at %s (in %s).":                                        "Zu viele fehlgeschlagene Anmeldungen von Ihrer Adresse. Versuchen Sie es um %s wieder (in %s).",
	"The sign-in step expired. Please sign in again.":                                                             "Der Anmeldeschritt ist abgelaufen. Bitte melden Sie sich erneut an.",
	"Your session expired. Please sign in again.":                                                                 "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
	"The sign-in through your company's provider expired or was not started in this browser. Please start again.": "Die Anmeldung über den Anbieter Ihrer Firma ist abgelaufen oder wurde nicht in diesem Browser begonnen. Bitte beginnen Sie erneut.",
	"Your company's provider signed you in, but there is no desk account for you. Ask an admin.":                  "Der Anbieter Ihrer Firma hat Sie angemeldet, aber es gibt kein Desk-Konto für Sie. Fragen Sie einen Administrator.",
	"The sign-in through your company's provider failed.":                                                         "Die Anmeldung über den Anbieter Ihrer Firma ist fehlgeschlagen.",
	"Something went wrong on the server. Please try again.":                                                       "Auf dem Server ist ein Fehler aufgetreten. Bitte versuchen Sie es erneut.",
	"The support database cannot be reached; try again in a minute.":                                              "Die Support-Datenbank ist nicht erreichbar; versuchen Sie es in einer Minute erneut.",

	// Home.
	"Supporter first":  "Supporter zuerst",
	"Customer first":   "Kunde zuerst",
	"New session code": "Neuer Sitzungscode",
	"Give the customer a code to type into the agent, or a download link with the code in it.": "Geben Sie dem Kunden einen Code für den Agenten oder einen Download-Link, der den Code enthält.",
	"Customer's code": "Code des Kunden",
	"The six digits the customer's agent shows.": "Die sechs Ziffern, die der Agent beim Kunden anzeigt.",
	"Connect":                            "Verbinden",
	"Your sessions":                      "Ihre Sitzungen",
	"No waiting codes or live sessions.": "Keine wartenden Codes oder laufenden Sitzungen.",
	"Code":                               "Code",
	"State":                              "Zustand",
	"Customer":                           "Kunde",
	"Rights":                             "Rechte",
	"Since":                              "Seit",
	"Expires":                            "Läuft ab",
	"Open":                               "Öffnen",
	"on node":                            "auf Knoten",
	"That is not a session code: a code is %d digits.": "Das ist kein Sitzungscode: Ein Code hat %d Ziffern.",
	"No code could be issued: %s":                      "Es konnte kein Code vergeben werden: %s",
	"The browser viewer was not built into this broker (make web), so sessions cannot be shown here. Use lifebuoy connect with a stock viewer.": "Der Browser-Viewer wurde nicht in diesen Broker eingebaut (make web), daher können Sitzungen hier nicht angezeigt werden. Verwenden Sie lifebuoy connect mit einem VNC-Viewer.",

	// States and rights.
	"issued":                       "vergeben",
	"viewer-waiting":               "wartet auf Kunden",
	"waiting":                      "wartet auf Supporter",
	"asking":                       "Kunde wird gefragt",
	"paired":                       "verbunden",
	"relaying":                     "läuft",
	"closed":                       "beendet",
	"view only":                    "nur ansehen",
	"control":                      "Steuerung",
	"files":                        "Dateien",
	"an unidentified viewer at %s": "ein nicht angemeldeter Viewer bei %s",
	"%d s":                         "%d s",
	"%d min":                       "%d Min.",
	"%d h %d min":                  "%d Std. %d Min.",

	// The session page.
	"Session %s":                          "Sitzung %s",
	"Session":                             "Sitzung",
	"Tell the customer this code:":        "Nennen Sie dem Kunden diesen Code:",
	"valid until %s":                      "gültig bis %s",
	"Download the agent":                  "Agent herunterladen",
	"for Windows":                         "für Windows",
	"for Linux":                           "für Linux",
	"Waiting for the customer…":           "Warte auf den Kunden …",
	"Connecting…":                         "Verbinde …",
	"Waiting for the customer's consent…": "Warte auf die Zustimmung des Kunden …",
	"Connected":                           "Verbunden",
	"The session ended.":                  "Die Sitzung ist beendet.",
	"Refused: %s":                         "Abgelehnt: %s",
	"Machine":                             "Rechner",
	"The customer allows":                 "Der Kunde erlaubt",
	"Request control":                     "Steuerung anfragen",
	"The customer was asked.":             "Der Kunde wurde gefragt.",
	"Ctrl-Alt-Del":                        "Strg-Alt-Entf",
	"Scale to window":                     "An Fenster anpassen",
	"Full screen":                         "Vollbild",
	"Quality":                             "Qualität",
	"low":                                 "niedrig",
	"medium":                              "mittel",
	"high":                                "hoch",
	"lossless":                            "verlustfrei",
	"Clipboard":                           "Zwischenablage",
	"Send to the customer":                "An den Kunden senden",
	"End session":                         "Sitzung beenden",
	"Files":                               "Dateien",
	"Drop files here to send them to the customer.":     "Dateien hierher ziehen, um sie an den Kunden zu senden.",
	"Send files to the customer":                        "Dateien an den Kunden senden",
	"Offered by the customer":                           "Vom Kunden angeboten",
	"The customer's home folder":                        "Persönlicher Ordner des Kunden",
	"Refresh files":                                     "Dateien aktualisieren",
	"Sent to the customer as %s.":                       "An den Kunden gesendet als %s.",
	"Not sent: %s":                                      "Nicht gesendet: %s",
	"Sending %s…":                                       "%s wird gesendet…",
	"The customer has not allowed file transfer (F11).": "Der Kunde hat die Dateiübertragung nicht erlaubt (F11).",
	"Nothing offered.":                                  "Nichts angeboten.",
	"up":                                                "nach oben",
	"This session belongs to %s.":                       "Diese Sitzung gehört %s.",

	// Account.
	"Your account":          "Ihr Konto",
	"Display name":          "Anzeigename",
	"Team":                  "Team",
	"Role":                  "Rolle",
	"supporter":             "Supporter",
	"admin":                 "Administrator",
	"Change password":       "Passwort ändern",
	"Current password":      "Aktuelles Passwort",
	"New password":          "Neues Passwort",
	"New password again":    "Neues Passwort wiederholen",
	"The passwords differ.": "Die Passwörter stimmen nicht überein.",
	"The password was changed; other sessions were signed out.": "Das Passwort wurde geändert; andere Sitzungen wurden abgemeldet.",
	"Two-factor sign-in":               "Anmeldung mit zweitem Faktor",
	"On, with %d recovery codes left.": "Ein, %d Wiederherstellungscodes übrig.",
	"Off.":                             "Aus.",
	"Set up":                           "Einrichten",
	"Turn off":                         "Ausschalten",
	"Scan this code with your authenticator app, or type the key, then enter the code it shows.": "Scannen Sie diesen Code mit Ihrer Authenticator-App oder geben Sie den Schlüssel ein, und tragen Sie dann den angezeigten Code ein.",
	"Key": "Schlüssel",
	"Two-factor sign-in is on. Keep these recovery codes somewhere safe; each works once, and they are not shown again:": "Die Anmeldung mit zweitem Faktor ist eingeschaltet. Bewahren Sie diese Wiederherstellungscodes sicher auf; jeder gilt einmal, und sie werden nicht wieder angezeigt:",
	"Two-factor sign-in is off.": "Die Anmeldung mit zweitem Faktor ist ausgeschaltet.",
	"API tokens":                 "API-Token",
	"For the lifebuoy command line and scripts (docs/API.md).": "Für die Kommandozeile lifebuoy und Skripte (docs/API.md).",
	"Label":                        "Bezeichnung",
	"Created":                      "Erstellt",
	"Last used":                    "Zuletzt benutzt",
	"never":                        "nie",
	"New token":                    "Neues Token",
	"Revoke":                       "Widerrufen",
	"Your new token (shown once):": "Ihr neues Token (wird nur einmal angezeigt):",
	"Sign out everywhere":          "Überall abmelden",
	"Signed out everywhere else.":  "Überall sonst abgemeldet.",
	"Signed in with: %s":           "Angemeldet mit: %s",
	"Let the lifebuoy command line act as you?":                                                              "Der Kommandozeile lifebuoy erlauben, in Ihrem Namen zu handeln?",
	"A program on this computer asks for an API token for %s. Allow it only if you just ran lifebuoy login.": "Ein Programm auf diesem Rechner bittet um ein API-Token für %s. Erlauben Sie es nur, wenn Sie eben lifebuoy login ausgeführt haben.",
	"Allow": "Erlauben",
	"Check that your terminal shows the same characters:":             "Prüfen Sie, ob Ihr Terminal dieselben Zeichen zeigt:",
	"You may close this window.":                                      "Sie können dieses Fenster schließen.",
	"The command line was not allowed.":                               "Der Kommandozeile wurde nichts erlaubt.",
	"That request is not valid or expired; run lifebuoy login again.": "Diese Anfrage ist ungültig oder abgelaufen; führen Sie lifebuoy login erneut aus.",

	// Admin.
	"Live sessions": "Laufende Sitzungen",
	"Accounts":      "Konten",
	"Audit log":     "Audit-Protokoll",
	"Supporter":     "Supporter",
	"Path":          "Weg",
	"Traffic":       "Datenmenge",
	"End":           "Beenden",
	"Anonymous viewers (no account) may redeem codes.": "Anonyme Viewer (ohne Konto) dürfen Codes einlösen.",
	"Only signed-in supporters may redeem codes.":      "Nur angemeldete Supporter dürfen Codes einlösen.",
	"Add account":                            "Konto hinzufügen",
	"Add":                                    "Hinzufügen",
	"Sign-in":                                "Anmeldung",
	"enabled":                                "aktiv",
	"disabled":                               "gesperrt",
	"Disable":                                "Sperren",
	"Enable":                                 "Entsperren",
	"Make admin":                             "Zum Administrator machen",
	"Make supporter":                         "Zum Supporter machen",
	"Reset second factor":                    "Zweiten Faktor zurücksetzen",
	"Set password":                           "Passwort setzen",
	"Done.":                                  "Erledigt.",
	"Address":                                "Adresse",
	"From":                                   "Von",
	"Until":                                  "Bis",
	"Search":                                 "Suchen",
	"Time":                                   "Zeit",
	"Event":                                  "Ereignis",
	"Details":                                "Details",
	"Older":                                  "Ältere",
	"No records.":                            "Keine Einträge.",
	"Not allowed: this is not your session.": "Nicht erlaubt: Das ist nicht Ihre Sitzung.",
	"Not allowed: admins only.":              "Nicht erlaubt: nur für Administratoren.",
	"No such session.":                       "Keine solche Sitzung.",
	"The broker node that holds this session cannot be reached; try again.": "Der Broker-Knoten dieser Sitzung ist nicht erreichbar; bitte erneut versuchen.",
	"Not found.": "Nicht gefunden.",
	"The agent for download was not built for this broker.":                            "Der Agent zum Herunterladen wurde für diesen Broker nicht erstellt.",
	"A password needs at least %d characters.":                                         "Ein Passwort braucht mindestens %d Zeichen.",
	"A password may have at most %d bytes.":                                            "Ein Passwort darf höchstens %d Bytes haben.",
	"A user name is 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit.": "Ein Benutzername besteht aus 1 bis 64 Zeichen a-z, 0-9 und . _ @ - und beginnt mit einem Buchstaben oder einer Ziffer.",
	"This is the last enabled admin account.":                                          "Das ist das letzte aktive Administratorkonto.",
	"That user name is taken.":                                                         "Dieser Benutzername ist vergeben.",
}

// errorText words the errors a person can cause on the account and admin
// pages in their language; others keep their English text.
func errorText(l lang, err error) string {
	switch {
	case errors.Is(err, auth.ErrPasswordTooShort):
		return tf(l, "A password needs at least %d characters.", auth.MinPasswordLen)
	case errors.Is(err, auth.ErrPasswordTooLong):
		return tf(l, "A password may have at most %d bytes.", auth.MaxPasswordLen)
	case errors.Is(err, auth.ErrBadName):
		return translate(l, "A user name is 1 to 64 of a-z, 0-9 and . _ @ -, starting with a letter or digit.")
	case errors.Is(err, auth.ErrLastAdmin):
		return translate(l, "This is the last enabled admin account.")
	case errors.Is(err, store.ErrExists):
		return translate(l, "That user name is taken.")
	case errors.Is(err, store.ErrNotFound):
		return translate(l, "Not found.")
	}
	return err.Error()
}
