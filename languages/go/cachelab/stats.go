package cachelab

import (
	"math"
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
	corruptEntries, loadsShed, invalidationsRetried                atomic.Int64

	propMu   sync.Mutex
	propLast float64
	propMax  float64
}

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
	c.propLast, c.propMax = ms, math.Max(c.propMax, ms)
	c.propMu.Unlock()
}

// Stats is a snapshot of what an instance did since it started.
type Stats struct {
	Reads, L1Hits, L2Hits, Misses, Loads, NegativeHits, L2Stale int64
	HitRatio                                                    float64
	Writes, InvalidationsSent, InvalidationsReceived            int64
	PublishFailures, InvalidationsRetried                       int64
	FillsRejected                                               struct{ Epoch, Superseded, Forgotten int64 }
	MessagesRejected                                            struct{ Malformed, Unsigned, Forged int64 }
	Trusted                                                     bool
	TrustLost, L1Flushes, Stalls, RedisErrors, DegradedReads    int64
	StrictConfirmed, StrictRefuted, LeaseWaits, LeaseTimeouts   int64
	CorruptEntries, LoadsShed                                   int64
	L1Size                                                      int
	L1Evictions                                                 int64
	HighWaterMarks                                              int
	PendingInvalidations                                        int
	LastPropagationMs, MaxPropagationMs                         float64
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
		RedisErrors: k.redisErrors.Load(), DegradedReads: k.degradedReads.Load(),
		StrictConfirmed: k.strictConfirmed.Load(), StrictRefuted: k.strictRefuted.Load(),
		LeaseWaits: k.leaseWaits.Load(), LeaseTimeouts: k.leaseTimeouts.Load(),
		CorruptEntries: k.corruptEntries.Load(), LoadsShed: k.loadsShed.Load()}
	s.FillsRejected.Epoch, s.FillsRejected.Superseded = k.rejectedEpoch.Load(), k.rejectedSuperseded.Load()
	s.FillsRejected.Forgotten = k.rejectedForgotten.Load()
	s.MessagesRejected.Malformed, s.MessagesRejected.Unsigned = k.malformed.Load(), k.unsigned.Load()
	s.MessagesRejected.Forged = k.forged.Load()
	if s.Reads > 0 {
		s.HitRatio = float64(s.L1Hits+s.L2Hits) / float64(s.Reads)
	}
	c.mu.Lock()
	s.L1Size, s.L1Evictions, s.HighWaterMarks = c.l1.Len(), c.l1.Evictions(), c.marks.Len()
	c.mu.Unlock()
	s.PendingInvalidations = c.writes.size()
	k.propMu.Lock()
	s.LastPropagationMs, s.MaxPropagationMs = k.propLast, k.propMax
	k.propMu.Unlock()
	return s
}
