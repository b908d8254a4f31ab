package tutorial

import (
	"strings"
	"testing"
	"time"
)

func TestJitterOnlyShortensTTLs(t *testing.T) {
	tests := []struct {
		ttl    time.Duration
		jitter float64
		min    time.Duration
	}{
		{60 * time.Second, 0.1, 54 * time.Second},
		{5 * time.Second, 0.1, 4500 * time.Millisecond},
		{60 * time.Second, 0, 60 * time.Second},
	}
	for _, tt := range tests {
		for range 1000 {
			if got := jitterTTL(tt.ttl, tt.jitter); got < tt.min || got > tt.ttl {
				t.Fatalf("jitterTTL(%s, %g) = %s, want within [%s, %s]", tt.ttl, tt.jitter, got, tt.min, tt.ttl)
			}
		}
	}
}

func TestExpiredKeysAreNeverServed(t *testing.T) {
	f := newFixture(t, 0)
	ctx := t.Context()
	f.rdb.Set(ctx, "tut:{user:1}:val", "soon gone", 50*time.Millisecond)
	waitFor(t, "the key to expire", func() bool { return f.rdb.Exists(ctx, "tut:{user:1}:val").Val() == 0 })
	if expired, err := infoField(ctx, f.rdb, "stats", "expired_keys"); err != nil || expired < 1 {
		t.Fatalf("expired_keys = %d (%v), want at least 1", expired, err)
	}
}

func TestAllKeysLRUEvictsIdleKeysAndKeepsTheHotSet(t *testing.T) {
	f := newFixture(t, 0)
	result, err := FillUntilEvicted(t.Context(), f.rdb, "allkeys-lru", 512<<10, 20, 250, 150)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("allkeys-lru: %+v", result)
	if result.Evicted == 0 || result.OldKept == 250 {
		t.Fatalf("nothing evicted past maxmemory: %+v", result)
	}
	// LRU is approximated (5 samples per eviction): most, not necessarily all.
	if result.HotKept < 18 || result.NewKept < 135 {
		t.Fatalf("LRU kept %d of 20 hot and %d of 150 new keys; it should evict the idle old ones", result.HotKept, result.NewKept)
	}
}

func TestNoEvictionRefusesWrites(t *testing.T) {
	f := newFixture(t, 0)
	_, err := FillUntilEvicted(t.Context(), f.rdb, "noeviction", 256<<10, 5, 100, 1000)
	if err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("writing past maxmemory with noeviction gave %v, want an OOM error", err)
	}
}
