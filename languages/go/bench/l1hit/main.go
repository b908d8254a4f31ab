// Command l1hit measures what an L1 hit costs in process, in Go: ns per Cache.Get (eventual, the
// default) of a warm key, one sample per run, the twin of packages/lab/src/bench/workers/l1.ts and
// languages/python/bench/l1_hit.py. Redis only brings the invalidation bus to trust; the measured
// loop never leaves the process. The bench's languages section runs it
// (packages/lab/src/bench/languages.ts):
//
//	go -C languages/go run ./bench/l1hit '{"redisUrl": "redis://…", "iterations": 200000, "runs": 7}'
//
// It prints one JSON line: {"nsPerHit": [...], "nsPerMapGet": [...], "l1Hits": n, "runtime": ...},
// and exits non-zero when fewer than 99% of the measured reads were L1 hits.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab"
)

type user struct {
	Name string `json:"name"`
}

type settings struct {
	RedisURL   string `json:"redisUrl"`
	Iterations int    `json:"iterations"`
	Runs       int    `json:"runs"`
}

type result struct {
	NsPerHit    []float64 `json:"nsPerHit"`
	NsPerMapGet []float64 `json:"nsPerMapGet"`
	L1Hits      int64     `json:"l1Hits"`
	Runtime     string    `json:"runtime"`
}

// sink keeps the map lookups of the reference loop from being optimised away.
var sink *user

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "l1hit:", err)
		os.Exit(1)
	}
}

func run() error {
	if len(os.Args) != 2 {
		return fmt.Errorf(`usage: l1hit '{"redisUrl": …, "iterations": n, "runs": n}'`)
	}
	var s settings
	if err := json.Unmarshal([]byte(os.Args[1]), &s); err != nil {
		return fmt.Errorf("the settings: %w", err)
	}
	if s.Iterations < 1 || s.Runs < 1 {
		return fmt.Errorf("iterations and runs must be at least 1, got %d and %d", s.Iterations, s.Runs)
	}
	options, err := redis.ParseURL(s.RedisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(options)
	defer func() { _ = rdb.Close() }()
	cache, err := cachelab.New[user](cachelab.Options{
		Redis:     rdb,
		Namespace: fmt.Sprintf("bench-l1-go-%d", os.Getpid()),
	})
	if err != nil {
		return err
	}
	defer func() { _ = cache.Close() }()

	ctx := context.Background()
	trustCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cache.WaitTrusted(trustCtx); err != nil {
		return fmt.Errorf("the invalidation bus never became trusted: %w", err)
	}
	ada := &user{Name: "Ada"}
	loader := func(context.Context, string) (cachelab.Loaded[user], error) {
		return cachelab.Loaded[user]{Value: ada, Version: 1}, nil
	}
	if _, err := cache.Get(ctx, "user:1", loader); err != nil {
		return err
	}
	table := map[string]*user{"user:1": ada}
	before := cache.Stats().L1Hits
	out := result{Runtime: fmt.Sprintf("%s, go-redis v%s", runtime.Version(), redis.Version())}
	for range s.Runs {
		started := time.Now()
		for range s.Iterations {
			sink = table["user:1"]
		}
		out.NsPerMapGet = append(out.NsPerMapGet, nsPerOp(time.Since(started), s.Iterations))
		started = time.Now()
		for range s.Iterations {
			if _, err := cache.Get(ctx, "user:1", loader); err != nil {
				return err
			}
		}
		out.NsPerHit = append(out.NsPerHit, nsPerOp(time.Since(started), s.Iterations))
	}
	out.L1Hits = cache.Stats().L1Hits - before
	if sink != ada {
		return fmt.Errorf("the map lookup found %v", sink)
	}
	// A read that met a moment without trust went to Redis: a few are possible, many are a bug.
	if total := int64(s.Iterations) * int64(s.Runs); float64(out.L1Hits) < 0.99*float64(total) {
		return fmt.Errorf("expected L1 hits only, got %d of %d", out.L1Hits, total)
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func nsPerOp(elapsed time.Duration, iterations int) float64 {
	return float64(elapsed.Nanoseconds()) / float64(iterations)
}
