// Package config reads a Go instance's settings from its environment, once, with the names and
// defaults of the Node instance (packages/app/src/settings.ts), naming the variable in every error.
package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is what an instance is told.
type Config struct {
	Port               int
	Host               string
	InstanceName       string
	RunID              string   // CLUSTER_RUN_ID, reported by /readyz as run
	RedisURL           string   // REDIS_URL
	RedisClusterNodes  []string // REDIS_CLUSTER_NODES: host:port,… (sharded Pub/Sub)
	InvalidationSecret []string // INVALIDATION_SECRET: comma-separated, the first signs
	DatabaseURL        string
	DBLatency          time.Duration
	DBPoolMax          int
	DBQueryTimeout     time.Duration
	DBConnectTimeout   time.Duration
	MaxConcurrentLoads int
	LoadLease          time.Duration
	SeedUsers          int
	Namespace          string
	L1MaxEntries       int
	HighWaterMarks     int
	L1TTL              time.Duration
	HeartbeatInterval  time.Duration
	HeartbeatTimeout   time.Duration
	CacheTTL           time.Duration
	TTLJitter          float64
	NegativeTTL        time.Duration
	RedisTimeout       time.Duration
	OutboxPoll         time.Duration
	OutboxBatchSize    int
	OutboxLease        time.Duration
	StartupTimeout     time.Duration
	ShutdownTimeout    time.Duration
	LogLevel           string
	LabFillDelay       time.Duration // LAB_FILL_DELAY_MS: lab only, holds every fill after its read
	CrashAfterCommit   bool          // CRASH_AFTER_COMMIT=1: lab only, die right after a commit
}

var (
	runIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	namePattern  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,32}$`)
)

// Read reads the configuration from getenv (os.Getenv in main).
func Read(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		Port:               r.integer("PORT", 3000, 1, 65535),
		Host:               r.str("HOST", "127.0.0.1"),
		InstanceName:       r.str("INSTANCE_NAME", "app"),
		RunID:              getenv("CLUSTER_RUN_ID"),
		RedisURL:           r.str("REDIS_URL", "redis://127.0.0.1:6379"),
		RedisClusterNodes:  list(getenv("REDIS_CLUSTER_NODES")),
		InvalidationSecret: list(getenv("INVALIDATION_SECRET")),
		DatabaseURL:        r.str("DATABASE_URL", "postgres://postgres@127.0.0.1:25432/postgres"),
		DBLatency:          r.ms("DB_LATENCY_MS", 50, 0),
		DBPoolMax:          r.integer("DB_POOL_MAX", 10, 1, 1000),
		DBQueryTimeout:     r.ms("DB_QUERY_TIMEOUT_MS", 5000, 1),
		DBConnectTimeout:   r.ms("DB_CONNECT_TIMEOUT_MS", 2000, 1),
		MaxConcurrentLoads: r.integer("MAX_CONCURRENT_LOADS", 32, 1, 1<<30),
		LoadLease:          r.ms("LOAD_LEASE_MS", 500, 0),
		SeedUsers:          r.integer("SEED_USERS", 10000, 0, 10_000_000),
		Namespace:          r.str("CACHE_NAMESPACE", "cl"),
		L1MaxEntries:       r.integer("L1_MAX_ENTRIES", 10000, 0, 1<<30),
		HighWaterMarks:     r.integer("HIGH_WATER_MARK_MAX_ENTRIES", 100000, 1, 1<<30),
		L1TTL:              r.ms("L1_TTL_MS", 30000, 1),
		HeartbeatInterval:  r.ms("HEARTBEAT_INTERVAL_MS", 500, 1),
		HeartbeatTimeout:   r.ms("HEARTBEAT_TIMEOUT_MS", 2000, 1),
		CacheTTL:           r.ms("CACHE_TTL_MS", 60000, 1),
		TTLJitter:          r.fraction("TTL_JITTER", 0.1),
		NegativeTTL:        r.ms("NEGATIVE_TTL_MS", 5000, 1),
		RedisTimeout:       r.ms("REDIS_TIMEOUT_MS", 250, 1),
		OutboxPoll:         r.ms("OUTBOX_POLL_MS", 250, 1),
		OutboxBatchSize:    r.integer("OUTBOX_BATCH_SIZE", 500, 1, 100000),
		OutboxLease:        r.ms("OUTBOX_LEASE_MS", 5000, 1),
		StartupTimeout:     r.ms("STARTUP_TIMEOUT_MS", 30000, 1),
		ShutdownTimeout:    r.ms("SHUTDOWN_TIMEOUT_MS", 10000, 1),
		LogLevel:           r.str("LOG_LEVEL", "info"),
		LabFillDelay:       r.ms("LAB_FILL_DELAY_MS", 0, 0),
		CrashAfterCommit:   getenv("CRASH_AFTER_COMMIT") == "1",
	}
	if r.err != nil {
		return Config{}, r.err
	}
	if strategy := getenv("CACHE_STRATEGY"); strategy != "" && strategy != "versioned" {
		return Config{}, fmt.Errorf("CACHE_STRATEGY: the Go instance implements versioned only, got %q", strategy)
	}
	if c.RunID != "" && !runIDPattern.MatchString(c.RunID) {
		return Config{}, fmt.Errorf("CLUSTER_RUN_ID must be 1-64 characters of [A-Za-z0-9_-]")
	}
	if !namePattern.MatchString(c.InstanceName) {
		return Config{}, fmt.Errorf("INSTANCE_NAME must be 1-32 characters of [A-Za-z0-9_.-]")
	}
	if c.HeartbeatTimeout <= c.HeartbeatInterval {
		return Config{}, fmt.Errorf("HEARTBEAT_TIMEOUT_MS must be longer than HEARTBEAT_INTERVAL_MS")
	}
	for _, s := range c.InvalidationSecret {
		if len(s) < 16 {
			return Config{}, fmt.Errorf("INVALIDATION_SECRET: each secret must be at least 16 characters")
		}
	}
	switch c.LogLevel {
	case "trace", "debug", "info", "warn", "error", "fatal", "silent":
	default:
		return Config{}, fmt.Errorf("LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent")
	}
	return c, nil
}

// reader keeps the first error, so that Read stays one table of settings.
type reader struct {
	getenv func(string) string
	err    error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) integer(name string, def, lo, hi int) int {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		r.fail("%s must be an integer from %d to %d, got %q", name, lo, hi, raw)
	}
	return n
}

func (r *reader) ms(name string, def, lo int) time.Duration {
	return time.Duration(r.integer(name, def, lo, 86_400_000)) * time.Millisecond
}

func (r *reader) fraction(name string, def float64) float64 {
	raw := strings.TrimSpace(r.getenv(name))
	if raw == "" {
		return def
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f < 0 || f > 0.9 {
		r.fail("%s must be a number from 0 to 0.9, got %q", name, raw)
	}
	return f
}

func list(raw string) []string {
	var out []string
	for s := range strings.SplitSeq(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
