package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func errorCode(body string) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error.Code
}

func TestReadsThroughTheTiers(t *testing.T) {
	in := newInstances(t, 2)
	a, b := in[0], in[1]
	for _, step := range []struct {
		in   *instance
		tier string
	}{{a, "MISS"}, {a, "L1"}, {b, "L2"}, {b, "L1"}} {
		r := step.in.do("GET", "/users/7", "")
		if r.status != 200 || r.header.Get("X-Cache") != step.tier || r.header.Get("X-Version") != "1" ||
			r.header.Get("ETag") != `"v1"` || !strings.HasPrefix(r.header.Get("X-Instance"), "go-") {
			t.Fatalf("GET /users/7: %d %v", r.status, r.header)
		}
		var user UserBody
		if json.Unmarshal([]byte(r.body), &user) != nil || user.ID != "7" || user.Name != "User 7" {
			t.Fatalf("body %s", r.body)
		}
	}
	if r := a.do("GET", "/users/7", "", "If-None-Match", `W/"v1"`); r.status != 304 || r.body != "" {
		t.Fatalf("If-None-Match of the current version: %d %q", r.status, r.body)
	}
}

func TestWritesAreCoherentAcrossInstances(t *testing.T) {
	in := newInstances(t, 2)
	a, b := in[0], in[1]
	b.do("GET", "/users/8", "")
	r := a.do("PUT", "/users/8", `{"name":"Ada","email":"ada@example.com","age":36}`)
	if r.status != 200 || r.header.Get("X-Version") != "2" || r.header.Get("ETag") != `"v2"` {
		t.Fatalf("PUT: %d %v %s", r.status, r.header, r.body)
	}
	if r := a.do("GET", "/users/8", ""); r.header.Get("X-Cache") != "L1" || r.header.Get("X-Version") != "2" {
		t.Fatalf("the writer read %v", r.header)
	}
	waitFor(t, "b to drop v1", func() bool { _, ok := b.cache.Peek("user:8"); return !ok })
	if r := b.do("GET", "/users/8", ""); r.header.Get("X-Cache") != "L2" || r.header.Get("X-Version") != "2" {
		t.Fatalf("b read %v", r.header)
	}
	// A stale If-Match loses; a current one wins.
	if r := b.do("PUT", "/users/8", `{"name":"Grace","email":"g@example.com","age":40}`, "If-Match", `"v1"`); r.status != 412 || errorCode(r.body) != "E_PRECONDITION_FAILED" {
		t.Fatalf("a stale If-Match: %d %s", r.status, r.body)
	}
	if r := b.do("PUT", "/users/8", `{"name":"Grace","email":"g@example.com","age":40}`, "If-Match", `"v2"`); r.status != 200 || r.header.Get("X-Version") != "3" {
		t.Fatalf("a current If-Match: %d %s", r.status, r.body)
	}
	// Delete, then it is gone everywhere.
	if r := a.do("DELETE", "/users/8", ""); r.status != 204 || r.header.Get("X-Version") != "4" {
		t.Fatalf("DELETE: %d %v", r.status, r.header)
	}
	waitFor(t, "b to hear of the delete", func() bool { _, ok := b.cache.Peek("user:8"); return !ok })
	if r := b.do("GET", "/users/8", ""); r.status != 404 || errorCode(r.body) != "E_USER_NOT_FOUND" {
		t.Fatalf("GET after DELETE: %d %s", r.status, r.body)
	}
	if r := a.do("DELETE", "/users/8", ""); r.status != 404 {
		t.Fatalf("a second DELETE: %d", r.status)
	}
	// A re-created user gets a higher version, and a create from nothing is a 201.
	if r := a.do("PUT", "/users/8", `{"name":"Back","email":"b@example.com","age":1}`); r.status != 201 || r.header.Get("X-Version") != "5" {
		t.Fatalf("re-create: %d %v", r.status, r.header)
	}
	r = a.do("POST", "/users", `{"name":"New","email":"n@example.com","age":2}`)
	if r.status != 201 || !strings.HasPrefix(r.header.Get("Location"), "/users/") || r.header.Get("X-Version") != "1" {
		t.Fatalf("POST: %d %v", r.status, r.header)
	}
	if r := b.do("GET", r.header.Get("Location"), ""); r.status != 200 {
		t.Fatalf("GET of the created user: %d", r.status)
	}
}

