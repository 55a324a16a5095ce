package desk

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"lifebuoy/broker"
	"lifebuoy/viewer/store"
)

//go:embed templates
var templateFS embed.FS

// pageNames are the templates that are whole pages (each with the layout).
var pageNames = []string{"signin", "home", "session", "message", "account", "cli", "admin_sessions", "admin_accounts", "admin_audit"}

type pageSet map[string]*template.Template

func funcs(l lang, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"t":     func(key string) string { return translate(l, key) },
		"tf":    func(key string, args ...any) string { return tf(l, key, args...) },
		"group": broker.GroupCode,
		"clock": formatClock,
		"when":  func(t time.Time) string { return formatTime(l, t) },
		"since": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return formatDuration(l, now().Sub(t))
		},
		"bytes": formatBytes,
		"base":  path.Base,
	}
}

func parseTemplates() (map[lang]pageSet, error) {
	out := map[lang]pageSet{}
	for _, l := range langs {
		ps := pageSet{}
		for _, name := range append(pageNames, "list") {
			files := []string{"templates/layout.html", "templates/partials.html", "templates/" + name + ".html"}
			// The clock is bound per request through the data's Now, so
			// templates take time.Now here and are parsed once.
			t, err := template.New(name).Funcs(funcs(l, time.Now)).ParseFS(templateFS, files...)
			if err != nil {
				return nil, fmt.Errorf("desk templates: %w", err)
			}
			ps[name] = t
		}
		out[l] = ps
	}
	return out, nil
}

// view is what every page template gets.
type view struct {
	Lang   lang
	Title  string
	User   *store.Account
	Admin  bool
	NoVNC  bool
	Error  string
	Notice string
	Data   any
}

// render writes a whole page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	l := pickLang(r)
	v.Lang = l
	v.NoVNC = s.novnc
	if v.User != nil {
		v.Admin = v.User.Role == store.RoleAdmin
	}
	v.Title = translate(l, v.Title)
	var buf bytes.Buffer
	if err := s.pages[l][name].ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("desk: rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Language", string(l))
	h.Set("Vary", "Accept-Language, Cookie")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderFragment writes one named template alone (the live lists).
func (s *Server) renderFragment(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	l := pickLang(r)
	var buf bytes.Buffer
	if err := s.pages[l][page].ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("desk: rendering", "fragment", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// message renders a short page with a title and a sentence.
func (s *Server) message(w http.ResponseWriter, r *http.Request, u *store.Account, status int, title, text string) {
	s.render(w, r, status, "message", view{Title: title, User: u, Data: translate(pickLang(r), text)})
}

// templateKeys lists the catalogue keys the templates use, for the test
// that the German catalogue is complete.
func templateKeys() ([]string, error) {
	var keys []string
	err := fs.WalkDir(templateFS, "templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFS, p)
		if err != nil {
			return err
		}
		s := string(b)
		for _, fn := range []string{`{{t "`, `{{tf "`, `(t "`, `(tf "`} {
			rest := s
			for {
				i := strings.Index(rest, fn)
				if i < 0 {
					break
				}
				rest = rest[i+len(fn):]
				j := strings.Index(rest, `"`)
				if j < 0 {
					break
				}
				keys = append(keys, rest[:j])
			}
		}
		return nil
	})
	return keys, err
}
