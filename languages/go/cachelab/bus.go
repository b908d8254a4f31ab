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
	// lost: messages may have been lost (a subscription dropped, a gap); Redis may even have
	// restarted. Optional.
	lost func()
	// mayTrust: whether trust may be regained now, besides the own heartbeat (the restart
	// fence: not before Redis was checked for a restored snapshot). Optional.
	mayTrust func() bool
	// reconnect: a channel is subscribed again (Redis is reachable). Optional.
	reconnect func()
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
	// When every channel was first subscribed (zero: not yet; sharded, first trust waits a stall
	// threshold after it), and per channel the last cseq heard from each sender (MUST-TRUST-8).
	listeningSince time.Time
	heard          map[string]*senderSequences

	// Sharded: the next cseq this instance sends on each channel, each behind its own lock held
	// across the SPUBLISH so that numbers reach Redis in the order they were taken (MUST-MSG-8).
	sent map[string]*channelCounter

	ready     chan struct{} // closed once every channel was subscribed the first time
	readyOnce sync.Once
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

type channelCounter struct {
	mu   sync.Mutex
	next int64
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
		heard: map[string]*senderSequences{}, sent: map[string]*channelCounter{},
		ready: make(chan struct{})}
	for _, ch := range channels {
		b.seen[ch] = &heartbeatSeen{seq: -1}
		b.heard[ch] = newSenderSequences(maxOriginsPerChannel)
		b.sent[ch] = &channelCounter{}
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
		if b.listeningSince.IsZero() {
			b.listeningSince = time.Now()
		}
	}
	if b.events.reconnect != nil {
		b.events.reconnect()
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
	if b.events.lost != nil {
		b.events.lost()
	}
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
	// A skipped number from any sender, this one included: a message on this channel was lost
	// (its slot moved while this subscriber was paused, say), whatever the connection says.
	if m.HasCseq && !b.heard[channel].follows(m.Origin, m.Cseq) {
		b.dropLocked()
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
	if b.allSubscribed() && floor >= b.neededSeq && b.heardEveryone() &&
		(b.events.mayTrust == nil || b.events.mayTrust()) {
		b.setTrust(true)
	}
}

// heardEveryone: sharded, whether this instance has listened on every channel for a stall
// threshold since it first subscribed, time for every running sender (beating at the same
// interval) to have been heard on each, so that its first message, numbered above 0
// (MUST-TRUST-8), is seen before L1 is first trusted rather than as a gap afterwards.
func (b *bus) heardEveryone() bool {
	if !b.sharded {
		return true
	}
	return !b.listeningSince.IsZero() && time.Since(b.listeningSince) >= b.stallAt
}

// beat sends a heartbeat now, off the ticker: one coming back may restore trust at once.
func (b *bus) beat() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.publishLocked()
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
	b.wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), b.callTO)
		defer cancel()
		for _, ch := range b.channels {
			// A lost heartbeat is what the timeout check catches.
			_ = b.publish(ctx, ch, m)
		}
	})
}

// publish sends m on channel: PUBLISH, or SPUBLISH numbered with the channel's next cseq
// (MUST-MSG-8). The number is taken under the channel's lock, held until Redis answered, so
// that numbers reach Redis in order; a call that fails may or may not have been sent, and a
// receiver that missed its number withdraws trust, as for any lost message.
func (b *bus) publish(ctx context.Context, channel string, m message.Message) error {
	if !b.sharded {
		return b.rdb.Publish(ctx, channel, b.codec.Encode(m)).Err()
	}
	counter := b.sent[channel]
	counter.mu.Lock()
	defer counter.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err // not sent: takes no number
	}
	m.Cseq, m.HasCseq = counter.next, true
	counter.next++
	return b.rdb.SPublish(ctx, channel, b.codec.Encode(m)).Err()
}

// wallClockMs is the wall clock in ms since the epoch with sub-ms precision (messages' ts).
func wallClockMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }
