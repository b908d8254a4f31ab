package cachelab

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// loadResult is a shared load's answer and the read sequence when it started: a read that joined
// a load started before it began may need one more (MUST-READ-4).
type loadResult[V any] struct {
	read     Read[V]
	startSeq int64
}

// loadShared loads key once per instance however many reads miss together (singleflight). The
// load runs without the caller's cancellation (others may wait for it); each caller stops
// waiting when its own ctx ends.
func (c *Cache[V]) loadShared(ctx context.Context, key string, loader Loader[V], floor, readSeq int64) (Read[V], error) {
	res, err := c.flight(ctx, key, loader, floor)
	if err != nil {
		return Read[V]{}, err
	}
	if res.startSeq < readSeq && res.read.Version < floor {
		// Joined a load that read the source before this read began: load once more.
		if res, err = c.flight(ctx, key, loader, floor); err != nil {
			return Read[V]{}, err
		}
	}
	return res.read, nil
}

func (c *Cache[V]) flight(ctx context.Context, key string, loader Loader[V], floor int64) (loadResult[V], error) {
	c.loadsMu.Lock()
	_, joining := c.loading[key]
	if !joining && len(c.loading) >= c.opts.MaxConcurrentLoads {
		c.loadsMu.Unlock()
		c.counter.loadsShed.Add(1)
		return loadResult[V]{}, ErrOverloaded
	}
	c.loadsMu.Unlock()
	ch := c.flights.DoChan(key, func() (any, error) {
		start := c.readSeq.Load()
		c.loadsMu.Lock()
		c.loading[key] = start
		c.loadsMu.Unlock()
		defer func() {
			c.loadsMu.Lock()
			delete(c.loading, key)
			c.loadsMu.Unlock()
		}()
		read, err := c.loadForCluster(context.WithoutCancel(ctx), key, loader, floor)
		return loadResult[V]{read: read, startSeq: start}, err
	})
	select {
	case <-ctx.Done():
		return loadResult[V]{}, ctx.Err()
	case r := <-ch:
		if r.Err != nil {
			return loadResult[V]{}, r.Err
		}
		return r.Val.(loadResult[V]), nil
	}
}

// loadForCluster: one load for the whole cluster (SPEC §8.4). The instance that takes the key's
// lease loads; the others wait for its fill in Redis, bounded by the lease, then load themselves.
func (c *Cache[V]) loadForCluster(ctx context.Context, key string, loader Loader[V], floor int64) (Read[V], error) {
	lease := c.opts.LoadLease
	if lease == 0 || c.fenced(ctx) {
		// Without a lease, or while Redis may hold a restored snapshot: nobody's fill in
		// Redis could be read, so this instance loads.
		return c.load(ctx, key, loader)
	}
	holder := c.opts.Origin + ":" + strconv.FormatInt(c.leaseSeq.Add(1), 10)
	taken, err := c.store.takeLease(ctx, key, holder, lease)
	if err != nil {
		c.reportRedis("TAKE_LEASE "+key, err) // Redis failing to take the lease means loading
	} else if !taken {
		if read, ok := c.waitForFill(ctx, key, floor, lease); ok {
			return read, nil
		}
	}
	read, loadErr := c.load(ctx, key, loader)
	if err == nil && taken {
		if err := c.store.releaseLease(ctx, key, holder); err != nil {
			c.reportRedis("RELEASE_LEASE "+key, err)
		}
	}
	return read, loadErr
}

// waitForFill polls for the lease holder's fill: the lease first, then READ, so that a lease
// seen released means its fill (if any) is already there for the read that follows.
func (c *Cache[V]) waitForFill(ctx context.Context, key string, floor int64, lease time.Duration) (Read[V], bool) {
	t := c.token()
	poll := min(10*time.Millisecond, max(time.Millisecond, lease/50))
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	deadline := time.Now().Add(lease)
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return Read[V]{}, false
		case <-ticker.C:
		}
		held, err := c.store.leaseHeld(ctx, key)
		if errors.Is(err, errFenceCheck) {
			return Read[V]{}, false // Redis is checked for a restored snapshot: this instance loads
		}
		if err != nil {
			held = true // our own trouble, not the holder's: keep waiting, bounded by the lease
		}
		f, ok := c.readRedis(ctx, key)
		if !ok {
			continue
		}
		if read, ok := c.serveFound(key, f, max(floor, c.mark(key)), t); ok {
			c.counter.leaseWaits.Add(1)
			c.counter.l2Hits.Add(-1) // counted as a miss that waited, not as an L2 hit
			return read, true
		}
		if !held {
			break
		}
	}
	c.counter.leaseTimeouts.Add(1)
	return Read[V]{}, false
}

// load reads the source of truth and fills Redis and, if still valid, L1 (MUST-FILL-1).
func (c *Cache[V]) load(ctx context.Context, key string, loader Loader[V]) (Read[V], error) {
	// Taken before the database read: the fill is void if trust or the marks changed after it.
	t := c.token()
	c.counter.loads.Add(1)
	loaded, err := loader(ctx, key)
	if err != nil {
		return Read[V]{}, err
	}
	read := Read[V]{Value: loaded.Value, Version: loaded.Version, Tier: TierMiss}
	if err := checkVersion(loaded.Version); err != nil {
		return Read[V]{}, err
	}
	if c.opts.BeforeFill != nil {
		c.opts.BeforeFill(ctx, key)
	}
	payload, err := encode(loaded.Value)
	if err != nil {
		return Read[V]{}, err
	}
	if c.void(t) {
		// The bus dropped meanwhile (Redis may even have restarted empty and forgotten a newer
		// version): what was read may be stale, and no tier, not even Redis, may take it.
		c.counter.rejectedEpoch.Add(1)
		return read, nil
	}
	a := c.announcement(key, loaded.Version, false)
	out, published, err := c.store.fill(ctx, key, loaded.Version, payload, c.ttlOf(loaded.Value), c.pointerTTL, a)
	if err != nil {
		c.reportRedis("FILL "+key, err)
	} else if published {
		c.counter.invalidationsSent.Add(1)
	}
	// Redis knows a newer version: what was read is already superseded, keep it out of L1.
	if err == nil && out == stale {
		c.counter.rejectedSuperseded.Add(1)
	} else {
		c.fillL1(key, loaded.Value, loaded.Version, t)
	}
	return read, nil
}
