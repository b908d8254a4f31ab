package cachelab

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab/keys"
)

// fenceTTL is how long the fence key lives: renewed by every check; if it is gone, the next
// check after a restart deletes.
const fenceTTL = 30 * 24 * time.Hour

// scanBatch is how many keys one SCAN step asks for, and one UNLINK deletes at most.
const scanBatch = 1000

// errFenceCheck is what a read gets while the fence checks Redis: it goes to the loader.
var errFenceCheck = errors.New("checking whether Redis restarted from a snapshot")

// restartFence keeps the store off a Redis that may have restarted from an older snapshot (RDB or
// AOF on, a managed service's restore), whose pointers would be back at versions every instance
// had left behind (MUST-FENCE-1). suspect is called whenever the subscription drops (a restart
// drops it); until a check completes, ready is false and reads skip Redis (they go to the
// loader; writes go through, a pointer only moves forward). A check reads Redis's run_id and
// the namespace's fence key; when the fence names another run (or none, where this instance had
// checked another run), it deletes every key of the namespace (SCAN + UNLINK), then sets the
// fence to this run. A single Redis only: a Redis Cluster's nodes restart one by one, each with
// its replica.
type restartFence struct {
	rdb     redis.UniversalClient
	keys    *keys.Builder
	timeout time.Duration // bound of each Redis call
	retry   time.Duration // wait before a failed check runs again
	onError func(error)
	// passed runs after a check has made Redis usable again (the bus sends a heartbeat then,
	// so that trust does not wait for the next tick). Set before start.
	passed func()

	ready       atomic.Bool
	unavailable atomic.Bool   // an ACL refuses the commands: Redis is used as before
	checked     chan struct{} // closed once the first check has ended, whatever its outcome
	wake        chan struct{} // a check is wanted now

	mu         sync.Mutex
	generation int64 // bumped by every suspect: a check that began before it proves nothing

	knownRun string // the run of the last successful check (the check's goroutine only)
	wg       sync.WaitGroup
}

func newRestartFence(rdb redis.UniversalClient, kb *keys.Builder, o Options) *restartFence {
	return &restartFence{rdb: rdb, keys: kb, timeout: o.RedisTimeout, retry: o.HeartbeatInterval,
		onError: o.OnError, checked: make(chan struct{}), wake: make(chan struct{}, 1)}
}

// start checks at once, then at every suspect, retrying failures, until ctx ends.
func (f *restartFence) start(ctx context.Context) { f.wg.Go(func() { f.run(ctx) }) }

// wait stops waiting for the goroutine started by start (after its ctx ended).
func (f *restartFence) wait() { f.wg.Wait() }

// suspect: the subscription dropped, Redis may have restarted. Reads skip Redis until a check
// that begins from now on has passed.
func (f *restartFence) suspect() {
	if f.unavailable.Load() {
		return
	}
	f.mu.Lock()
	f.generation++
	f.ready.Store(false)
	f.mu.Unlock()
	f.poke()
}

// poke: Redis is reachable again; a check that is due runs now rather than at its retry.
func (f *restartFence) poke() {
	select {
	case f.wake <- struct{}{}:
	default: // a check is wanted already
	}
}

// usable waits for the first check (bounded by ctx) and reports whether Redis may be read.
func (f *restartFence) usable(ctx context.Context) error {
	select {
	case <-f.checked:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !f.ready.Load() {
		return errFenceCheck
	}
	return nil
}

func (f *restartFence) run(ctx context.Context) {
	first := true
	for ctx.Err() == nil {
		f.mu.Lock()
		generation := f.generation
		f.mu.Unlock()
		err := f.check(ctx)
		switch {
		case err == nil:
			f.mu.Lock()
			current := generation == f.generation
			if current {
				f.ready.Store(true)
			}
			f.mu.Unlock()
			if current && f.passed != nil {
				f.passed()
			}
		case strings.Contains(err.Error(), "NOPERM"):
			// An ACL without these commands: said once, and Redis is used as before.
			f.unavailable.Store(true)
			f.ready.Store(true)
			f.onError(&wrapped{what: "Redis refused INFO, SCAN or UNLINK (allow +info +scan +unlink): " +
				"a Redis restored from an older snapshot is not detected", err: err, kind: ErrRedis})
		}
		if first {
			first = false
			close(f.checked)
		}
		if f.unavailable.Load() {
			return
		}
		var retry <-chan time.Time
		if !f.ready.Load() {
			retry = time.After(f.retry)
		}
		select {
		case <-ctx.Done():
		case <-f.wake:
		case <-retry:
		}
	}
}

// check compares Redis's run with the namespace's fence, deletes the namespace if Redis
// restarted since the fence was written, and writes the fence.
func (f *restartFence) check(ctx context.Context) error {
	info, err := f.call(ctx, func(ctx context.Context) (string, error) { return f.rdb.Info(ctx, "server").Result() })
	if err != nil {
		return err
	}
	run := runID(info)
	if run == "" {
		return errors.New("cachelab: INFO server has no run_id")
	}
	fenced, err := f.call(ctx, func(ctx context.Context) (string, error) { return f.rdb.Get(ctx, f.keys.Fence()).Result() })
	if err != nil && !errors.Is(err, redis.Nil) {
		return err
	}
	// Another run's fence, or none where this instance knew another run: Redis restarted, and
	// what it holds may come from a snapshot. No fence and no run known: a namespace never
	// fenced (new, or its fence expired), which nothing says is older.
	restarted := f.knownRun != "" && f.knownRun != run
	if fenced != run && (fenced != "" || restarted) {
		if err := f.deleteNamespace(ctx); err != nil {
			return err
		}
	}
	if _, err := f.call(ctx, func(ctx context.Context) (string, error) {
		return f.rdb.Set(ctx, f.keys.Fence(), run, fenceTTL).Result()
	}); err != nil {
		return err
	}
	f.knownRun = run
	return nil
}

// deleteNamespace deletes every key matching the namespace's pattern, a batch at a time.
func (f *restartFence) deleteNamespace(ctx context.Context) error {
	var cursor uint64
	for {
		var batch []string
		err := f.bounded(ctx, func(ctx context.Context) (err error) {
			batch, cursor, err = f.rdb.Scan(ctx, cursor, f.keys.Pattern(), scanBatch).Result()
			return err
		})
		if err != nil {
			return fmt.Errorf("SCAN: %w", err)
		}
		if len(batch) > 0 {
			if err := f.bounded(ctx, func(ctx context.Context) error { return f.rdb.Unlink(ctx, batch...).Err() }); err != nil {
				return fmt.Errorf("UNLINK: %w", err)
			}
		}
		if cursor == 0 {
			return nil
		}
	}
}

func (f *restartFence) call(ctx context.Context, fn func(context.Context) (string, error)) (string, error) {
	var out string
	err := f.bounded(ctx, func(ctx context.Context) (err error) {
		out, err = fn(ctx)
		return err
	})
	return out, err
}

// bounded runs one Redis call with its own deadline.
func (f *restartFence) bounded(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return fn(ctx)
}

// runID is the run_id line of INFO server.
func runID(info string) string {
	for line := range strings.Lines(info) {
		if value, ok := strings.CutPrefix(line, "run_id:"); ok {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
