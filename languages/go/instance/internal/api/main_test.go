package api

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
	"github.com/cachelab/cachelab/languages/go/instance/internal/pgtest"
	"github.com/cachelab/cachelab/languages/go/instance/internal/store"
	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// The servers the tests share: one PostgreSQL (its database prepared and seeded once) and one
// redis-server; each test uses a cache namespace of its own.
var (
	pg          *pgtest.Server
	redisServer *redistest.Server
)

func TestMain(m *testing.M) {
	ctx := context.Background()
	var err error
	if pg, err = pgtest.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if redisServer, err = redistest.Start(ctx); err != nil {
		pg.Stop()
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	users, err := store.Open(store.Options{URL: pg.URL})
	if err == nil {
		err = store.Prepare(ctx, users, 100)
		users.Close()
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, "preparing the database:", err)
	} else {
		code = m.Run()
	}
	redisServer.Stop()
	pg.Stop()
	os.Exit(code)
}

var namespaces atomic.Int64

// instance is one Go instance on the shared database and Redis, served by httptest.
type instance struct {
	t     *testing.T
	url   string
	cache *cachelab.Cache[UserBody]
	users *store.Users
}

// newInstances starts n instances sharing one namespace.
func newInstances(t *testing.T, n int) []*instance {
	t.Helper()
	ns := fmt.Sprintf("api%d", namespaces.Add(1))
	var out []*instance
	for i := range n {
		users, err := store.Open(store.Options{URL: pg.URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(users.Close)
		rdb := redis.NewClient(&redis.Options{Addr: redisServer.Addr})
		t.Cleanup(func() { _ = rdb.Close() })
		name := fmt.Sprintf("go-%d", i+1)
		cache, err := cachelab.New[UserBody](cachelab.Options{Redis: rdb, Namespace: ns, Origin: name + "/test",
			HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 400 * time.Millisecond, RedisTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cache.Close() })
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		if err := cache.WaitTrusted(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		metrics := NewMetrics()
		identity := Identity{Name: name, ID: "test", RunID: "run1"}
		metrics.CollectFrom(cache.Stats, users.Stats, RelayStats(nil), identity)
		handler := NewHandler(Deps{Cache: cache, Users: users, Instance: identity,
			RedisPing: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }, Metrics: metrics})
		server := httptest.NewUnstartedServer(handler)
		server.Config = NewServer(handler) // the instance's own settings (header limits, OPTIONS *)
		server.Start()
		t.Cleanup(server.Close)
		out = append(out, &instance{t: t, url: server.URL, cache: cache, users: users})
	}
	return out
}

// response is what a test looks at.
type response struct {
	status int
	header http.Header
	body   string
}

func (in *instance) do(method, path, body string, headers ...string) response {
	in.t.Helper()
	req, err := http.NewRequestWithContext(in.t.Context(), method, in.url+path, strings.NewReader(body))
	if err != nil {
		in.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Content-Type" {
			req.Header.Del("Content-Type")
		}
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	raw, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: string(raw)}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	redistest.WaitFor(t, 5*time.Second, what, cond)
}

// raw sends request as it is written (for what http.Client cannot send) and reads the answer.
func (in *instance) raw(request string) (int, http.Header, string) {
	in.t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(in.url, "http://"))
	if err != nil {
		in.t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, request); err != nil {
		in.t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		in.t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}
