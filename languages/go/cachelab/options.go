package cachelab

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
	"github.com/cachelab/cachelab/languages/go/cachelab/message"
)

// PubSub selects how announcements travel.
type PubSub int

const (
	// Global Pub/Sub: PUBLISH and SUBSCRIBE on <namespace>:invalidations (one Redis).
	Global PubSub = iota
	// Sharded Pub/Sub: SPUBLISH and SSUBSCRIBE on the 16 shard channels (Redis Cluster).
	Sharded
)

// Options configure a Cache. Zero durations and counts take the defaults of SPEC §11.
type Options struct {
	// Redis runs every command: a *redis.Client, or a *redis.ClusterClient with Sharded.
	// Subscriptions use dedicated connections of the same client. On a single Redis the cache
	// also checks, at start and after every subscription drop, whether Redis came back from an
	// older snapshot (MUST-FENCE-1: INFO, then SCAN and UNLINK of the namespace if it did).
	Redis redis.UniversalClient
	// PubSub: Global (default) or Sharded.
	PubSub PubSub
	// Namespace prefixes every key and channel: 1-32 characters of [A-Za-z0-9_.-]. Default "cl".
	Namespace string
	// Origin names this instance in its messages: 1-64 characters of [A-Za-z0-9_.:/-].
	// Default: a random one.
	Origin string
	// SigningSecrets sign and verify messages (the first signs, every one verifies); empty:
	// messages are plain JSON. Each is at least 16 characters.
	SigningSecrets []string

	TTL                     time.Duration // data entries in Redis; default 60 s
	NegativeTTL             time.Duration // "not found" entries in Redis; default 5 s
	TTLJitter               float64       // each TTL shortened by up to this fraction; default 0.1, negative: 0
	L1TTL                   time.Duration // L1 entries; default 30 s
	L1MaxEntries            int           // L1 size bound; default 10 000, negative: L1 off
	HighWaterMarkMaxEntries int           // marks bound; default 100 000
	HeartbeatInterval       time.Duration // default 500 ms
	HeartbeatTimeout        time.Duration // default 2 s; more than the interval
	RedisTimeout            time.Duration // bound of each Redis call; default 250 ms
	MaxConcurrentLoads      int           // keys loading at once before E_OVERLOADED; default 32
	InvalidateAttempts      int           // attempts of a write's fill before background retries; default 3
	LoadLease               time.Duration // one load per key for the cluster; default 500 ms, negative: off

	// BeforeFill, when set, runs between a load's read of the source of truth and its fill of
	// Redis and L1: a hook for labs and tests (a slow reader, the stale-set race). Default: none.
	BeforeFill func(ctx context.Context, key string)

	// OnError receives what the cache reports but never returns to a caller (Redis failures,
	// corrupt entries, announcements given up). Must not block. Default: ignored.
	OnError func(error)
}

// Defaults of SPEC §11.
const (
	DefaultNamespace               = "cl"
	DefaultTTL                     = 60 * time.Second
	DefaultNegativeTTL             = 5 * time.Second
	DefaultTTLJitter               = 0.1
	DefaultL1TTL                   = 30 * time.Second
	DefaultL1MaxEntries            = 10_000
	DefaultHighWaterMarkMaxEntries = 100_000
	DefaultHeartbeatInterval       = 500 * time.Millisecond
	DefaultHeartbeatTimeout        = 2 * time.Second
	DefaultRedisTimeout            = 250 * time.Millisecond
	DefaultMaxConcurrentLoads      = 32
	DefaultInvalidateAttempts      = 3
	DefaultLoadLease               = 500 * time.Millisecond
)

// resolve fills in the defaults and validates, naming the option in its error.
func (o Options) resolve() (Options, error) {
	if o.Redis == nil {
		return o, fmt.Errorf("cachelab: Options.Redis is required")
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if !keys.ValidNamespace(o.Namespace) {
		return o, fmt.Errorf("cachelab: Options.Namespace %q must be 1-32 characters of [A-Za-z0-9_.-]", o.Namespace)
	}
	if o.Origin == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.Origin = "go-" + base64.RawURLEncoding.EncodeToString(b)
	}
	if !message.ValidOrigin(o.Origin) {
		return o, fmt.Errorf("cachelab: Options.Origin %q must be 1-64 characters of [A-Za-z0-9_.:/-]", o.Origin)
	}
	for _, s := range o.SigningSecrets {
		if len(s) < 16 {
			return o, fmt.Errorf("cachelab: Options.SigningSecrets must be at least 16 characters each")
		}
	}
	durations := []struct {
		name  string
		value *time.Duration
		def   time.Duration
	}{
		{"TTL", &o.TTL, DefaultTTL}, {"NegativeTTL", &o.NegativeTTL, DefaultNegativeTTL},
		{"L1TTL", &o.L1TTL, DefaultL1TTL}, {"HeartbeatInterval", &o.HeartbeatInterval, DefaultHeartbeatInterval},
		{"HeartbeatTimeout", &o.HeartbeatTimeout, DefaultHeartbeatTimeout},
		{"RedisTimeout", &o.RedisTimeout, DefaultRedisTimeout},
	}
	for _, d := range durations {
		if *d.value == 0 {
			*d.value = d.def
		}
		if *d.value < time.Millisecond {
			return o, fmt.Errorf("cachelab: Options.%s must be at least 1 ms, got %s", d.name, *d.value)
		}
	}
	if o.HeartbeatTimeout <= o.HeartbeatInterval {
		return o, fmt.Errorf("cachelab: Options.HeartbeatTimeout (%s) must be longer than HeartbeatInterval (%s)", o.HeartbeatTimeout, o.HeartbeatInterval)
	}
	switch {
	case o.TTLJitter == 0:
		o.TTLJitter = DefaultTTLJitter
	case o.TTLJitter < 0:
		o.TTLJitter = 0
	case o.TTLJitter >= 1:
		return o, fmt.Errorf("cachelab: Options.TTLJitter must be below 1, got %g", o.TTLJitter)
	}
	o.L1MaxEntries = orDefault(o.L1MaxEntries, DefaultL1MaxEntries)
	o.HighWaterMarkMaxEntries = orDefault(o.HighWaterMarkMaxEntries, DefaultHighWaterMarkMaxEntries)
	o.MaxConcurrentLoads = orDefault(o.MaxConcurrentLoads, DefaultMaxConcurrentLoads)
	o.InvalidateAttempts = orDefault(o.InvalidateAttempts, DefaultInvalidateAttempts)
	if o.HighWaterMarkMaxEntries < 1 || o.MaxConcurrentLoads < 1 || o.InvalidateAttempts < 1 {
		return o, fmt.Errorf("cachelab: Options.HighWaterMarkMaxEntries, MaxConcurrentLoads and InvalidateAttempts must be positive")
	}
	if o.LoadLease == 0 {
		o.LoadLease = DefaultLoadLease
	}
	if o.LoadLease < 0 {
		o.LoadLease = 0
	}
	if o.OnError == nil {
		o.OnError = func(error) {}
	}
	return o, nil
}

// orDefault: 0 takes the default, a negative value means 0 (off).
func orDefault(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
