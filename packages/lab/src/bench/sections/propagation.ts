import type { PropagationStats } from '@cachelab/cache';
import { startWorker, type Worker } from '../child.ts';
import type { BenchServices } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { type Percentiles, percentiles } from '../stats.ts';

/** Delays of one writer/reader pair, in ms. */
export interface PropagationRow {
  name: string;
  what: string;
  /** From the writer's call returning to the reader no longer serving the old version. */
  fromWriteReturnMs: Percentiles;
  /** From the writer's call starting to the same point. */
  fromWriteStartMs: Percentiles;
  /** How long the writer's call took. */
  writeCallMs: Percentiles;
  /** Writes the reader had already taken in when the writer's call returned (delay ≤ 0). */
  readerFirstShare: number;
  /** Writes whose first probe on the reader already saw the new version (no polling needed). */
  firstProbeShare: number;
  /** Writes the reader never saw (within 2 s). */
  lost: number;
}

/** The propagation section's results. */
export interface PropagationResults {
  clock: string;
  rows: PropagationRow[];
  /** What the reader's cache itself recorded (`/stats` → propagationMs): publish stamp → receipt. */
  readerCacheStats: PropagationStats | null;
}

/**
 * Measures one writer/reader pair (`settings.propagation.writes` writes, versions 1…N+1 of one key
 * in `namespace`, which must be fresh); on the Redis of `services`, or on the Redis Cluster of
 * `cluster` (`host:port` seeds) with its Pub/Sub flavour.
 */
export async function measurePropagation(
  settings: BenchSettings,
  services: BenchServices,
  mode: 'cache' | 'raw',
  cluster?: { nodes: string[]; pubsub: 'global' | 'sharded' },
  namespace = `bench-prop-${mode}${cluster ? `-cluster-${cluster.pubsub}` : ''}`,
): Promise<{ row: Omit<PropagationRow, 'name' | 'what'>; stats: PropagationStats | null }> {
  const base = {
    mode,
    redisUrl: services.redisUrl,
    namespace,
    userBytes: settings.propagation.userBytes,
    clusterNodes: cluster?.nodes,
    pubsub: cluster?.pubsub,
  };
  const workers = (['writer', 'reader'] as const).map((role) =>
    startWorker('propagation', { ...base, role }),
  );
  const [writer, reader] = workers as [Worker, Worker];
  try {
    await Promise.all(workers.map((w) => w.started));
    const fromReturn: number[] = [];
    const fromStart: number[] = [];
    const calls: number[] = [];
    let firstProbe = 0;
    let lost = 0;
    await writer.call({ cmd: 'write', version: 1 });
    for (let version = 2; version <= settings.propagation.writes + 1; version++) {
      await reader.call({ cmd: 'warm', version: version - 1 });
      const write = await writer.call<{ start: number; end: number }>({ cmd: 'write', version });
      const seen = await reader.call<{ at: number; atOnce: boolean } | null>({
        cmd: 'seen',
        version,
      });
      if (!seen) {
        lost++;
        continue;
      }
      fromReturn.push((seen.at - write.end) / 1e6);
      fromStart.push((seen.at - write.start) / 1e6);
      calls.push((write.end - write.start) / 1e6);
      if (seen.atOnce) firstProbe++;
    }
    const stats =
      mode === 'cache'
        ? await reader.call<{ propagationMs: PropagationStats }>({ cmd: 'stats' })
        : null;
    return {
      row: {
        fromWriteReturnMs: percentiles(fromReturn),
        fromWriteStartMs: percentiles(fromStart),
        writeCallMs: percentiles(calls),
        readerFirstShare:
          fromReturn.filter((ms) => ms <= 0).length / Math.max(1, fromReturn.length),
        firstProbeShare: firstProbe / Math.max(1, fromReturn.length),
        lost,
      },
      stats: stats?.propagationMs ?? null,
    };
  } finally {
    for (const w of workers) w.stop();
  }
}

/**
 * Invalidation propagation across processes: a writer process writes one key again and again;
 * a reader process holding it in L1 stamps when it stops serving the old version. Next to it, in
 * the same run, raw node-redis SET + PUBLISH between two processes.
 */
export async function runPropagation(
  settings: BenchSettings,
  services: BenchServices,
): Promise<PropagationResults> {
  const cache = await measurePropagation(settings, services, 'cache');
  const raw = await measurePropagation(settings, services, 'raw');
  return {
    clock:
      'process.hrtime.bigint() (CLOCK_MONOTONIC, shared by the processes of one Linux machine)',
    rows: [
      {
        name: 'cachelab',
        what: 'cache.set on A → L1 of B stops serving the old version',
        ...cache.row,
      },
      {
        name: 'raw SET + PUBLISH',
        what: 'await SET, await PUBLISH on A → B parsed the message',
        ...raw.row,
      },
    ],
    readerCacheStats: cache.stats,
  };
}
