import type { CacheStats, PropagationStats } from './types.ts';

/** The plain counters of {@link CacheStats}; gauges are read from their owners at snapshot time. */
export type Counters = Omit<
  CacheStats,
  | 'strategy'
  | 'trusted'
  | 'l1Size'
  | 'l1Evictions'
  | 'highWaterMarks'
  | 'propagationMs'
  | 'pendingInvalidations'
  | 'loadsInFlight'
>;

/** Fresh counters, all zero. */
export function createCounters(): Counters {
  return {
    reads: 0,
    l1Hits: 0,
    l2Hits: 0,
    misses: 0,
    negativeHits: 0,
    loads: 0,
    loadsShed: 0,
    leaseWaits: 0,
    leaseTimeouts: 0,
    staleServed: 0,
    earlyRefreshes: 0,
    earlyRefreshFailures: 0,
    strictConfirmed: 0,
    strictRefuted: 0,
    l2Stale: 0,
    fillsRejected: { superseded: 0, epoch: 0, forgotten: 0 },
    redisErrors: 0,
    redisSkipped: 0,
    degradedReads: 0,
    corruptEntries: 0,
    writes: 0,
    announcements: 0,
    invalidationsSent: 0,
    invalidationsReceived: 0,
    messagesRejected: { malformed: 0, unsigned: 0, forged: 0 },
    publishFailures: 0,
    invalidationsRetried: 0,
    invalidationFailures: 0,
    trustLost: 0,
    subscriberReconnects: 0,
    stalls: 0,
    l1Flushes: 0,
  };
}

/** A copy of the counters, safe to hand out. */
export function snapshotCounters(counters: Counters): Counters {
  return {
    ...counters,
    fillsRejected: { ...counters.fillsRejected },
    messagesRejected: { ...counters.messagesRejected },
  };
}

/**
 * Keeps the last `size` propagation delays and summarises them: p50 and p99 are nearest-rank
 * percentiles (the p-th is the smallest delay with at least p % of the kept delays at or below it),
 * exact over the kept delays.
 */
export interface PropagationRecorder {
  record(ms: number): void;
  snapshot(): PropagationStats;
}

/** Creates a recorder over a ring of the last `size` samples. */
export function createPropagationRecorder(size = 1024): PropagationRecorder {
  const samples: number[] = [];
  let next = 0;
  let count = 0;
  let last: number | null = null;
  return {
    record(ms) {
      const sample = Math.max(0, ms);
      samples[next] = sample;
      next = (next + 1) % size;
      count++;
      last = sample;
    },
    snapshot() {
      if (samples.length === 0) return { count, last, p50: null, p99: null, max: null };
      const sorted = [...samples].sort((a, b) => a - b);
      // Nearest rank: the smallest sample with at least q of the samples at or below it.
      const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? null;
      return { count, last, p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1] ?? null };
    },
  };
}
