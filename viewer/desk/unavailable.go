package desk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"lifebuoy/viewer/auth"
	"lifebuoy/viewer/store"
)

// msgUnavailable is what a supporter reads when the desk's database (the
// cluster's PostgreSQL) cannot be reached: the request is refused, and
// the same one works again once the database is back.
const msgUnavailable = "The support database cannot be reached; try again in a minute."

// retryAfter is the Retry-After of a refusal for that reason, in seconds.
const retryAfter = 60

// refusals counts the desk's requests refused because its database could
// not be reached, for /metrics.
type refusals struct{ n atomic.Int64 }

// unavailable reports whether err, a failed request to the database,
// comes from a database that cannot be reached now: it is none of the
// answers callers branch on, and the database fails a ping. Each such
// request is counted. The database/sql handle reconnects by itself, so
// the next request after the database returns works.
func (s *Server) unavailable(ctx context.Context, err error) bool {
	var te *auth.ThrottledError
	switch {
	case err == nil, errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrExists),
		errors.Is(err, auth.ErrBadCredentials), errors.Is(err, auth.ErrBadSecondFactor),
		errors.Is(err, auth.ErrNoSession), errors.Is(err, auth.ErrBadToken), errors.As(err, &te):
		return false
	}
	if s.db.Reachable(context.WithoutCancel(ctx)) == nil {
		return false
	}
	s.refused.n.Add(1)
	s.log.Warn("desk: request refused: the database cannot be reached", "err", err)
	return true
}

// refuseUnavailable answers a console request the database cannot serve
// now: the message page to a person's navigation, the text to a script.
func (s *Server) refuseUnavailable(w http.ResponseWriter, r *http.Request, u *store.Account, title string) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	if navigation(r) {
		s.message(w, r, u, http.StatusServiceUnavailable, title, msgUnavailable)
		return
	}
	http.Error(w, translate(pickLang(r), msgUnavailable), http.StatusServiceUnavailable)
}

// apiUnavailable answers an API request the database cannot serve now.
func apiUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	apiError(w, http.StatusServiceUnavailable, "unavailable", msgUnavailable)
}

// serverError words a failed request to the database for a page: 503 and
// msgUnavailable while it cannot be reached, else 500 and the error.
func (s *Server) serverError(r *http.Request, err error) (int, string) {
	if s.unavailable(r.Context(), err) {
		return http.StatusServiceUnavailable, translate(pickLang(r), msgUnavailable)
	}
	s.log.Error("desk: request failed", "path", r.URL.Path, "err", err)
	return http.StatusInternalServerError, err.Error()
}

// apiServerError answers a failed request to the database in the API.
func (s *Server) apiServerError(w http.ResponseWriter, r *http.Request, err error) {
	if s.unavailable(r.Context(), err) {
		apiUnavailable(w)
		return
	}
	s.log.Error("desk: API request failed", "path", r.URL.Path, "err", err)
	apiError(w, http.StatusInternalServerError, "internal", "internal error")
}

// WriteMetrics writes the desk's counters for /metrics
// (broker.DeskMetrics).
func (s *Server) WriteMetrics(w io.Writer) {
	const name = "lifebuoy_desk_database_unreachable_total"
	fmt.Fprintf(w, "# HELP %s Desk requests (sign-ins, console pages, API calls) refused because the database could not be reached.\n"+
		"# TYPE %s counter\n%s %d\n", name, name, name, s.refused.n.Load())
}
