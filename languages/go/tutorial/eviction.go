package tutorial

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// #region tutorial:jitter

// jitterTTL shortens ttl by a random part of up to jitter (0.1: a 60 s entry lives 54-60 s), so
// that entries filled together do not all expire together. The TTL stays an upper bound.
func jitterTTL(ttl time.Duration, jitter float64) time.Duration {
	return ttl - time.Duration(rand.Float64()*jitter*float64(ttl))
}

// #endregion tutorial:jitter

// EvictionResult is what FillUntilEvicted saw: how many keys of each kind are still in Redis.
type EvictionResult struct {
	Evicted                   int64 // INFO stats evicted_keys
	HotKept, OldKept, NewKept int
}

// #region tutorial:eviction

// FillUntilEvicted caps Redis at what it uses now plus room and sets the eviction policy. It
// writes old keys and a hot set (1 kB each, with a TTL), waits until Redis sees the old keys as
// idle, reads the hot set, then writes new keys past the cap: Redis must evict to take them.
func FillUntilEvicted(ctx context.Context, rdb *redis.Client, policy string, room int64,
	hot, old, fresh int) (EvictionResult, error) {
	used, err := infoField(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return EvictionResult{}, err
	}
	if err := rdb.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+room, 10)).Err(); err != nil {
		return EvictionResult{}, err
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
		return EvictionResult{}, err
	}
	if err := writeKeys(ctx, rdb, "old", old); err != nil {
		return EvictionResult{}, err
	}
	if err := writeKeys(ctx, rdb, "hot", hot); err != nil {
		return EvictionResult{}, err
	}
	// Redis's LRU clock ticks once a second: until it has, old and hot keys look equally recent.
	if err := waitUntilIdle(ctx, rdb, "tut:{old:0}:val"); err != nil {
		return EvictionResult{}, err
	}
	for i := range hot {
		rdb.Get(ctx, fmt.Sprintf("tut:{hot:%d}:val", i))
	}
	if err := writeKeys(ctx, rdb, "new", fresh); err != nil {
		return EvictionResult{}, err // with noeviction: "OOM command not allowed"
	}
	// #endregion tutorial:eviction
	result := EvictionResult{HotKept: countKept(ctx, rdb, "hot", hot),
		OldKept: countKept(ctx, rdb, "old", old), NewKept: countKept(ctx, rdb, "new", fresh)}
	result.Evicted, err = infoField(ctx, rdb, "stats", "evicted_keys")
	return result, err
}

func writeKeys(ctx context.Context, rdb *redis.Client, kind string, n int) error {
	value := strings.Repeat("x", 1024)
	for i := range n {
		if err := rdb.Set(ctx, fmt.Sprintf("tut:{%s:%d}:val", kind, i), value, time.Minute).Err(); err != nil {
			return err
		}
	}
	return nil
}

func countKept(ctx context.Context, rdb *redis.Client, kind string, n int) int {
	kept := 0
	for i := range n {
		// OBJECT IDLETIME, not EXISTS: it does not touch the key's LRU clock.
		if rdb.ObjectIdleTime(ctx, fmt.Sprintf("tut:{%s:%d}:val", kind, i)).Err() == nil {
			kept++
		}
	}
	return kept
}

// waitUntilIdle polls OBJECT IDLETIME (which does not touch the key) until key has been idle
// for a second, or 5 s pass.
func waitUntilIdle(ctx context.Context, rdb *redis.Client, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		idle, err := rdb.ObjectIdleTime(ctx, key).Result()
		if err != nil {
			return err
		}
		if idle >= time.Second {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// infoField reads one integer field of an INFO section, e.g. ("stats", "evicted_keys").
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (int64, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			return strconv.ParseInt(value, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO %s has no %s", section, field)
}
