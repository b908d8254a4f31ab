package tutorial

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestColdWarmFlushedAndNoCache(t *testing.T) {
	const latency = 20 * time.Millisecond
	f := newFixture(t, latency)
	app1 := NewVersionedCache(f.rdb, f.db, f.cfg, "app-1")
	app2 := NewVersionedCache(f.rdb, f.db, f.cfg, "app-2")
	listen(t, app1, app2)
	ctx := t.Context()
	ids := make([]string, 0, 20)
	for i := 101; i <= 120; i++ {
		ids = append(ids, strconv.Itoa(i))
	}

	pass := func(read func(context.Context, string) (User, Tier, error)) PassResult {
		t.Helper()
		result, err := Pass(ctx, ids, read)
		if err != nil {
			t.Fatal(err)
		}
		return result
	}
	cold, warm, other := pass(app1.Get), pass(app1.Get), pass(app2.Get)
	// Empty Redis (this namespace's keys only) and every L1, then start over.
	for _, key := range f.rdb.Keys(ctx, "tut:{*").Val() {
		f.rdb.Unlink(ctx, key)
	}
	flushes := app1.Flushes.Load()
	f.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub")
	waitFor(t, "app-1 to flush its L1", func() bool { return app1.Flushes.Load() > flushes && app1.Trusted() })
	flushed, none := pass(app1.Get), pass(WithoutCache(f.db))
	t.Logf("cold %v, warm %v, other instance %v, flushed %v, no cache %v", cold, warm, other, flushed, none)

	checks := []struct {
		name string
		pass PassResult
		tier Tier
	}{{"cold", cold, TierMiss}, {"warm", warm, TierL1}, {"other instance", other, TierL2},
		{"flushed", flushed, TierMiss}, {"no cache", none, TierMiss}}
	for _, c := range checks {
		if c.pass.Tiers[c.tier] != len(ids) {
			t.Errorf("%s pass: %v, want %d × %s", c.name, c.pass.Tiers, len(ids), c.tier)
		}
	}
	if cold.Median < latency || warm.Median >= latency/4 || none.Median < latency {
		t.Errorf("medians cold %s, warm %s, no cache %s: a miss should cost the database's %s and a hit far less",
			cold.Median, warm.Median, none.Median, latency)
	}
	s := &app1.Stats
	if s.Reads.Load() != 60 || s.Hits.Load() != 20 || s.Misses.Load() != 40 || s.Loads.Load() != 40 {
		t.Errorf("app-1 counted reads %d, hits %d, misses %d, loads %d; want 60, 20, 40, 40",
			s.Reads.Load(), s.Hits.Load(), s.Misses.Load(), s.Loads.Load())
	}
	if ratio := s.HitRatio(); ratio < 0.33 || ratio > 0.34 {
		t.Errorf("hit ratio %.3f, want 1/3", ratio)
	}
	if hits, err := infoField(ctx, f.rdb, "stats", "keyspace_hits"); err != nil || hits == 0 {
		t.Errorf("keyspace_hits = %d (%v): Redis counts the L2 hits too", hits, err)
	}
}
