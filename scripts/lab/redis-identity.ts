import { createClient } from 'redis';
import type { Target } from './client.ts';

/**
 * Resolves when every instance of `targets` reports (in `/stats`, `redis.runId`) the `run_id` of
 * the Redis at `redisUrl`, i.e. when faults sent to `redisUrl` reach the Redis those instances use.
 * Rejects with a one-line message otherwise: `redisUrl` unreachable, an instance that does not
 * answer or reports no Redis, or a different server (another Redis on the same machine, say).
 */
export async function checkSameRedis(targets: Target[], redisUrl: string): Promise<void> {
  const client = createClient({
    url: redisUrl,
    socket: { reconnectStrategy: false, connectTimeout: 2000 },
  });
  client.on('error', () => {});
  let runId: string | undefined;
  try {
    await client.connect();
    runId = /^run_id:(\w+)/m.exec(await client.info('server'))?.[1];
  } catch (error) {
    throw new Error(`--redis-url ${redisUrl} does not answer (${(error as Error).message})`);
  } finally {
    if (client.isOpen) client.destroy();
  }
  for (const target of targets) {
    let reported: string | null | undefined;
    try {
      const response = await fetch(`${target.url}/stats`, { signal: AbortSignal.timeout(3000) });
      reported = ((await response.json()) as { redis?: { runId?: string | null } }).redis?.runId;
    } catch (error) {
      throw new Error(`${target.url}/stats does not answer (${(error as Error).message})`);
    }
    if (reported !== runId) {
      const theirs = reported ? `run_id ${reported.slice(0, 8)}…` : 'no Redis identity';
      throw new Error(
        `refusing --redis-url ${redisUrl}: it is not the Redis the instances use (its run_id ${runId?.slice(0, 8)}…, ${target.url} reports ${theirs})`,
      );
    }
  }
}
