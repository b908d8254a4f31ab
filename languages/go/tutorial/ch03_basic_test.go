package tutorial

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestBasicCacheAsideMissThenHit(t *testing.T) {
	f := newFixture(t, 20*time.Millisecond)
	cache := NewUserCache(f.rdb, f.db, f.cfg)
	ctx := t.Context()

	for i, want := range []Tier{TierMiss, TierL2, TierL2} {
		user, tier, err := cache.Get(ctx, "42")
		if err != nil || tier != want || user.Name != "User 42" {
			t.Fatalf("read %d: %+v %s %v, want tier %s", i+1, user, tier, err, want)
		}
	}
	if got := f.db.Queries(); got != 1 {
		t.Fatalf("the database answered %d queries, want 1", got)
	}
	raw, _ := f.rdb.Get(ctx, "tut:{user:42}:val").Result()
	var stored map[string]any
	if json.Unmarshal([]byte(raw), &stored) != nil || stored["v"] != float64(1) {
		t.Fatalf("Redis holds %q, want {\"v\":1,\"d\":{…}}", raw)
	}
	ttl := f.rdb.PTTL(ctx, "tut:{user:42}:val").Val()
	if ttl <= 0 || ttl > f.cfg.TTL {
		t.Fatalf("the entry's TTL is %s, want (0, %s]", ttl, f.cfg.TTL)
	}
}

func TestNotFoundIsCachedBriefly(t *testing.T) {
	f := newFixture(t, 10*time.Millisecond)
	cache := NewUserCache(f.rdb, f.db, f.cfg)
	ctx := t.Context()
	for _, want := range []Tier{TierMiss, TierL2} {
		if _, tier, err := cache.Get(ctx, "nobody"); !errors.Is(err, ErrNotFound) || tier != want {
			t.Fatalf("Get(nobody) = %s, %v; want %s, ErrNotFound", tier, err, want)
		}
	}
	if raw := f.rdb.Get(ctx, "tut:{user:nobody}:val").Val(); raw != `{"v":0,"d":null}` {
		t.Fatalf("negative entry %q", raw)
	}
	if ttl := f.rdb.PTTL(ctx, "tut:{user:nobody}:val").Val(); ttl > f.cfg.NegativeTTL {
		t.Fatalf("negative TTL %s, want at most %s", ttl, f.cfg.NegativeTTL)
	}
	if cache.Stats.NegativeHits.Load() != 1 {
		t.Fatalf("negative hits %d, want 1", cache.Stats.NegativeHits.Load())
	}
	// A create (delete-on-write) removes the "not found" at once.
	if _, err := cache.Put(ctx, "nobody", "Nobody", "nobody@example.com", 30); err != nil {
		t.Fatal(err)
	}
	if user, tier, err := cache.Get(ctx, "nobody"); err != nil || tier != TierMiss || user.Version != 1 {
		t.Fatalf("after the create: %+v %s %v", user, tier, err)
	}
}

func TestConcurrentMissesShareOneLoad(t *testing.T) {
	f := newFixture(t, 50*time.Millisecond)
	cache := NewUserCache(f.rdb, f.db, f.cfg)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, _, err := cache.Get(t.Context(), "77"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if loads, queries := cache.Stats.Loads.Load(), f.db.Queries(); loads != 1 || queries != 1 {
		t.Fatalf("20 concurrent reads made %d loads and %d queries, want 1 and 1", loads, queries)
	}
}

func TestHandler(t *testing.T) {
	f := newFixture(t, 0)
	server := httptest.NewServer(NewHandler(NewUserCache(f.rdb, f.db, f.cfg)))
	t.Cleanup(server.Close)
	tests := []struct {
		path, cache string
		status      int
		code        string
	}{
		{"/users/42", "MISS", 200, ""},
		{"/users/42", "L2", 200, ""},
		{"/users/nobody", "MISS", 404, "USER_NOT_FOUND"},
		{"/users/a:b", "", 400, "INVALID_ID"},
	}
	for _, tt := range tests {
		res, err := http.Get(server.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		_ = res.Body.Close()
		if res.StatusCode != tt.status || res.Header.Get("X-Cache") != tt.cache || body.Error.Code != tt.code {
			t.Errorf("GET %s: %d X-Cache=%q code=%q; want %d %q %q", tt.path, res.StatusCode,
				res.Header.Get("X-Cache"), body.Error.Code, tt.status, tt.cache, tt.code)
		}
	}
}
