package cachelab

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/internal/redistest"
)

// snapshotThenNewer: on a Redis that keeps its dump in a directory of its own, the writer
// writes v1, Redis SAVEs, the writer writes v2 (what the source of truth now holds). Returns
// the fixture, the writer and the source.
func snapshotThenNewer(t *testing.T) (*redistest.Server, *fixture, *Cache[user], *source) {
	t.Helper()
	srv := redistest.ForTest(t, "--dir", t.TempDir())
	f := newFixture(t, srv)
	writer := f.cache("writer")
	ctx := t.Context()
	if err := writer.Set(ctx, "k", Loaded[user]{Value: u("v1"), Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := f.rdb.Save(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := writer.Set(ctx, "k", Loaded[user]{Value: u("v2"), Version: 2}); err != nil {
		t.Fatal(err)
	}
	return srv, f, writer, &source{value: u("v2"), version: 2}
}

// restoreSnapshot stops Redis without saving and starts it again in the same directory on the
// same port: it loads the dump taken at v1.
func restoreSnapshot(t *testing.T, srv *redistest.Server, f *fixture) {
	t.Helper()
	_ = f.rdb.ShutdownNoSave(t.Context()).Err() // answers with the connection closing
	if err := srv.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// readsOnlyV2 reads k from c until it has answered from Redis or L1 (not the loader) and then
// as many reads more, failing at the first version other than 2.
func readsOnlyV2(t *testing.T, who string, c *Cache[user], src *source) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	fromCache := 0
	for fromCache < 20 {
		r := mustGet(t, c, "k", src)
		if r.Version != 2 {
			t.Fatalf("%s served v%d (%s) after Redis came back from a snapshot taken at v1", who, r.Version, r.Tier)
		}
		if r.Tier != TierMiss {
			fromCache++
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered from Redis or L1 after the restore", who)
		}
		time.Sleep(5 * time.Millisecond) // a pace between reads, not a synchronisation
	}
}

// TestARestoredSnapshotIsNeverServed (MUST-FENCE-1): neither the writer of v2 nor a reader that
// had read v2 serves v1 once they trust their L1 again after Redis came back from a snapshot (their
// marks flushed then: only Redis itself can tell them that v1 is old).
func TestARestoredSnapshotIsNeverServed(t *testing.T) {
	srv, f, writer, src := snapshotThenNewer(t)
	reader := f.cache("reader")
	if r := mustGet(t, reader, "k", src); r.Version != 2 {
		t.Fatalf("reader read %+v before the restore, want v2", r)
	}
	lost := writer.Stats().TrustLost
	restoreSnapshot(t, srv, f)
	// No read before both trust again: a read meanwhile goes to the loader (or finds the
	// pointer below its mark) and fills v2, which would hide what the instances do on their own.
	waitFor(t, "the writer to notice the restart", func() bool { return writer.Stats().TrustLost > lost })
	waitFor(t, "both to trust their L1 again", func() bool {
		return writer.Stats().Trusted && reader.Stats().Trusted
	})
	readsOnlyV2(t, "the writer", writer, src)
	readsOnlyV2(t, "the reader", reader, src)
}

// TestAnInstanceAloneFindsTheRestoredSnapshot: with no instance running when Redis came back,
// the first one to start still finds the restore (the fence names another run) and deletes
// the namespace before it reads Redis.
func TestAnInstanceAloneFindsTheRestoredSnapshot(t *testing.T) {
	srv, f, writer, src := snapshotThenNewer(t)
	_ = writer.Close()
	restoreSnapshot(t, srv, f)
	if ptr := f.rdb.Get(t.Context(), f.ns+":{k}:ver").Val(); ptr != "1" {
		t.Fatalf("the restored pointer is %q, want 1 (the snapshot's)", ptr)
	}
	newcomer := f.cache("newcomer")
	readsOnlyV2(t, "an instance started after the restore", newcomer, src)
	if n := src.calls.Load(); n != 1 {
		t.Fatalf("%d loads, want 1 (the namespace deleted, then filled at v2 by the first read)", n)
	}
}

// TestTheFenceLeavesAnUnrestartedRedisAlone: a subscription drop without a restart (the fence
// names this run) deletes nothing.
func TestTheFenceLeavesAnUnrestartedRedisAlone(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	a := f.cache("a")
	if err := a.Set(t.Context(), "k", Loaded[user]{Value: u("v1"), Version: 1}); err != nil {
		t.Fatal(err)
	}
	lost := a.Stats().TrustLost
	if err := f.rdb.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "trust to be lost", func() bool { return a.Stats().TrustLost > lost })
	waitFor(t, "trust to come back", func() bool { return a.Stats().Trusted })
	if n := f.rdb.Exists(t.Context(), f.ns+":{k}:ver", f.ns+":{k}:v:1").Val(); n != 2 {
		t.Fatalf("%d of the pointer and data entry left after a drop without a restart, want 2", n)
	}
}

// TestAnACLWithoutInfoLeavesTheFenceOut: a Redis user refused INFO cannot check for a restored
// snapshot: said once through OnError, and the cache works as before.
func TestAnACLWithoutInfoLeavesTheFenceOut(t *testing.T) {
	srv := redistest.ForTest(t)
	f := newFixture(t, srv)
	if err := f.rdb.Do(t.Context(), "ACL", "SETUSER", "limited", "on", ">a-password", "~*", "&*", "+@all", "-info").Err(); err != nil {
		t.Fatal(err)
	}
	limited := redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "limited", Password: "a-password"})
	t.Cleanup(func() { _ = limited.Close() })
	var said atomic.Int64
	c := f.cache("a", func(o *Options) {
		o.Redis = limited
		o.OnError = func(err error) {
			if strings.Contains(err.Error(), "+info +scan +unlink") {
				said.Add(1)
			}
		}
	})
	src := &source{value: u("v1"), version: 1}
	mustGet(t, c, "k", src)
	if r := mustGet(t, c, "k", src); r.Tier != TierL1 {
		t.Fatalf("second read from %s, want L1", r.Tier)
	}
	if said.Load() != 1 {
		t.Fatalf("the missing INFO was said %d times, want once", said.Load())
	}
}
