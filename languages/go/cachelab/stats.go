package cachelab

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cachelab/cachelab/languages/go/cachelab/message"
)

// counters are bumped on every path; Stats takes a snapshot.
type counters struct {
	reads, l1Hits, l2Hits, misses, loads, negativeHits, l2Stale    atomic.Int64
	writes, invalidationsSent, invalidationsReceived, publishFails atomic.Int64
	rejectedEpoch, rejectedSuperseded, rejectedForgotten           atomic.Int64
	malformed, unsigned, forged                                    atomic.Int64
	trustLost, l1Flushes, stalls, redisErrors, degradedReads       atomic.Int64
	strictConfirmed, strictRefuted, leaseWaits, leaseTimeouts      atomic.Int64
	corruptEntries, loadsShed, invalidationsRetried, redisSkipped  atomic.Int64
	announcements, invalidationFailures, subscriberReconnects      atomic.Int64

	propMu      sync.Mutex
	propCount   int64
	propLast    float64
	propSamples []float64 // the last propagationSamples delays, a ring
	propNext    int
}

// propagationSamples is how many recent propagation delays the percentiles are taken over.
const propagationSamples = 1000

func (c *counters) reject(reason message.Reason) {
	switch reason {
	case message.Unsigned:
		c.unsigned.Add(1)
	case message.Forged:
		c.forged.Add(1)
	default:
		c.malformed.Add(1)
	}
}

func (c *counters) propagation(ms float64) {
	ms = math.Max(0, ms)
	c.propMu.Lock()
	defer c.propMu.Unlock()
	c.propCount++
	c.propLast = ms
	if len(c.propSamples) < propagationSamples {
		c.propSamples = append(c.propSamples, ms)
		return
	}
	c.propSamples[c.propNext] = ms
	c.propNext = (c.propNext + 1) % propagationSamples
}

// propagationSnapshot summarises the recent delays: p50 and p99 by nearest rank, as Node does.
func (c *counters) propagationSnapshot() PropagationMs {
	c.propMu.Lock()
	sorted := slices.Clone(c.propSamples)
	p := PropagationMs{Count: c.propCount}
	if c.propCount > 0 {
		last := c.propLast
		p.Last = &last
	}
	c.propMu.Unlock()
	if len(sorted) == 0 {
		return p
	}
	slices.Sort(sorted)
	at := func(q float64) *float64 {
		v := sorted[max(0, int(math.Ceil(q*float64(len(sorted))))-1)]
		return &v
	}
	p.P50, p.P99, p.Max = at(0.5), at(0.99), &sorted[len(sorted)-1]
	return p
}

// Stats is a snapshot of what an instance did since it started. The JSON names are the Node
// library's (an instance's /stats reads alike in both languages).
type Stats struct {
	Reads                 int64         `json:"reads"`
	L1Hits                int64         `json:"l1Hits"`
	L2Hits                int64         `json:"l2Hits"`
	Misses                int64         `json:"misses"`
	NegativeHits          int64         `json:"negativeHits"`
	Loads                 int64         `json:"loads"`
	LoadsShed             int64         `json:"loadsShed"`
	LeaseWaits            int64         `json:"leaseWaits"`
	LeaseTimeouts         int64         `json:"leaseTimeouts"`
	StaleServed           int64         `json:"staleServed"`          // always 0: no stale-if-error in Go
	EarlyRefreshes        int64         `json:"earlyRefreshes"`       // always 0: no early refresh in Go
	EarlyRefreshFailures  int64         `json:"earlyRefreshFailures"` // always 0
	StrictConfirmed       int64         `json:"strictConfirmed"`
	StrictRefuted         int64         `json:"strictRefuted"`
	L2Stale               int64         `json:"l2Stale"`
	FillsRejected         FillsRejected `json:"fillsRejected"`
	RedisErrors           int64         `json:"redisErrors"`
	RedisSkipped          int64         `json:"redisSkipped"` // reads that skipped Redis while it was checked for a restored snapshot (no circuit breaker in Go)
	DegradedReads         int64         `json:"degradedReads"`
	CorruptEntries        int64         `json:"corruptEntries"`
	Writes                int64         `json:"writes"`
	Announcements         int64         `json:"announcements"`
	InvalidationsSent     int64         `json:"invalidationsSent"`
	InvalidationsReceived int64         `json:"invalidationsReceived"`
	MessagesRejected      Rejected      `json:"messagesRejected"`
	PublishFailures       int64         `json:"publishFailures"`
	InvalidationsRetried  int64         `json:"invalidationsRetried"`
	InvalidationFailures  int64         `json:"invalidationFailures"`
	TrustLost             int64         `json:"trustLost"`
	SubscriberReconnects  int64         `json:"subscriberReconnects"`
	Stalls                int64         `json:"stalls"`
	L1Flushes             int64         `json:"l1Flushes"`
	Trusted               bool          `json:"trusted"`
	L1Size                int           `json:"l1Size"`
	L1Evictions           int64         `json:"l1Evictions"`
	HighWaterMarks        int           `json:"highWaterMarks"`
	PendingInvalidations  int           `json:"pendingInvalidations"`
	LoadsInFlight         int           `json:"loadsInFlight"`
	HitRatio              float64       `json:"-"` // (L1Hits + L2Hits) / Reads; 0 before the first read
	PropagationMs         PropagationMs `json:"propagationMs"`
}

