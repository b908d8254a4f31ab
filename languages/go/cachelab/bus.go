package cachelab

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachelab/cachelab/languages/go/cachelab/message"
)

// busEvents are what the bus tells the cache. Called with the bus's lock held: they must not
// call back into the bus (reading its atomics is fine).
type busEvents struct {
	invalidation func(m message.Message)
	// clear: another instance cleared the namespace (MUST-CLEAR-2).
	clear func(m message.Message)
	// trustChange runs before a regained trust becomes visible (the cache flushes L1 then).
	trustChange func(trusted bool)
	stall       func()
	rejected    func(reason message.Reason)
}

// bus is the invalidation channel as one instance sees it (SPEC §7): subscriptions, heartbeats,
// and trust. Each channel has its own subscription and goroutine (sharded: 16, each on the node
// that owns its slot); trust needs an own heartbeat back on every one.
type bus struct {
	rdb      redis.UniversalClient
	sharded  bool
	channels []string
	codec    *message.Codec
	origin   string
	interval time.Duration
	timeout  time.Duration // heartbeat timeout
	callTO   time.Duration // bound of each Redis call
	stallAt  time.Duration // a tick this late means the process stalled
	events   busEvents
	start    time.Time // the monotonic clock's origin for the atomics below

	trusted  atomic.Bool
	epoch    atomic.Int64
	lastTick atomic.Int64 // ns since start
	resuming atomic.Bool  // trust suspended after a stall

	mu         sync.Mutex
	subscribed map[string]bool
	seen       map[string]*heartbeatSeen
	hbSeq      int64
	neededSeq  int64
	resumeSeq  int64 // after a stall: the heartbeat seq that proves the subscription caught up
	closed     bool

	ready     chan struct{} // closed once every channel was subscribed the first time
	readyOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

type heartbeatSeen struct {
	seq int64
	at  time.Time
}

// stallThreshold: half an interval late, and at least 200 ms (SHOULD-TRUST-7).
func stallThreshold(interval time.Duration) time.Duration {
	return interval + max(interval/2, 200*time.Millisecond)
}

func newBus(rdb redis.UniversalClient, sharded bool, channels []string, codec *message.Codec, origin string, o Options, events busEvents) *bus {
	b := &bus{rdb: rdb, sharded: sharded, channels: channels, codec: codec, origin: origin,
		interval: o.HeartbeatInterval, timeout: o.HeartbeatTimeout, callTO: o.RedisTimeout,
		stallAt: stallThreshold(o.HeartbeatInterval), events: events, start: time.Now(),
		subscribed: map[string]bool{}, seen: map[string]*heartbeatSeen{}, resumeSeq: -1,
		ready: make(chan struct{})}
	for _, ch := range channels {
		b.seen[ch] = &heartbeatSeen{seq: -1}
	}
	return b
}

// run starts one subscriber goroutine per channel and the heartbeat ticker.
func (b *bus) run() {
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	for _, ch := range b.channels {
		b.wg.Go(func() { b.subscribe(ctx, ch) })
	}
	b.lastTick.Store(int64(time.Since(b.start)))
	b.wg.Go(func() { b.heartbeats(ctx) })
}

// close stops everything and waits for the goroutines.
func (b *bus) close() {
	b.mu.Lock()
	b.closed = true
	b.setTrust(false)
	b.mu.Unlock()
	if b.cancel != nil {
		b.cancel()
	}
	b.wg.Wait()
}

// trustedAt: trusted, and the process has not stalled (its tick is not overdue at now).
func (b *bus) trustedAt(now time.Time) bool {
	if !b.trusted.Load() || b.resuming.Load() {
		return false
	}
	if now.Sub(b.start)-time.Duration(b.lastTick.Load()) <= b.stallAt {
		return true
	}
	b.mu.Lock()
	b.suspend(now)
	b.mu.Unlock()
	return false
}

// subscribe keeps one channel subscribed on a connection of its own until ctx ends: every drop
// withdraws trust at once, and a new subscription starts over on a new connection.
func (b *bus) subscribe(ctx context.Context, channel string) {
	for ctx.Err() == nil {
		b.receive(ctx, channel)
		b.down(channel)
		select { // a short pause before the next connection, not a synchronisation
		case <-ctx.Done():
		case <-time.After(min(b.interval, 100*time.Millisecond)):
		}
	}
}

// receive reads one subscription until it breaks, or no own heartbeat came back on it for the
// heartbeat timeout (a silently dead connection: MUST-TRUST-4).
func (b *bus) receive(ctx context.Context, channel string) {
	var ps *redis.PubSub
	if b.sharded {
		ps = b.rdb.SSubscribe(ctx)
	} else {
		ps = b.rdb.Subscribe(ctx)
	}
	defer func() { _ = ps.Close() }()
	subscribeCtx, cancel := context.WithTimeout(ctx, max(b.callTO, time.Second))
	var err error
	if b.sharded {
		err = ps.SSubscribe(subscribeCtx, channel)
	} else {
		err = ps.Subscribe(subscribeCtx, channel)
	}
	cancel()
	if err != nil {
		return
	}
	since := time.Now()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, b.interval)
		if err != nil {
			var netErr net.Error
			if errors.As(err, &netErr) && netErr.Timeout() {
				if b.silent(channel, since) {
					return
				}
				continue
			}
			return // the connection broke: go-redis must not resubscribe behind our back
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			switch m.Kind {
			case "subscribe", "ssubscribe":
				b.up(channel)
			default: // unsubscribed by the server (a slot moved): messages may be lost
				return
			}
		case *redis.Message:
			b.onMessage(m.Payload, channel)
			if b.silent(channel, since) {
				return
			}
		}
	}
}

