package cachelab

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/cachelab/cachelab/languages/go/cachelab/internal/local"
	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
	"github.com/cachelab/cachelab/languages/go/cachelab/message"
)

// Version of this library, reported by the interop adapter.
const Version = "0.1.0"

// Loaded is an answer of the source of truth: a value (nil: "not found", a tombstone or a row
// that never existed) and the version the source gave it (0: never existed).
type Loaded[V any] struct {
	Value   *V
	Version int64
}

// Loader reads one key from the source of truth, value and version from one row read.
type Loader[V any] func(ctx context.Context, key string) (Loaded[V], error)

// Tier says who answered a read.
type Tier string

// The tiers of a read.
const (
	TierL1   Tier = "L1"
	TierL2   Tier = "L2"
	TierMiss Tier = "MISS"
)

// Read is a read's answer. Value is shared with the cache: treat it as read-only.
type Read[V any] struct {
	Value   *V
	Version int64
	Tier    Tier
}

// Cache is one instance's two-tier cache of values of type V, stored in Redis as JSON. It is
// safe for concurrent use. Build it with New; Close it.
type Cache[V any] struct {
	opts       Options
	keys       *keys.Builder
	codec      *message.Codec
	store      *store
	bus        *bus
	fence      *restartFence // nil with sharded Pub/Sub or a Redis Cluster client
	sharded    bool
	pointerTTL time.Duration

	mu    sync.Mutex // guards l1 and marks
	l1    *local.L1[V]
	marks *local.Marks

	flights  singleflight.Group
	loadsMu  sync.Mutex
	loading  map[string]int64 // keys loading now → the read sequence when their load started
	readSeq  atomic.Int64
	seq      atomic.Int64 // announcements' seq
	leaseSeq atomic.Int64
	// clears counts the clears of the namespace heard (SPEC §5.8): a fill whose token is older
	// is void.
	clears atomic.Int64

	writes  writeRetries[V]
	closed  atomic.Bool
	cancel  context.CancelFunc
	ctx     context.Context // lives until Close: background work
	counter counters
}

// New builds a cache and starts subscribing; L1 serves once an own heartbeat has come back
// (WaitTrusted). Options are validated first, naming the option in the error.
func New[V any](opts Options) (*Cache[V], error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	kb, err := keys.New(o.Namespace)
	if err != nil {
		return nil, err
	}
	codec, err := message.NewCodec(kb.Channel(), o.SigningSecrets)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache[V]{
		opts: o, keys: kb, codec: codec, sharded: o.PubSub == Sharded,
		store: &store{rdb: o.Redis, keys: kb, scripts: newScripts(), timeout: o.RedisTimeout},
		// The pointer outlives its data, so that a very late fill still finds the newer version.
		pointerTTL: 2 * max(o.TTL, o.NegativeTTL),
		l1:         local.NewL1[V](o.L1MaxEntries, o.L1TTL, o.TTLJitter),
		marks:      local.NewMarks(o.HighWaterMarkMaxEntries),
		loading:    map[string]int64{},
		ctx:        ctx, cancel: cancel,
	}
	c.writes.pending = map[string]Loaded[V]{}
	channels := []string{kb.Channel()}
	if c.sharded {
		channels = kb.ShardChannels()
	}
	events := busEvents{
		invalidation: c.onInvalidation,
		clear:        c.onClear,
		trustChange:  c.onTrustChange,
		stall:        func() { c.counter.stalls.Add(1) },
		rejected:     c.counter.reject,
	}
	// A single Redis only: a Redis Cluster's nodes restart one by one, each with its replica.
	if _, cluster := o.Redis.(*redis.ClusterClient); !c.sharded && !cluster {
		c.fence = newRestartFence(o.Redis, kb, o)
		c.store.fence = c.fence
		// Any drop may be Redis restarting, perhaps from an older snapshot: check before using it.
		events.lost = c.fence.suspect
		// Trusted again only once the check has run: a trusted instance reads from Redis at once.
		events.mayTrust = c.fence.ready.Load
		// Redis is back: check now rather than at the retry of a check that found it down.
		events.reconnect = func() {
			if !c.fence.ready.Load() {
				c.fence.poke()
			}
		}
	}
	c.bus = newBus(o.Redis, c.sharded, channels, codec, o.Origin, o, events)
	if c.fence != nil {
		c.fence.passed = c.bus.beat
		c.fence.start(ctx)
	}
	c.bus.run()
	c.writes.wg.Go(c.retryPending)
	return c, nil
}

// Origin is this instance's name in its messages.
func (c *Cache[V]) Origin() string { return c.opts.Origin }

// Namespace is the prefix of this cache's keys and channels.
func (c *Cache[V]) Namespace() string { return c.opts.Namespace }

