package tutorial

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// #region tutorial:config

// Config is what the tutorial's programs can be told, with the Node cluster's defaults but for
// Redis: the one chapter 2 starts, on port 6402, away from the cluster's and any system Redis.
type Config struct {
	RedisURL    string        // REDIS_URL: the Redis to use
	TTL         time.Duration // CACHE_TTL_MS: how long a value lives in Redis
	NegativeTTL time.Duration // NEGATIVE_TTL_MS: how long a "not found" lives in Redis
	DBLatency   time.Duration // DB_LATENCY_MS: the simulated cost of every query
}

// DefaultConfig is the configuration when no variable is set.
func DefaultConfig() Config {
	return Config{
		RedisURL:    "redis://127.0.0.1:6402",
		TTL:         60 * time.Second,
		NegativeTTL: 5 * time.Second,
		DBLatency:   50 * time.Millisecond,
	}
}

// #endregion tutorial:config

// ConfigFromEnv reads the configuration once, from getenv (os.Getenv in a program), naming the
// variable in its error when a value is not a non-negative number of milliseconds.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	if url := getenv("REDIS_URL"); url != "" {
		cfg.RedisURL = url
	}
	for name, target := range map[string]*time.Duration{
		"CACHE_TTL_MS": &cfg.TTL, "NEGATIVE_TTL_MS": &cfg.NegativeTTL, "DB_LATENCY_MS": &cfg.DBLatency,
	} {
		raw := getenv(name)
		if raw == "" {
			continue
		}
		ms, err := strconv.Atoi(raw)
		if err != nil || ms < 0 {
			return Config{}, fmt.Errorf("%s must be a non-negative integer (ms), got %q", name, raw)
		}
		*target = time.Duration(ms) * time.Millisecond
	}
	return cfg, nil
}

// #region tutorial:connect

// Connect opens a client to url and checks it with PING. Every command is bounded: a Redis that
// hangs makes a read slower, never stuck.
func Connect(ctx context.Context, url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 250 * time.Millisecond
	opts.WriteTimeout = 250 * time.Millisecond
	client := redis.NewClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("no Redis at %s (is redis-server running?): %w", url, err)
	}
	return client, nil
}

// #endregion tutorial:connect