// silent: subscribed for longer than the heartbeat timeout, and no own heartbeat came back on
// this channel for as long.
func (b *bus) silent(channel string, since time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	last := b.seen[channel].at
	if last.Before(since) {
		last = since
	}
	return time.Since(last) > b.timeout
}

func (b *bus) up(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subscribed[channel] = true
	if len(b.subscribed) == len(b.channels) && b.allSubscribed() {
		b.readyOnce.Do(func() { close(b.ready) })
	}
	b.publishLocked()
}

func (b *bus) allSubscribed() bool {
	for _, ch := range b.channels {
		if !b.subscribed[ch] {
			return false
		}
	}
	return true
}

// down: the subscription of channel broke (MUST-TRUST-3). Every drop starts a new epoch, even
// while already untrusted: a fill that began before it may carry a value whose invalidation was lost.
func (b *bus) down(channel string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subscribed[channel] = false
	b.dropLocked()
}

func (b *bus) dropLocked() {
	b.neededSeq = b.hbSeq
	if b.trusted.Load() {
		b.setTrust(false)
	} else {
		b.epoch.Add(1)
	}
}

func (b *bus) setTrust(next bool) {
	if b.trusted.Load() == next || (next && b.closed) {
		return
	}
	if next {
		b.events.trustChange(true) // flush first: nothing learnt while deaf survives
		b.epoch.Add(1)
		b.trusted.Store(true)
		return
	}
	b.trusted.Store(false)
	b.epoch.Add(1)
	b.events.trustChange(false)
}

func (b *bus) onMessage(raw, channel string) {
	m, reason, ok := b.codec.Decode(raw)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	// Verified before the origin is looked at: an unsigned heartbeat cannot restore trust.
	if !ok {
		b.events.rejected(reason)
		return
	}
	if m.Origin != b.origin {
		switch m.Type {
		case message.TypeInvalidation:
			b.events.invalidation(m)
		case message.TypeClear:
			b.events.clear(m)
		}
		return
	}
	if m.Type != message.TypeHeartbeat {
		return
	}
	seen := b.seen[channel]
	// Heartbeats of one channel arrive in order: a skipped seq means lost messages.
	if b.sharded && seen.seq >= 0 && m.Seq > seen.seq+1 {
		b.dropLocked()
	}
	seen.seq = max(seen.seq, m.Seq)
	seen.at = time.Now()
	floor := int64(-1)
	for i, ch := range b.channels {
		if s := b.seen[ch].seq; i == 0 || s < floor {
			floor = s
		}
	}
	// A heartbeat sent before a stall may have waited in the socket: only a later one resumes.
	if b.resumeSeq >= 0 && floor >= b.resumeSeq {
		b.resumeSeq = -1
		b.resuming.Store(false)
		b.lastTick.Store(int64(time.Since(b.start)))
	}
	if b.allSubscribed() && floor >= b.neededSeq {
		b.setTrust(true)
	}
}

// suspend: the process stalled; trust waits for a heartbeat sent after now (no flush).
func (b *bus) suspend(now time.Time) {
	if b.resumeSeq < 0 {
		b.resumeSeq = b.hbSeq
		b.resuming.Store(true)
		b.events.stall()
		b.publishLocked()
	}
	b.lastTick.Store(int64(now.Sub(b.start)))
}

// heartbeats publishes a heartbeat every interval and watches for stalls and silence.
func (b *bus) heartbeats(ctx context.Context) {
	ticker := time.NewTicker(b.interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		now := time.Now()
		b.mu.Lock()
		if now.Sub(b.start)-time.Duration(b.lastTick.Load()) > b.stallAt {
			b.suspend(now)
		}
		b.lastTick.Store(int64(now.Sub(b.start)))
		if b.trusted.Load() && b.lastSeenLocked().Before(now.Add(-b.timeout)) {
			b.setTrust(false) // no own heartbeat for the timeout (MUST-TRUST-4)
		}
		b.publishLocked()
		b.mu.Unlock()
	}
}

func (b *bus) lastSeenLocked() time.Time {
	var oldest time.Time
	for i, ch := range b.channels {
		if at := b.seen[ch].at; i == 0 || at.Before(oldest) {
			oldest = at
		}
	}
	return oldest
}

// publishLocked sends the next heartbeat on every channel, in the background (bounded).
func (b *bus) publishLocked() {
	if b.closed {
		return
	}
	m := message.Message{Type: message.TypeHeartbeat, Origin: b.origin, Seq: b.hbSeq, TS: wallClockMs()}
	b.hbSeq++
	payload := b.codec.Encode(m)
	b.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.callTO)
		defer cancel()
		for _, ch := range b.channels {
			// A lost heartbeat is what the timeout check catches.
			if b.sharded {
				_ = b.rdb.SPublish(ctx, ch, payload).Err()
			} else {
				_ = b.rdb.Publish(ctx, ch, payload).Err()
			}
		}
	})
}

// wallClockMs is the wall clock in ms since the epoch with sub-ms precision (messages' ts).
func wallClockMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }
