package cachelab

import (
	"context"
	"errors"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// ReadOption changes one read.
type ReadOption func(*readOptions)

type readOptions struct {
	strict     bool
	minVersion int64
}

// Strict serves an L1 entry only after one READ confirms its version is current (MUST-STRICT-1).
func Strict() ReadOption { return func(o *readOptions) { o.strict = true } }

// MinVersion is a read-your-writes token: the read never answers below version (MUST-RYW-1).
func MinVersion(version int64) ReadOption { return func(o *readOptions) { o.minVersion = version } }

// Get reads key: L1 (trusted, not below the key's floor), then pointer and data from Redis in
// one round trip, then one load per key however many reads miss together (SPEC §8). Redis
// failing never fails a read; the loader's error is returned as it is.
func (c *Cache[V]) Get(ctx context.Context, key string, loader Loader[V], opts ...ReadOption) (Read[V], error) {
	if err := keys.Check(key); err != nil {
		return Read[V]{}, err
	}
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkVersion(o.minVersion); err != nil {
		return Read[V]{}, err
	}
	if c.closed.Load() {
		return Read[V]{}, ErrClosed
	}
	readSeq := c.readSeq.Add(1)
	c.counter.reads.Add(1)
	floor := max(o.minVersion, c.mark(key))
	if local, ok := c.local(key, floor); ok {
		if !o.strict {
			return c.servedFromL1(local), nil
		}
		if read, ok := c.confirmed(ctx, key, local, floor); ok {
			return read, nil
		}
	} else if read, ok := c.fromRedis(ctx, key, floor); ok {
		return read, nil
	}
	c.counter.misses.Add(1)
	loaded, err := c.loadShared(ctx, key, loader, floor, readSeq)
	if err != nil {
		return Read[V]{}, err
	}
	// Below an announced mark the database's answer is still the truth and is served; below
	// the caller's token it is not (MUST-RYW-1).
	if loaded.Version < o.minVersion {
		return Read[V]{}, &VersionUnavailableError{Key: key, MinVersion: o.minVersion, Version: loaded.Version}
	}
	return loaded, nil
}

// Peek is what an eventual read would answer from L1 alone, now: no Redis, no loader. Counted
// as a read when it finds something.
func (c *Cache[V]) Peek(key string) (Read[V], bool) {
	if !keys.Valid(key) {
		return Read[V]{}, false
	}
	local, ok := c.local(key, c.mark(key))
	if !ok {
		return Read[V]{}, false
	}
	c.counter.reads.Add(1)
	return c.servedFromL1(local), true
}

// local is the live L1 entry of key at or above floor, if L1 is trusted.
func (c *Cache[V]) local(key string, floor int64) (Read[V], bool) {
	now := time.Now()
	if !c.bus.trustedAt(now) {
		return Read[V]{}, false
	}
	c.mu.Lock()
	e, ok := c.l1.Get(key, now)
	c.mu.Unlock()
	if !ok || e.Version < floor {
		return Read[V]{}, false
	}
	return Read[V]{Value: e.Value, Version: e.Version, Tier: TierL1}, true
}

func (c *Cache[V]) servedFromL1(r Read[V]) Read[V] {
	c.counter.l1Hits.Add(1)
	if r.Value == nil {
		c.counter.negativeHits.Add(1)
	}
	return r
}

// fromRedis: one READ; the entry if at or above floor (MUST-READ-2), which then fills L1.
func (c *Cache[V]) fromRedis(ctx context.Context, key string, floor int64) (Read[V], bool) {
	t := c.token()
	f, ok := c.readRedis(ctx, key)
	if !ok {
		return Read[V]{}, false
	}
	return c.serveFound(key, f, floor, t)
}

// serveFound serves a READ's entry when it is at or above floor, filling L1.
func (c *Cache[V]) serveFound(key string, f found, floor int64, t fillToken) (Read[V], bool) {
	if !f.hasPayload {
		return Read[V]{}, false
	}
	if f.pointer < floor {
		c.counter.l2Stale.Add(1)
		return Read[V]{}, false
	}
	value, err := decode[V](f.payload)
	if err != nil { // JSON, but not a V: a miss; the load's fill overwrites it
		c.counter.corruptEntries.Add(1)
		c.opts.OnError(&wrapped{what: key, err: err, kind: ErrCorruptEntry})
		return Read[V]{}, false
	}
	c.fillL1(key, value, f.pointer, t)
	c.counter.l2Hits.Add(1)
	if value == nil {
		c.counter.negativeHits.Add(1)
	}
	return Read[V]{Value: value, Version: f.pointer, Tier: TierL2}, true
}

// readRedis runs READ; false when Redis failed (the read goes on to the loader: degraded).
func (c *Cache[V]) readRedis(ctx context.Context, key string) (found, bool) {
	f, err := c.store.read(ctx, key)
	if err != nil {
		c.counter.degradedReads.Add(1)
		if errors.Is(err, errFenceCheck) {
			c.counter.redisSkipped.Add(1) // not Redis's failure: no error to report
		} else {
			c.reportRedis("READ "+key, err)
		}
		return found{}, false
	}
	if f.corrupt {
		c.counter.corruptEntries.Add(1)
		c.opts.OnError(&wrapped{what: key, err: ErrCorruptEntry, kind: ErrCorruptEntry})
	}
	return f, true
}

// confirmed: a strict L1 hit is served only if Redis's pointer equals its version; else Redis's
// own answer if at or above floor; else nothing (the read loads).
func (c *Cache[V]) confirmed(ctx context.Context, key string, local Read[V], floor int64) (Read[V], bool) {
	t := c.token()
	f, ok := c.readRedis(ctx, key)
	if ok && f.pointer == local.Version {
		c.counter.strictConfirmed.Add(1)
		return c.servedFromL1(local), true
	}
	c.counter.strictRefuted.Add(1)
	if !ok {
		return Read[V]{}, false
	}
	return c.serveFound(key, f, floor, t)
}