// FillsRejected counts refused L1 fills by reason (MUST-FILL-3).
type FillsRejected struct {
	Superseded int64 `json:"superseded"`
	Epoch      int64 `json:"epoch"`
	Forgotten  int64 `json:"forgotten"`
}

// Rejected counts dropped messages by reason (MUST-MSG-5).
type Rejected struct {
	Malformed int64 `json:"malformed"`
	Unsigned  int64 `json:"unsigned"`
	Forged    int64 `json:"forged"`
}

// PropagationMs summarises the delays from another instance's publish to its receipt here, in
// ms: how many, the last, and p50, p99 and max of the last 1000 (nil before the first).
type PropagationMs struct {
	Count int64    `json:"count"`
	Last  *float64 `json:"last"`
	P50   *float64 `json:"p50"`
	P99   *float64 `json:"p99"`
	Max   *float64 `json:"max"`
}

// Stats returns a snapshot of the counters.
func (c *Cache[V]) Stats() Stats {
	k := &c.counter
	s := Stats{Reads: k.reads.Load(), L1Hits: k.l1Hits.Load(), L2Hits: k.l2Hits.Load(),
		Misses: k.misses.Load(), Loads: k.loads.Load(), NegativeHits: k.negativeHits.Load(),
		L2Stale: k.l2Stale.Load(), Writes: k.writes.Load(), InvalidationsSent: k.invalidationsSent.Load(),
		InvalidationsReceived: k.invalidationsReceived.Load(), PublishFailures: k.publishFails.Load(),
		InvalidationsRetried: k.invalidationsRetried.Load(), Trusted: c.bus.trusted.Load(),
		TrustLost: k.trustLost.Load(), L1Flushes: k.l1Flushes.Load(), Stalls: k.stalls.Load(),
		RedisErrors: k.redisErrors.Load(), RedisSkipped: k.redisSkipped.Load(), DegradedReads: k.degradedReads.Load(),
		StrictConfirmed: k.strictConfirmed.Load(), StrictRefuted: k.strictRefuted.Load(),
		LeaseWaits: k.leaseWaits.Load(), LeaseTimeouts: k.leaseTimeouts.Load(),
		CorruptEntries: k.corruptEntries.Load(), LoadsShed: k.loadsShed.Load(),
		Announcements: k.announcements.Load(), InvalidationFailures: k.invalidationFailures.Load(),
		SubscriberReconnects: k.subscriberReconnects.Load()}
	s.FillsRejected = FillsRejected{Superseded: k.rejectedSuperseded.Load(), Epoch: k.rejectedEpoch.Load(),
		Forgotten: k.rejectedForgotten.Load()}
	s.MessagesRejected = Rejected{Malformed: k.malformed.Load(), Unsigned: k.unsigned.Load(), Forged: k.forged.Load()}
	if s.Reads > 0 {
		s.HitRatio = float64(s.L1Hits+s.L2Hits) / float64(s.Reads)
	}
	c.mu.Lock()
	s.L1Size, s.L1Evictions, s.HighWaterMarks = c.l1.Len(), c.l1.Evictions(), c.marks.Len()
	c.mu.Unlock()
	s.PendingInvalidations = c.writes.size()
	s.PropagationMs = k.propagationSnapshot()
	c.loadsMu.Lock()
	s.LoadsInFlight = len(c.loading)
	c.loadsMu.Unlock()
	return s
}
