package cachelab

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// Set writes written through, after the source of truth committed it (SPEC §9): the data entry
// and the pointer forward with the announcement, then the writer's own L1 (read-your-writes on
// the writer). It fails only for an invalid key or entry: Redis failures are retried, then kept
// and retried in the background (MUST-WRITE-5).
func (c *Cache[V]) Set(ctx context.Context, key string, written Loaded[V]) error {
	if err := keys.Check(key); err != nil {
		return err
	}
	if err := checkVersion(written.Version); err != nil {
		return err
	}
	payload, err := encode(written.Value)
	if err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrClosed
	}
	c.counter.writes.Add(1)
	t := c.token()
	// The mark first: a read of an older version here can no longer fill L1. Raised again after
	// Redis, in case a resubscribe flushed the marks meanwhile.
	c.raise(key, written.Version)
	out, ok := c.moveAndPublish(ctx, key, written, payload)
	c.raise(key, written.Version)
	if ok && out == stale {
		c.counter.rejectedSuperseded.Add(1) // a newer version is current: it belongs in L1
	} else {
		c.fillL1(key, written.Value, written.Version, t)
	}
	if !ok {
		c.keepPending(key, written)
	}
	return nil
}

// Delete writes a deletion through: the tombstone's version with no value (MUST-WRITE-3).
func (c *Cache[V]) Delete(ctx context.Context, key string, version int64) error {
	return c.Set(ctx, key, Loaded[V]{Version: version})
}

// moveAndPublish runs FILL in mode always, up to InvalidateAttempts times, each with a new message.
func (c *Cache[V]) moveAndPublish(ctx context.Context, key string, written Loaded[V], payload []byte) (outcome, bool) {
	for range c.opts.InvalidateAttempts {
		a := c.announcement(key, written.Version, true)
		out, _, err := c.store.fill(ctx, key, written.Version, payload, c.ttlOf(written.Value), c.pointerTTL, a)
		if err == nil {
			c.counter.invalidationsSent.Add(1)
			return out, true
		}
		c.counter.publishFails.Add(1)
		c.reportRedis("FILL (always) "+key, err)
		if ctx.Err() != nil {
			break
		}
	}
	return stale, false
}

// Announce announces a version committed elsewhere, without its value, as an outbox relay does
// (MUST-OUTBOX-3): this instance's mark and L1 first, then ANNOUNCE. Not retried: the caller
// (the relay) keeps what failed and announces it again.
func (c *Cache[V]) Announce(ctx context.Context, key string, version int64) error {
	if err := keys.Check(key); err != nil {
		return err
	}
	if version < 1 || version > maxVersion {
		return ErrInvalidEntry
	}
	c.counter.announcements.Add(1)
	// Our own messages come back ignored: this instance learns of the version here.
	c.mu.Lock()
	c.marks.Raise(key, version)
	c.l1.DropOlderThan(key, version)
	c.mu.Unlock()
	out, err := c.store.announce(ctx, key, version, c.pointerTTL, c.announcement(key, version, true))
	if err != nil {
		c.counter.publishFails.Add(1)
		c.reportRedis("ANNOUNCE "+key, err)
		return err
	}
	if out != stale {
		c.counter.invalidationsSent.Add(1)
	}
	c.raise(key, version)
	return nil
}

// writeRetries keeps the writes whose announcement failed every attempt and retries them every
// heartbeat interval until Redis takes them: until then a slow reader could set the pointer to an
// older version and nobody would move it forward. Bounded; the newest version per key wins.
type writeRetries[V any] struct {
	mu      sync.Mutex
	pending map[string]Loaded[V]
	wg      sync.WaitGroup
}

func (w *writeRetries[V]) size() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

func (c *Cache[V]) keepPending(key string, written Loaded[V]) {
	w := &c.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	queued, ok := w.pending[key]
	if ok && queued.Version >= written.Version {
		return
	}
	if !ok && len(w.pending) >= c.opts.HighWaterMarkMaxEntries {
		c.counter.invalidationFailures.Add(1)
		c.opts.OnError(&wrapped{what: key + ": too many announcements pending; stale until its TTL",
			err: ErrInvalidationFailed, kind: ErrInvalidationFailed})
		return
	}
	w.pending[key] = written
}

// retryPending runs until the cache closes.
func (c *Cache[V]) retryPending() {
	ticker := time.NewTicker(c.opts.HeartbeatInterval)
	defer ticker.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-ticker.C:
		}
		c.writes.mu.Lock()
		batch := make(map[string]Loaded[V], len(c.writes.pending))
		maps.Copy(batch, c.writes.pending)
		c.writes.mu.Unlock()
		for key, written := range batch {
			if !c.retryOne(key, written) {
				break // Redis is still unreachable: try again later
			}
		}
	}
}

func (c *Cache[V]) retryOne(key string, written Loaded[V]) bool {
	payload, _ := encode(written.Value)
	a := c.announcement(key, written.Version, true)
	if _, _, err := c.store.fill(c.ctx, key, written.Version, payload, c.ttlOf(written.Value), c.pointerTTL, a); err != nil {
		c.counter.publishFails.Add(1)
		return false
	}
	c.counter.invalidationsSent.Add(1)
	c.counter.invalidationsRetried.Add(1)
	c.writes.mu.Lock()
	if queued, ok := c.writes.pending[key]; ok && queued.Version == written.Version {
		delete(c.writes.pending, key)
	}
	c.writes.mu.Unlock()
	return true
}
