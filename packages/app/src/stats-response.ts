import type { CacheStats } from '@cachelab/cache';
import type { OutboxRelayStats, StoreStats } from '@cachelab/store';
import type { InstanceIdentity } from './deps.ts';

/** The cache's counters as `GET /stats` reports them. */
export interface StatsResponseCache extends CacheStats {
  /** (l1Hits + l2Hits) / reads, between 0 and 1; `null` before the first read. */
  hitRatio: number | null;
}

/** The process's memory, in bytes (`process.memoryUsage()`). */
export interface StatsResponseMemory {
  /** Resident set size: all the memory the process holds in RAM. */
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** Memory of C++ objects bound to JavaScript objects (buffers among them). */
  external: number;
}

/**
 * The JSON body of an instance's `GET /stats`: counters since the instance started. Every field is
 * always present (`outbox` is `null` when the instance runs no outbox relay; `instance.runId` only
 * under `npm start`).
 */
export interface StatsResponse {
  instance: InstanceIdentity;
  /** Seconds since the app was created, rounded. */
  uptimeSeconds: number;
  /** Requests answered, the ops endpoints (`/healthz`, `/readyz`, `/stats`, `/metrics`) excluded. */
  http: { requests: number };
  cache: StatsResponseCache;
  /** The users repository's query counters. */
  database: StoreStats;
  /** The outbox relay's counters, or `null` when this instance runs none. */
  outbox: OutboxRelayStats | null;
  memory: StatsResponseMemory;
}
