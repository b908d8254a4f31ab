package tutorial

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// staleSetRace runs the race of chapter 4: a reader loads v1 and is held before its fill while
// a writer commits v2 and invalidates; then the reader goes on. It returns what a fresh read by
// the reader's cache answers afterwards.
func staleSetRace(t *testing.T, read func(context.Context) (User, Tier, error),
	hold *func(), write func(context.Context) error) User {
	t.Helper()
	loaded, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	*hold = func() {
		once.Do(func() {
			close(loaded) // 1. the reader has read v1 from the database
			<-release
		})
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := read(t.Context())
		done <- err
	}()
	<-loaded
	if err := write(t.Context()); err != nil { // 2. the writer commits v2 and invalidates
		t.Fatal(err)
	}
	close(release) // 3. the reader fills the cache with what it read
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	user, _, err := read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return user
}

func TestDeleteOnWriteLosesTheStaleSetRace(t *testing.T) {
	f := newFixture(t, 0)
	reader, writer := NewUserCache(f.rdb, f.db, f.cfg), NewUserCache(f.rdb, f.db, f.cfg)
	got := staleSetRace(t,
		func(ctx context.Context) (User, Tier, error) { return reader.Get(ctx, "42") },
		&reader.BeforeFill,
		func(ctx context.Context) error {
			_, err := writer.Put(ctx, "42", "Ada", "ada@example.com", 36)
			return err
		})
	if got.Version != 1 {
		t.Fatalf("after the race Redis serves v%d; DEL-on-write should have lost it (v1)", got.Version)
	}
}

func TestVersionedKeysWinTheStaleSetRace(t *testing.T) {
	f := newFixture(t, 0)
	reader := NewVersionedCache(f.rdb, f.db, f.cfg, "reader")
	writer := NewVersionedCache(f.rdb, f.db, f.cfg, "writer")
	listen(t, reader, writer)
	got := staleSetRace(t,
		func(ctx context.Context) (User, Tier, error) { return reader.Get(ctx, "42") },
		&reader.BeforeFill,
		func(ctx context.Context) error {
			_, err := writer.Put(ctx, "42", "Ada", "ada@example.com", 36)
			return err
		})
	if got.Version != 2 {
		t.Fatalf("after the race the reader serves v%d, want v2", got.Version)
	}
	if ptr := f.rdb.Get(t.Context(), "tut:{user:42}:ver").Val(); ptr != "2" {
		t.Fatalf("the pointer is %q, want 2", ptr)
	}
}

// listen runs each cache's subscriber until the test ends, and waits until each trusts its L1.
func listen(t *testing.T, caches ...*VersionedCache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for _, c := range caches {
		wg.Go(func() { _ = c.Listen(ctx) })
	}
	for _, c := range caches {
		waitFor(t, "the subscription", c.Trusted)
	}
}

func TestAnnouncementsKeepEveryL1Coherent(t *testing.T) {
	f := newFixture(t, 5*time.Millisecond)
	app1 := NewVersionedCache(f.rdb, f.db, f.cfg, "app-1")
	app2 := NewVersionedCache(f.rdb, f.db, f.cfg, "app-2")
	listen(t, app1, app2)
	ctx := t.Context()
	for _, step := range []struct {
		cache *VersionedCache
		tier  Tier
	}{{app1, TierMiss}, {app1, TierL1}, {app2, TierL2}, {app2, TierL1}} {
		if _, tier, err := step.cache.Get(ctx, "42"); err != nil || tier != step.tier {
			t.Fatalf("%s read: %s %v, want %s", step.cache.origin, tier, err, step.tier)
		}
	}
	if _, err := app1.Put(ctx, "42", "Ada", "ada@example.com", 36); err != nil {
		t.Fatal(err)
	}
	// The writer reads its own write from L1 at once.
	if user, tier, _ := app1.Get(ctx, "42"); tier != TierL1 || user.Version != 2 {
		t.Fatalf("the writer read v%d from %s, want v2 from L1", user.Version, tier)
	}
	// The other instance drops v1 when the announcement arrives, and reads v2 from Redis.
	waitFor(t, "app-2 to drop v1", func() bool { return app2.mark("42") == 2 })
	if user, tier, _ := app2.Get(ctx, "42"); tier != TierL2 || user.Version != 2 {
		t.Fatalf("app-2 read v%d from %s, want v2 from L2", user.Version, tier)
	}
	// Only the current version's data entry is left.
	keys := f.rdb.Keys(ctx, "tut:{user:42}*").Val()
	if len(keys) != 2 {
		t.Fatalf("Redis holds %v, want the pointer and v:2", keys)
	}
}

