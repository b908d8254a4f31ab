// Command clientcache measures go-redis's own server-assisted client-side caching (RESP3,
// ClientSideCacheConfig, experimental since go-redis 9.22) the way bench/l1hit measures
// cachelab's L1: ns per GET of a cached key, and how long after another connection's SET returns
// the tracked client stops answering the old value (Redis pushes the invalidation on the
// connection that read the key; a hit sends no command, so go-redis applies it from its
// background drainer, every 5 ms by default (CacheConfig.DrainInterval), or before that
// connection's next command). The writer is a plain client of this same process. The twin of languages/python/bench/client_side_cache.py; the bench's languages section
// runs it (packages/lab/src/bench/languages.ts):
//
//	go -C languages/go run ./bench/clientcache '{"redisUrl": "redis://…", "iterations": 200000,
//	                                              "runs": 7, "writes": 200}'
//
// It prints one JSON line: {"applicable": false, "reason": ...} when this Redis or go-redis does
// not cache (a GET fails, or a repeated GET is not served from the cache), else
// {"applicable": true, "nsPerHit": [...], "fromWriteReturnMs": [...], "lost": n, "runtime": ...}.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// bound: a write not seen by the tracked client within this long counts as lost.
const bound = 2 * time.Second

type settings struct {
	RedisURL   string `json:"redisUrl"`
	Iterations int    `json:"iterations"`
	Runs       int    `json:"runs"`
	Writes     int    `json:"writes"`
}

type notApplicable struct {
	Applicable bool   `json:"applicable"`
	Reason     string `json:"reason"`
	Runtime    string `json:"runtime"`
}

type measured struct {
	Applicable        bool      `json:"applicable"`
	NsPerHit          []float64 `json:"nsPerHit"`
	FromWriteReturnMs []float64 `json:"fromWriteReturnMs"`
	Lost              int       `json:"lost"`
	CacheHits         uint64    `json:"cacheHits"`
	Runtime           string    `json:"runtime"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "clientcache:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf(`usage: clientcache '{"redisUrl": …, "iterations": n, "runs": n, "writes": n}'`)
	}
	var s settings
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		return fmt.Errorf("the settings: %w", err)
	}
	if s.Iterations < 1 || s.Runs < 1 || s.Writes < 1 {
		return fmt.Errorf("iterations, runs and writes must be at least 1, got %d, %d and %d",
			s.Iterations, s.Runs, s.Writes)
	}
	options, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return err
	}
	rt := fmt.Sprintf("%s, go-redis v%s", runtime.Version(), redis.Version())
	ctx := context.Background()
	key := fmt.Sprintf("bench-csc-go-%d", os.Getpid())

	plain := redis.NewClient(options)
	defer func() { _ = plain.Close() }()
	if err := plain.Set(ctx, key, "0", 0).Err(); err != nil {
		return err
	}
	defer plain.Del(ctx, key)

	trackedOptions := *options
	trackedOptions.Protocol = 3
	trackedOptions.ClientSideCacheConfig = &redis.ClientSideCacheConfig{MaxEntries: 1000}
	tracked := redis.NewClient(&trackedOptions)
	defer func() { _ = tracked.Close() }()
	if reason := refusal(ctx, tracked, key); reason != "" {
		return emit(notApplicable{Applicable: false, Reason: reason, Runtime: rt})
	}

	out := measured{Applicable: true, FromWriteReturnMs: []float64{}, Runtime: rt}
	before := tracked.CSCStats().Hits
	for range s.Runs {
		started := time.Now()
		for range s.Iterations {
			if err := tracked.Get(ctx, key).Err(); err != nil {
				return err
			}
		}
		out.NsPerHit = append(out.NsPerHit, float64(time.Since(started).Nanoseconds())/float64(s.Iterations))
	}
	out.CacheHits = tracked.CSCStats().Hits - before
	if total := uint64(s.Iterations) * uint64(s.Runs); float64(out.CacheHits) < 0.99*float64(total) {
		return fmt.Errorf("expected client-side cache hits only, got %d of %d", out.CacheHits, total)
	}

	for version := 1; version <= s.Writes; version++ {
		// Cached again (the previous write's invalidation emptied it).
		if err := tracked.Get(ctx, key).Err(); err != nil {
			return err
		}
		want := strconv.Itoa(version)
		if err := plain.Set(ctx, key, want, 0).Err(); err != nil {
			return err
		}
		returned := time.Now()
		for {
			got, err := tracked.Get(ctx, key).Result()
			if err != nil {
				return err
			}
			if got == want {
				out.FromWriteReturnMs = append(out.FromWriteReturnMs, float64(time.Since(returned).Nanoseconds())/1e6)
				break
			}
			if time.Since(returned) > bound {
				out.Lost++
				break
			}
		}
	}
	return emit(out)
}

// refusal reads key twice through the tracked client: "" when the second read was a hit of
// go-redis's cache, else why the cache does not apply here.
func refusal(ctx context.Context, tracked *redis.Client, key string) string {
	for range 2 {
		if err := tracked.Get(ctx, key).Err(); err != nil {
			return err.Error()
		}
	}
	if tracked.CSCStats().Hits == 0 {
		return "go-redis served no GET from its client-side cache (RESP3 or CLIENT TRACKING refused by this Redis?)"
	}
	return ""
}

func emit(v any) error { return json.NewEncoder(os.Stdout).Encode(v) }
