package cachelab

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// server is the redis-server the tests share (each test uses a namespace of its own); tests
// that kill or restart Redis start their own.
var server *redistest.Server

func TestMain(m *testing.M) {
	var err error
	server, err = redistest.Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	server.Stop()
	os.Exit(code)
}

var namespaces atomic.Int64

// user is the value type of most tests.
type user struct {
	Name string `json:"name"`
}

func u(name string) *user { return &user{Name: name} }

// fixture is a namespace of one test on a Redis, and the caches built on it.
type fixture struct {
	t   *testing.T
	rdb *redis.Client
	ns  string
}

func newFixture(t *testing.T, srv *redistest.Server) *fixture {
	t.Helper()
	if srv == nil {
		srv = server
	}
	ns := fmt.Sprintf("t%d", namespaces.Add(1))
	return &fixture{t: t, rdb: srv.Client(t), ns: ns}
}

// cache builds a trusted cache named origin; tweak changes its options. Closed at cleanup.
func (f *fixture) cache(origin string, tweak ...func(*Options)) *Cache[user] {
	f.t.Helper()
	o := Options{Redis: f.rdb, Namespace: f.ns, Origin: origin, HeartbeatInterval: 50 * time.Millisecond,
		HeartbeatTimeout: 400 * time.Millisecond, L1TTL: time.Minute, RedisTimeout: time.Second,
		OnError: func(err error) {
			if !strings.Contains(err.Error(), "corrupt") {
				f.t.Logf("%s: %v", origin, err)
			}
		}}
	for _, fn := range tweak {
		fn(&o)
	}
	c, err := New[user](o)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = c.Close() })
	ctx, cancel := context.WithTimeout(f.t.Context(), 5*time.Second)
	defer cancel()
	if err := c.WaitTrusted(ctx); err != nil {
		f.t.Fatalf("%s never trusted its L1: %v", origin, err)
	}
	return c
}

// source is a loader that serves fixed answers and counts its calls.
type source struct {
	value   *user
	version int64
	calls   atomic.Int64
	hold    chan struct{} // if set, each load waits for it to close
	loaded  chan struct{} // if set, closed when a load has read the source (before hold)
}

func (s *source) load(ctx context.Context, key string) (Loaded[user], error) {
	s.calls.Add(1)
	answer := Loaded[user]{Value: s.value, Version: s.version}
	if s.loaded != nil {
		close(s.loaded)
	}
	if s.hold != nil {
		select {
		case <-s.hold:
		case <-ctx.Done():
			return Loaded[user]{}, ctx.Err()
		}
	}
	return answer, nil
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	redistest.WaitFor(t, 5*time.Second, what, cond)
}

func mustGet(t *testing.T, c *Cache[user], key string, s *source, opts ...ReadOption) Read[user] {
	t.Helper()
	r, err := c.Get(t.Context(), key, s.load, opts...)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return r
}
