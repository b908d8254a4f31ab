package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
)

// UserBody is a user as the API returns it and the cache stores it (tombstones never shown);
// the field order is the JSON's, as the Node instance writes it.
type UserBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Email     string `json:"email"`
	Age       int    `json:"age"`
	Version   int64  `json:"version"`
	UpdatedAt string `json:"updatedAt"`
}

// Identity names an instance in headers, /stats and /readyz.
type Identity struct {
	Name  string `json:"name"`
	ID    string `json:"id"`
	RunID string `json:"runId,omitempty"`
}

// Deps is everything the handler needs; it builds nothing itself.
type Deps struct {
	Cache    *cachelab.Cache[UserBody]
	Users    *store.Users
	Relay    *store.Relay // nil: this instance runs no relay
	Instance Identity
	// RedisPing checks Redis for /readyz.
	RedisPing func(ctx context.Context) error
	// Draining reports a shutdown in progress (/readyz answers 503 draining; answers close the connection).
	Draining func() bool
	Metrics  *Metrics
	Log      *slog.Logger
	// AfterCommit, when set, runs after every database write, before any Redis call (the lab's
	// CRASH_AFTER_COMMIT ends the process there).
	AfterCommit func()
}

// bodyLimit is the largest request body accepted (a user is a few hundred bytes).
const bodyLimit = 16 << 10

// headerLimit is the most header fields a request may have, in bytes counted as headerBytes
// counts them; net/http's own limit (maxHeaderBytes, whose 431 has Go's text body) is well above,
// so that the handler answers what lies between with the error shape.
const (
	headerLimit    = 16 << 10
	maxHeaderBytes = 64 << 10
)

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,128}$`)

type handler struct {
	Deps
	startedAt time.Time
	instance  string
}

// NewServer is the http.Server an instance serves handler with (the tests serve theirs with it too).
// OPTIONS * reaches the handler, which has no route for it (net/http would answer 200 itself).
func NewServer(handler http.Handler) *http.Server {
	return &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		MaxHeaderBytes: maxHeaderBytes, DisableGeneralOptionsHandler: true}
}

// NewHandler returns the instance's HTTP handler: the users API and the ops endpoints.
func NewHandler(d Deps) http.Handler {
	if d.Draining == nil {
		d.Draining = func() bool { return false }
	}
	if d.AfterCommit == nil {
		d.AfterCommit = func() {}
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	return &handler{Deps: d, startedAt: time.Now(), instance: d.Instance.Name + "/" + d.Instance.ID}
}

// recorder remembers the status and X-Cache of a response for the metrics.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w}
	requestID := r.Header.Get("X-Request-Id")
	if !requestIDPattern.MatchString(requestID) {
		requestID = newRequestID()
	}
	w.Header().Set("X-Request-Id", requestID)
	w.Header().Set("X-Instance", h.instance)
	if h.Draining() {
		w.Header().Set("Connection", "close")
	}
	route := "unmatched"
	if n := headerBytes(r); n > headerLimit {
		writeError(rec, fail(http.StatusRequestHeaderFieldsTooLarge, codeHeadersTooLarge,
			"the header fields are "+strconv.Itoa(n)+" bytes, over the limit of "+strconv.Itoa(headerLimit)))
	} else {
		route = h.dispatch(rec, r)
	}
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if route != "/healthz" && route != "/readyz" && route != "/stats" && route != "/metrics" {
		h.Metrics.apiRequests.Add(1)
	}
	tier := w.Header().Get("X-Cache")
	h.Metrics.http.WithLabelValues(r.Method, route, strconv.Itoa(status), tier).Observe(time.Since(start).Seconds())
	h.Log.Debug("request", "reqId", requestID, "method", r.Method, "url", r.URL.RequestURI(), "route", route, "status", status, "tier", tier)
}

// headerBytes is the size of a request's header fields: the name, the value and 4 bytes (": " and
// CRLF) of each, Host and Transfer-Encoding included (net/http takes them out of r.Header).
func headerBytes(r *http.Request) int {
	n := 0
	if r.Host != "" {
		n += len("Host") + len(r.Host) + 4
	}
	for _, coding := range r.TransferEncoding {
		n += len("Transfer-Encoding") + len(coding) + 4
	}
	for name, values := range r.Header {
		for _, value := range values {
			n += len(name) + len(value) + 4
		}
	}
	return n
}

// dispatch routes a request and answers it; it returns the route pattern (a metrics label).
// Paths match as Express matches them: literal segments case-insensitively, one trailing slash
// allowed, a parameter never empty and percent-decoded (so /users/a%2Fb is the id "a/b", a 400;
// a malformed encoding, or one of bytes that are not UTF-8, is a 400 E_BAD_REQUEST).
func (h *handler) dispatch(w http.ResponseWriter, r *http.Request) string {
	segments := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	if len(segments) > 1 && segments[len(segments)-1] == "" {
		segments = segments[:len(segments)-1]
	}
	is := func(i int, name string) bool { return strings.EqualFold(segments[i], name) }
	switch {
	case len(segments) == 2 && is(0, "users") && segments[1] != "": // /users// has no id: no route
		id, err := url.PathUnescape(segments[1])
		if err != nil || !utf8.ValidString(id) { // decodeURIComponent refuses both
			writeError(w, fail(400, codeBadRequest, "the request could not be understood"))
			return "unmatched"
		}
		h.methods(w, r, []string{"GET", "HEAD", "PUT", "DELETE"}, func() {
			switch r.Method {
			case "GET", "HEAD":
				h.getUser(w, r, id)
			case "PUT":
				h.putUser(w, r, id)
			case "DELETE":
				h.deleteUser(w, r, id)
			}
		})
		return "/users/:id"
	case len(segments) == 1 && is(0, "users"):
		h.methods(w, r, []string{"POST"}, func() { h.postUser(w, r) })
		return "/users"
	case len(segments) == 1 && (is(0, "healthz") || is(0, "readyz") || is(0, "stats") || is(0, "metrics")):
		name := strings.ToLower(segments[0])
		h.methods(w, r, []string{"GET", "HEAD"}, func() { h.ops(w, r, name) })
		return "/" + name
	}
	writeError(w, fail(404, codeRouteNotFound, "no route for "+r.Method+" "+r.URL.EscapedPath()))
	return "unmatched"
}

// methods runs serve for an allowed method; OPTIONS is a 204 with Allow, others a 405 with Allow.
func (h *handler) methods(w http.ResponseWriter, r *http.Request, allowed []string, serve func()) {
	for _, m := range allowed {
		if r.Method == m {
			serve()
			return
		}
	}
	allow := strings.Join(append(allowed, "OPTIONS"), ", ")
	w.Header().Set("Allow", allow)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeError(w, fail(405, codeMethodNotAllowed, r.Method+" is not allowed on "+r.URL.EscapedPath()+"; allowed: "+allow))
}

// assertNoQuery: no route takes a query string; any parameter is a 400 naming (up to) three.
func assertNoQuery(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for part := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if part == "" {
			continue
		}
		name, _, _ := strings.Cut(part, "=")
		if decoded, err := url.QueryUnescape(name); err == nil {
			name = decoded
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	shown := make([]string, 0, 3)
	for _, name := range names[:min(3, len(names))] {
		if len(name) > 32 {
			name = name[:32]
		}
		shown = append(shown, strconv.Quote(name))
	}
	return fail(400, codeInvalidQuery, "no query parameters here; got "+strings.Join(shown, ", "))
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = randRead(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[v>>4], hex[v&15])
	}
	return string(out)
}
