package desk

import (
	"context"
	"path/filepath"
	"time"

	"lifebuoy/viewer/store"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzAcceptLanguage: any header picks one of the console's languages.
func FuzzAcceptLanguage(f *testing.F) {
	for _, s := range []string{"", "de-DE,de;q=0.9,en;q=0.8", "en-GB,de;q=0.5", "*", "de;q=NaN", "de;q=1e400,en", ";;;,,,q="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Accept-Language", h)
		if l := pickLang(r); l != english && l != german {
			t.Fatalf("%q picked %q", h, l)
		}
	})
}

// FuzzAuditQuery: any query string is a clear error or a search that the
// store runs without an error (the text goes to LIKE patterns and
// parameters, never into the SQL).
func FuzzAuditQuery(f *testing.F) {
	for _, s := range []string{"supporter=anna&code=482+913", "since=2026-11-29T10:00:00Z&until=2026-11-30", "since=yesterday",
		"before=-1&limit=99999999999999999999", "addr=%25_%5C", "text='%3B+DROP+TABLE+audit%3B--"} {
		f.Add(s)
	}
	db, err := store.OpenSQLite(context.Background(), filepath.Join(f.TempDir(), store.SQLiteFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	db.AddAudit(context.Background(), store.AuditRecord{At: time.Now(), Level: "INFO", Msg: "paired", Code: "482913", Attrs: "{}"})
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		aq, err := auditQuery(q)
		if err != nil {
			return
		}
		if _, err := db.Audit(context.Background(), aq); err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
	})
}