func TestBadInputIsA4xx(t *testing.T) {
	in := newInstances(t, 1)[0]
	valid := `{"name":"Ada","email":"ada@example.com","age":36}`
	tests := []struct {
		method, path, body string
		headers            []string
		status             int
		code               string
	}{
		{"GET", "/users/a:b", "", nil, 400, "E_INVALID_ID"},
		{"GET", "/users/" + strings.Repeat("x", 65), "", nil, 400, "E_INVALID_ID"},
		{"GET", "/users/a%2Fb", "", nil, 400, "E_INVALID_ID"},
		{"GET", "/users/1?x=1", "", nil, 400, "E_INVALID_QUERY"},
		{"GET", "/users/1", "", []string{"X-Min-Version", "abc"}, 400, "E_INVALID_HEADER"},
		{"GET", "/users/1", "", []string{"X-Min-Version", "1", "X-Min-Version", "2"}, 400, "E_INVALID_HEADER"},
		{"GET", "/users/1", "", []string{"X-Consistency", "linear"}, 400, "E_INVALID_HEADER"},
		{"GET", "/users/1", "", []string{"If-None-Match", "v1"}, 400, "E_INVALID_HEADER"},
		{"GET", "/users/1", "", []string{"X-Min-Version", "99"}, 412, "E_VERSION_UNAVAILABLE"},
		{"GET", "/users/nobody", "", nil, 404, "E_USER_NOT_FOUND"},
		{"PUT", "/users/1", `{"name":"Ada"`, nil, 400, "E_INVALID_JSON"},
		{"PUT", "/users/1", `[1]`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"Ada","email":"ada@example.com","age":36,"__proto__":1}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"","email":"ada@example.com","age":36}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"Ada","email":"nope","age":36}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"Ada","email":"ada@example.com","age":36.5}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"A\u0000","email":"ada@example.com","age":36}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"A\ud800","email":"ada@example.com","age":36}`, nil, 400, "E_INVALID_BODY"},
		{"PUT", "/users/1", `{"name":"` + strings.Repeat("x", 20000) + `"}`, nil, 413, "E_BODY_TOO_LARGE"},
		{"PUT", "/users/1", valid, []string{"Content-Type", "text/plain"}, 415, "E_UNSUPPORTED_MEDIA_TYPE"},
		{"PUT", "/users/1", valid, []string{"If-Match", "nope"}, 400, "E_INVALID_HEADER"},
		{"PUT", "/users/a:b", valid, nil, 400, "E_INVALID_ID"},
		{"DELETE", "/users/1", "", []string{"If-Match", `"v99"`}, 412, "E_PRECONDITION_FAILED"},
		{"PATCH", "/users/1", "", nil, 405, "E_METHOD_NOT_ALLOWED"},
		{"GET", "/users", "", nil, 405, "E_METHOD_NOT_ALLOWED"},
		{"GET", "/nothing", "", nil, 404, "E_ROUTE_NOT_FOUND"},
	}
	for _, tt := range tests {
		r := in.do(tt.method, tt.path, tt.body, tt.headers...)
		if r.status != tt.status || errorCode(r.body) != tt.code {
			t.Errorf("%s %s %v: %d %s, want %d %s", tt.method, tt.path, tt.headers, r.status, r.body, tt.status, tt.code)
		}
	}
	if r := in.do("OPTIONS", "/users/1", ""); r.status != 204 || r.header.Get("Allow") != "GET, HEAD, PUT, DELETE, OPTIONS" {
		t.Errorf("OPTIONS: %d Allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestOpsEndpoints(t *testing.T) {
	in := newInstances(t, 1)[0]
	in.do("GET", "/users/3", "")
	if r := in.do("GET", "/healthz", ""); r.status != 200 || r.body != `{"status":"ok"}` {
		t.Errorf("/healthz: %d %s", r.status, r.body)
	}
	var ready struct {
		Status, Run, L1 string
		Checks          map[string]string
	}
	r := in.do("GET", "/readyz", "")
	if json.Unmarshal([]byte(r.body), &ready) != nil || r.status != 200 || ready.Status != "ready" || ready.Run != "run1" ||
		ready.L1 != "trusted" || ready.Checks["database"] != "ok" {
		t.Errorf("/readyz: %d %s", r.status, r.body)
	}
	var stats struct {
		Instance struct{ Name string }
		Cache    struct {
			Reads, Misses int64
			HitRatio      *float64
			Trusted       bool
		}
		Database struct{ Queries int64 }
	}
	r = in.do("GET", "/stats", "")
	if json.Unmarshal([]byte(r.body), &stats) != nil || stats.Cache.Reads != 1 || stats.Cache.Misses != 1 ||
		stats.Cache.HitRatio == nil || stats.Database.Queries < 1 || !stats.Cache.Trusted {
		t.Errorf("/stats: %s", r.body)
	}
	r = in.do("GET", "/metrics", "")
	for _, want := range []string{`cachelab_cache_hits_total{tier="L1"} 0`, "cachelab_cache_misses_total 1",
		`cachelab_http_request_duration_seconds_count{cache="MISS",method="GET",route="/users/:id",status="200"} 1`,
		"cachelab_db_queries_total", "cachelab_cache_redis_skipped_total 0"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("/metrics has no %q", want)
		}
	}
}

func TestOutboxRelayAnnouncesWritesThatBypassTheInstances(t *testing.T) {
	in := newInstances(t, 1)[0]
	in.do("GET", "/users/9", "")
	// A write straight in the database: the trigger bumps the version and fills the outbox.
	_, err := in.users.Pool().Exec(t.Context(), "UPDATE users SET name = 'Grace' WHERE id = '9'")
	if err != nil {
		t.Fatal(err)
	}
	relay := storeRelay(in)
	waitFor(t, "the relay to announce v2", func() bool {
		relay()
		_, ok := in.cache.Peek("user:9")
		return !ok
	})
	r := in.do("GET", "/users/9", "")
	if r.header.Get("X-Version") != "2" || !strings.Contains(r.body, "Grace") {
		t.Fatalf("after the relay: %v %s", r.header, r.body)
	}
}

// TestBodyChecksInOrder: a body is checked for its Content-Type, then its Content-Encoding (any but
// identity is refused), its size, UTF-8 (encoding/json would store U+FFFD for bad bytes), JSON (a
// byte-order mark is not JSON) and its shape; a refused body writes nothing.
func TestBodyChecksInOrder(t *testing.T) {
	in := newInstances(t, 1)[0]
	valid := `{"name":"Ada","email":"ada@example.com","age":36}`
	notUTF8 := "{\"name\":\"\xff\xfe\",\"email\":\"n@example.com\",\"age\":3}"
	huge := `{"name":"` + strings.Repeat("x", 20000) + `"}`
	tests := []struct {
		what, method, path, body string
		headers                  []string
		status                   int
		code, message            string // message: a part of it, where status and code do not tell the checks apart
	}{
		{"an encoding", "PUT", "/users/61", valid, []string{"Content-Encoding", "gzip"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "encoding"},
		{"an encoding, POST", "POST", "/users", valid, []string{"Content-Encoding", "br"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "encoding"},
		{"identity, then gzip", "PUT", "/users/61", valid, []string{"Content-Encoding", "identity", "Content-Encoding", "gzip"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "encoding"},
		{"an empty encoding", "PUT", "/users/61", valid, []string{"Content-Encoding", ""}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "encoding"},
		{"Content-Type before the encoding", "PUT", "/users/61", valid, []string{"Content-Type", "text/plain", "Content-Encoding", "gzip"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "application/json"},
		{"the encoding before the size", "PUT", "/users/61", huge, []string{"Content-Encoding", "gzip"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "encoding"},
		{"not UTF-8", "PUT", "/users/61", notUTF8, nil, 415, "E_UNSUPPORTED_MEDIA_TYPE", "UTF-8"},
		{"not UTF-8, POST", "POST", "/users", notUTF8, nil, 415, "E_UNSUPPORTED_MEDIA_TYPE", "UTF-8"},
		{"not UTF-8 though it says so", "PUT", "/users/61", notUTF8, []string{"Content-Type", "application/json; charset=utf-8"}, 415, "E_UNSUPPORTED_MEDIA_TYPE", "UTF-8"},
		{"the size before UTF-8", "PUT", "/users/61", huge + "\xff", nil, 413, "E_BODY_TOO_LARGE", ""},
		{"UTF-8 before JSON", "PUT", "/users/61", "{\xff", nil, 415, "E_UNSUPPORTED_MEDIA_TYPE", "UTF-8"},
		{"a byte-order mark", "PUT", "/users/61", "\uFEFF" + valid, nil, 400, "E_INVALID_JSON", ""},
		{"JSON before the shape", "PUT", "/users/61", `{"name":1,`, nil, 400, "E_INVALID_JSON", ""},
	}
	for _, tt := range tests {
		r := in.do(tt.method, tt.path, tt.body, tt.headers...)
		if r.status != tt.status || errorCode(r.body) != tt.code || !strings.Contains(errorMessage(r.body), tt.message) {
			t.Errorf("%s: %s %s: %d %.200s, want %d %s %q", tt.what, tt.method, tt.path, r.status, r.body, tt.status, tt.code, tt.message)
		}
	}
	if r := in.do("GET", "/users/61", ""); r.status != 200 || r.header.Get("X-Version") != "1" || !strings.Contains(r.body, `"User 61"`) {
		t.Errorf("user 61 after the refused writes: %d %v %s", r.status, r.header, r.body)
	}
	for _, encoding := range []string{"identity", " IDENTITY "} {
		if r := in.do("PUT", "/users/62", valid, "Content-Encoding", encoding); r.status != 200 {
			t.Errorf("Content-Encoding %q: %d %s", encoding, r.status, r.body)
		}
	}
}

func errorMessage(body string) string {
	var e struct {
		Error struct{ Message string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error.Message
}

// TestPathsAsExpressMatchesThem: an empty id is no id (so /users// is no route, while /users/ is
// the collection), and an id whose percent-encoding decodes to bytes that are not UTF-8 is a 400
// E_BAD_REQUEST, as decodeURIComponent refuses it.
func TestPathsAsExpressMatchesThem(t *testing.T) {
	in := newInstances(t, 1)[0]
	valid := `{"name":"Ada","email":"ada@example.com","age":36}`
	tests := []struct {
		method, path, body string
		status             int
		code, allow        string
	}{
		{"GET", "/users//", "", 404, "E_ROUTE_NOT_FOUND", ""},
		{"PUT", "/users//", valid, 404, "E_ROUTE_NOT_FOUND", ""},
		{"DELETE", "/users//", "", 404, "E_ROUTE_NOT_FOUND", ""},
		{"GET", "/users/", "", 405, "E_METHOD_NOT_ALLOWED", "POST, OPTIONS"},
		{"GET", "/users/%E2%82", "", 400, "E_BAD_REQUEST", ""},
		{"PUT", "/users/%E2%82", valid, 400, "E_BAD_REQUEST", ""},
		{"DELETE", "/users/%ff", "", 400, "E_BAD_REQUEST", ""},
		{"GET", "/users/%E2%82%AC", "", 400, "E_INVALID_ID", ""}, // €, UTF-8 but no id
	}
	for _, tt := range tests {
		r := in.do(tt.method, tt.path, tt.body)
		if r.status != tt.status || errorCode(r.body) != tt.code || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow %q %s, want %d %s Allow %q", tt.method, tt.path, r.status, r.header.Get("Allow"), r.body, tt.status, tt.code, tt.allow)
		}
	}
}

// TestHeadersOver16KiB: header fields of more than 16 KiB in all (name, value and 4 bytes a field)
// are a 431 E_HEADERS_TOO_LARGE on every route; net/http's own limit (its 431 has no error code)
// is 64 KiB, well above.
func TestHeadersOver16KiB(t *testing.T) {
	in := newInstances(t, 1)[0]
	valid := `{"name":"Ada","email":"ada@example.com","age":36}`
	big := func(n int) []string { return []string{"X-Big", strings.Repeat("b", n)} }
	tests := []struct {
		what, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}{
		{"a 20,000-byte value", "GET", "/users/63", "", big(20000), 431, "E_HEADERS_TOO_LARGE"},
		{"a 20,000-byte value, PUT", "PUT", "/users/63", valid, big(20000), 431, "E_HEADERS_TOO_LARGE"},
		{"a 20,000-byte value, ops", "GET", "/healthz", "", big(20000), 431, "E_HEADERS_TOO_LARGE"},
		{"a 20,000-byte value, no route", "GET", "/nothing", "", big(20000), 431, "E_HEADERS_TOO_LARGE"},
		{"a 20,000-byte value, OPTIONS", "OPTIONS", "/users/63", "", big(20000), 431, "E_HEADERS_TOO_LARGE"},
		{"five fields of 4,000 bytes", "GET", "/users/63", "", []string{"X-A", strings.Repeat("a", 4000), "X-B", strings.Repeat("b", 4000),
			"X-C", strings.Repeat("c", 4000), "X-D", strings.Repeat("d", 4000), "X-E", strings.Repeat("e", 4000)}, 431, "E_HEADERS_TOO_LARGE"},
		{"a 60,000-byte value, under net/http's limit", "GET", "/users/63", "", big(60000), 431, "E_HEADERS_TOO_LARGE"},
		{"a 100,000-byte value, over net/http's limit", "GET", "/users/63", "", big(100000), 431, ""},
		{"a 16,000-byte value", "GET", "/users/63", "", big(16000), 200, ""},
		{"a 16,000-byte value, PUT", "PUT", "/users/63", valid, big(16000), 200, ""},
	}
	for _, tt := range tests {
		r := in.do(tt.method, tt.path, tt.body, tt.headers...)
		if r.status != tt.status || errorCode(r.body) != tt.code {
			t.Errorf("%s: %s %s: %d %.200s, want %d %s", tt.what, tt.method, tt.path, r.status, r.body, tt.status, tt.code)
		}
	}
}

// TestOptionsAsteriskIsNoRoute: OPTIONS * is no route of the API (net/http would answer 200 itself).
func TestOptionsAsteriskIsNoRoute(t *testing.T) {
	in := newInstances(t, 1)[0]
	status, header, body := in.raw("OPTIONS * HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	if status != 404 || errorCode(body) != "E_ROUTE_NOT_FOUND" || header.Get("X-Request-Id") == "" {
		t.Errorf("OPTIONS *: %d %v %s", status, header, body)
	}
}