func TestResubscribeFlushesL1(t *testing.T) {
	f := newFixture(t, 0)
	app := NewVersionedCache(f.rdb, f.db, f.cfg, "app-1")
	listen(t, app)
	if _, _, err := app.Get(t.Context(), "42"); err != nil || app.L1Len() != 1 {
		t.Fatalf("L1 holds %d entries (%v), want 1", app.L1Len(), err)
	}
	flushes := app.Flushes.Load()
	if err := f.rdb.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resubscription to flush L1", func() bool { return app.Flushes.Load() > flushes })
	if app.L1Len() != 0 {
		t.Fatalf("L1 holds %d entries after resubscribing, want 0", app.L1Len())
	}
}

func TestL1KeepsANotFoundNoLongerThanRedis(t *testing.T) {
	f := newFixture(t, 0)
	f.cfg.NegativeTTL = 200 * time.Millisecond
	app := NewVersionedCache(f.rdb, f.db, f.cfg, "app-1")
	listen(t, app)
	for _, want := range []Tier{TierMiss, TierL1} {
		if _, tier, err := app.Get(t.Context(), "nobody"); !errors.Is(err, ErrNotFound) || tier != want {
			t.Fatalf("Get(nobody) = %s, %v; want %s, ErrNotFound", tier, err, want)
		}
	}
	// L1's own TTL is 30 s: only the negative TTL can end the entry within the wait.
	waitFor(t, "L1 to drop the \"not found\" after NEGATIVE_TTL_MS", func() bool {
		_, tier, _ := app.Get(t.Context(), "nobody")
		return tier != TierL1
	})
}

func TestGoRedisClientSideCaching(t *testing.T) {
	f := newFixture(t, 0)
	ctx := t.Context()
	cached := NewCachingClient(f.server.Addr)
	t.Cleanup(func() { _ = cached.Close() })
	f.rdb.Set(ctx, "tut:{user:42}:val", "v1", time.Minute)
	for range 3 {
		if got := cached.Get(ctx, "tut:{user:42}:val").Val(); got != "v1" {
			t.Fatalf("GET = %q, want v1", got)
		}
	}
	if stats := cached.CSCStats(); stats.Hits < 1 || stats.Misses < 1 {
		t.Fatalf("client-side cache stats %+v, want a miss then hits", stats)
	}
	// A Lua script is not a read it can cache: every EVALSHA goes to Redis.
	before := cached.CSCStats()
	for range 2 {
		readScript.Run(ctx, cached, []string{"tut:{user:42}:ver"}, "tut:{user:42}:v:")
	}
	if after := cached.CSCStats(); after.Hits != before.Hits {
		t.Fatalf("EVALSHA was served from the client-side cache: %+v → %+v", before, after)
	}
	// Another client writes: Redis pushes an invalidation, and the local copy goes.
	f.rdb.Set(ctx, "tut:{user:42}:val", "v2", time.Minute)
	waitFor(t, "the client-side copy to be invalidated", func() bool {
		return cached.Get(ctx, "tut:{user:42}:val").Val() == "v2"
	})
}

func TestKeysAndChannelAreTheTutorials(t *testing.T) {
	f := newFixture(t, 0)
	basic := NewUserCache(f.rdb, f.db, f.cfg)
	versioned := NewVersionedCache(f.rdb, f.db, f.cfg, "app-1")
	listen(t, versioned)
	ctx := t.Context()
	basic.Get(ctx, "42")
	basic.Get(ctx, "nobody")
	versioned.Get(ctx, "43")
	if _, err := versioned.Put(ctx, "43", "Ada", "ada@example.com", 36); err != nil {
		t.Fatal(err)
	}
	versioned.Get(ctx, "43")
	// Under tut:, never under the library's cl:, so the two never mix on one Redis.
	keys := f.rdb.Keys(ctx, "*").Val()
	slices.Sort(keys)
	want := []string{"tut:{user:42}:val", "tut:{user:43}:v:2", "tut:{user:43}:ver", "tut:{user:nobody}:val"}
	if !slices.Equal(keys, want) {
		t.Fatalf("Redis holds %q, want %q", keys, want)
	}
	if channels := f.rdb.PubSubChannels(ctx, "*").Val(); !slices.Equal(channels, []string{"tut:invalidations"}) {
		t.Fatalf("subscribed to %q, want [tut:invalidations]", channels)
	}
}