// WaitSubscribed blocks until every channel's subscription was confirmed once, or ctx ends.
func (c *Cache[V]) WaitSubscribed(ctx context.Context) error {
	select {
	case <-c.bus.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitTrusted blocks until L1 is trusted (an own heartbeat came back everywhere), or ctx ends.
func (c *Cache[V]) WaitTrusted(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !c.bus.trusted.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Close stops the subscriptions, heartbeats and retries. What is still pending is left to TTLs.
func (c *Cache[V]) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.cancel()
	c.bus.close()
	c.writes.wg.Wait()
	if c.fence != nil {
		c.fence.wait()
	}
	return nil
}

// onInvalidation: raise the mark, drop older L1 entries (MUST-MSG-6). Max is idempotent and
// commutative: duplicates and reordering change nothing.
func (c *Cache[V]) onInvalidation(m message.Message) {
	c.counter.invalidationsReceived.Add(1)
	c.counter.propagation(wallClockMs() - m.TS)
	c.mu.Lock()
	c.marks.Raise(m.Key, m.Version)
	c.l1.DropOlderThan(m.Key, m.Version)
	c.mu.Unlock()
}

// onClear: another instance cleared the namespace (MUST-CLEAR-2): drop L1 and void the fills
// of loads and reads that started before; the marks stay (versions still only grow).
func (c *Cache[V]) onClear(message.Message) {
	c.counter.invalidationsReceived.Add(1)
	c.mu.Lock()
	c.clears.Add(1)
	c.l1.Clear()
	c.mu.Unlock()
	c.counter.l1Flushes.Add(1)
}

// onTrustChange: regained trust flushes L1 and the marks (MUST-TRUST-5).
func (c *Cache[V]) onTrustChange(trusted bool) {
	if !trusted {
		c.counter.trustLost.Add(1)
		return
	}
	// Messages may have been lost while the channel was deaf: forget everything learnt before.
	if c.counter.trustLost.Load() > 0 {
		c.counter.subscriberReconnects.Add(1)
	}
	c.mu.Lock()
	c.l1.Clear()
	c.marks.Clear()
	c.mu.Unlock()
	c.counter.l1Flushes.Add(1)
}

// fenced reports whether reads must skip Redis now: it may hold a restored snapshot that is not
// checked yet (MUST-FENCE-1). Waits for the first check, bounded by RedisTimeout.
func (c *Cache[V]) fenced(ctx context.Context) bool {
	if c.fence == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.RedisTimeout)
	defer cancel()
	return c.store.readable(ctx) != nil
}

// fillToken is taken before the Redis read or load whose answer may fill L1 (SPEC §10).
type fillToken struct{ epoch, markEvictions, clears int64 }

func (c *Cache[V]) token() fillToken {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fillToken{
		epoch: c.bus.epoch.Load(), markEvictions: c.marks.Evictions(), clears: c.clears.Load(),
	}
}

// fillL1 stores an entry unless that could make L1 serve something older than the protocol
// allows (MUST-FILL-2): untrusted, another epoch, below the mark, or the mark maybe forgotten.
func (c *Cache[V]) fillL1(key string, value *V, version int64, t fillToken) {
	if !c.bus.trusted.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch mark := c.marks.Get(key); {
	case c.void(t):
		c.counter.rejectedEpoch.Add(1)
	case version < mark:
		c.counter.rejectedSuperseded.Add(1)
	case mark == 0 && c.marks.Evictions() != t.markEvictions:
		c.counter.rejectedForgotten.Add(1)
	default:
		c.l1.Set(key, value, version, time.Now())
	}
}

// void reports whether trust changed or the namespace was cleared since t was taken: a fill of
// what was read then goes nowhere (MUST-FILL-1, MUST-FILL-2, MUST-CLEAR-2).
func (c *Cache[V]) void(t fillToken) bool {
	return c.bus.epoch.Load() != t.epoch || c.clears.Load() != t.clears
}

func (c *Cache[V]) mark(key string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.marks.Get(key)
}

func (c *Cache[V]) raise(key string, version int64) {
	c.mu.Lock()
	c.marks.Raise(key, version)
	c.mu.Unlock()
}

// announcement builds the message of key at version (signed when secrets are set).
func (c *Cache[V]) announcement(key string, version int64, always bool) announcement {
	m := message.Message{Type: message.TypeInvalidation, Key: key, Version: version,
		Origin: c.opts.Origin, Seq: c.seq.Add(1) - 1, TS: wallClockMs()}
	if c.sharded {
		// SPUBLISHed after the script, on the key's channel: numbered then.
		shard := c.keys.ShardChannel(key)
		return announcement{channel: shard, always: always,
			publish: func(ctx context.Context) error { return c.bus.publish(ctx, shard, m) }}
	}
	// Signed here when secrets are set: the script publishes this payload as it is.
	return announcement{channel: c.keys.Channel(), payload: c.codec.Encode(m), always: always}
}

// ttlOf is the data TTL of an entry, shortened by jitter (MUST-VER-3).
func (c *Cache[V]) ttlOf(value *V) time.Duration {
	ttl := c.opts.TTL
	if value == nil {
		ttl = c.opts.NegativeTTL
	}
	cut := time.Duration(rand.Float64() * c.opts.TTLJitter * float64(ttl))
	return max(ttl-cut, time.Millisecond)
}

// encode is the payload of a data entry: the value's JSON, null for "not found" (MUST-ENC-1).
func encode[V any](value *V) ([]byte, error) {
	if value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(value)
}

// decode reads a payload; nil for null.
func decode[V any](payload []byte) (*V, error) {
	var v *V
	err := json.Unmarshal(payload, &v)
	return v, err
}

// checkVersion: an integer from 0 to 2^53−1 (MUST-ENC-4).
func checkVersion(version int64) error {
	if version < 0 || version > maxVersion {
		return ErrInvalidEntry
	}
	return nil
}

// reportRedis sends a Redis failure to OnError, wrapped with ErrRedis.
func (c *Cache[V]) reportRedis(what string, err error) {
	c.counter.redisErrors.Add(1)
	c.opts.OnError(&wrapped{what: what, err: err, kind: ErrRedis})
}

type wrapped struct {
	what string
	err  error
	kind error
}

func (w *wrapped) Error() string   { return w.kind.Error() + ": " + w.what + ": " + w.err.Error() }
func (w *wrapped) Unwrap() []error { return []error{w.kind, w.err} }
