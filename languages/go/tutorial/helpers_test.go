package tutorial

import (
	"testing"
	"time"

	"github.com/cachelab/cachelab/languages/go/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// fixture is one test's Redis (its own redis-server), database and configuration.
type fixture struct {
	server *redistest.Server
	rdb    *redis.Client
	db     *SlowDB
	cfg    Config
}

func newFixture(t *testing.T, latency time.Duration, redisArgs ...string) *fixture {
	t.Helper()
	server := redistest.ForTest(t, redisArgs...)
	cfg := DefaultConfig()
	cfg.RedisURL = "redis://" + server.Addr
	cfg.DBLatency = latency
	rdb, err := Connect(t.Context(), cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return &fixture{server: server, rdb: rdb, db: NewSlowDB(latency, 1000), cfg: cfg}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	redistest.WaitFor(t, 5*time.Second, what, cond)
}
