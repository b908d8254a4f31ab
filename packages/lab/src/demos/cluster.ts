/**
 * Where a demo's requests go: a cluster the demo starts for itself (the lab's, see
 * scripts/lab/cluster.ts), or instances that already run (`--urls`, e.g. `npm start` or
 * `docker compose up`), with the Redis they share (`--redis-url`).
 */
import type { StatsResponse } from '@cachelab/app';
import type { Target } from '../lab/client.ts';
import { type LabCluster, type LabClusterOptions, startLabCluster } from '../lab/cluster.ts';

/** The instances a demo talks to. */
export interface DemoCluster {
  targets: Target[];
  /** The Redis the instances share, when known (always, for a cluster of the demo's own). */
  redisUrl: string | undefined;
  /** Present when the demo started the cluster: its processes can be restarted. */
  own: LabCluster | undefined;
  /** Stops what the demo started (nothing for `--urls`). */
  stop(): Promise<void>;
}

let cleanupInstalled = false;

/**
 * Makes sure no process a demo started outlives it, however the demo ends: a signal exits the
 * process, and on exit the lab's cluster kills every process it started (scripts/lab/cluster.ts).
 */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
}

/** Starts a cluster of the demo's own: a `redis-server` on a free port, a database, N instances. */
export async function startOwnCluster(options: LabClusterOptions): Promise<DemoCluster> {
  installCleanup();
  const cluster = await startLabCluster(options);
  return {
    targets: cluster.instances.map(({ name, url }) => ({ name, url })),
    get redisUrl() {
      return cluster.redis?.url;
    },
    own: cluster,
    stop: () => cluster.stop(),
  };
}

/** Running instances given on the command line; nothing to start or stop. */
export function existingCluster(targets: Target[], redisUrl: string | undefined): DemoCluster {
  return { targets, redisUrl, own: undefined, stop: async () => {} };
}

/** `GET /stats` of one instance. */
export async function fetchStats(target: Target): Promise<StatsResponse> {
  const response = await fetch(`${target.url}/stats`, { signal: AbortSignal.timeout(3000) });
  if (!response.ok) throw new Error(`${target.url}/stats answered ${response.status}`);
  return (await response.json()) as StatsResponse;
}

/** Counters summed over every instance (from `/stats`). */
export interface ClusterTotals {
  databaseQueries: number;
  /** Stale Redis entries refused (`l2Stale`; always 0 without the versioned strategy). */
  l2Stale: number;
}

/** Sums the counters of every instance. */
export async function clusterTotals(targets: Target[]): Promise<ClusterTotals> {
  const stats = await Promise.all(targets.map(fetchStats));
  return {
    databaseQueries: stats.reduce((sum, s) => sum + s.database.queries, 0),
    l2Stale: stats.reduce((sum, s) => sum + s.cache.l2Stale, 0),
  };
}
