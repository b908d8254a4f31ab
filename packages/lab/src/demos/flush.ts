import { waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import type { Target } from '../lab/client.ts';
import { checkSameRedis } from '../lab/redis-identity.ts';
import { fetchStats } from './cluster.ts';

/** What a flush did, and what it found afterwards. */
export interface FlushReport {
  /** Keys left in Redis after FLUSHDB (0). */
  redisKeys: number;
  /** Subscriber connections `CLIENT KILL TYPE pubsub` closed. */
  subscribersKilled: number;
  /** Per instance: L1 entries once it trusts its L1 again (0), and its flush count. */
  instances: { name: string; l1Size: number; l1Flushes: number }[];
}

/**
 * Empties every cache tier of a cluster: FLUSHDB on Redis (L2), then `CLIENT KILL TYPE pubsub`.
 * By protocol, an instance that loses its subscriber connection stops trusting its L1 and flushes
 * it (and its high-water marks) on resubscribing; this waits until every versioned instance has
 * done so and checks, through `/stats`, that its L1 is empty. Run it while no requests are sent.
 * Rejects, before anything is flushed, when `redisUrl` is not the Redis the instances use.
 */
export async function flushCaches(redisUrl: string, targets: Target[]): Promise<FlushReport> {
  // Never FLUSHDB a Redis the instances do not use (another one on the same machine, say).
  await checkSameRedis(targets, redisUrl);
  const before = await Promise.all(targets.map(fetchStats));
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => {});
  await redis.connect();
  let subscribersKilled: number;
  let redisKeys: number;
  try {
    await redis.flushDb();
    subscribersKilled = Number(await redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']));
    redisKeys = await redis.dbSize();
  } finally {
    redis.destroy();
  }
  const instances = await Promise.all(
    targets.map(async (target, i) => {
      const flushesBefore = before[i]?.cache.l1Flushes ?? 0;
      const after =
        before[i]?.cache.strategy === 'versioned'
          ? await waitFor(
              async () => {
                const stats = await fetchStats(target);
                const flushed = stats.cache.l1Flushes > flushesBefore && stats.cache.trusted;
                return flushed && stats;
              },
              { timeoutMs: 15_000, intervalMs: 50, what: `${target.name} to flush its L1` },
            )
          : await fetchStats(target);
      return { name: target.name, l1Size: after.cache.l1Size, l1Flushes: after.cache.l1Flushes };
    }),
  );
  const notEmpty = instances.filter((instance) => instance.l1Size !== 0);
  if (notEmpty.length > 0) {
    throw new Error(`L1 not empty after the flush: ${JSON.stringify(notEmpty)}`);
  }
  return { redisKeys, subscribersKilled, instances };
}
