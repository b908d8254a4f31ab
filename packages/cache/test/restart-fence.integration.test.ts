import { uniqueName } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import { createKeys } from '../src/keys.ts';
import { createRestartFence } from '../src/redis/restart-fence.ts';
import type { RedisLike } from '../src/types.ts';
import { redisClient } from './fixture.ts';

// The snapshot fence (SPEC §12a, MUST-FENCE-1) on the test Redis. A fence naming another run is
// what a Redis restored from a snapshot holds (the run that wrote it is gone), so writing one by
// hand stands for the restart without restarting the Redis other test files share.

const direct: <T>(what: string, run: () => Promise<T>) => Promise<T> = (_, run) => run();

async function namespaceWithEntries() {
  const redis = await redisClient();
  const keys = createKeys(uniqueName());
  await redis.set(keys.pointer('user:1'), '1');
  await redis.set(keys.data('user:1', 1), '{"v":1}');
  const runId = /run_id:([0-9a-f]+)/.exec(await redis.info('server'))?.[1];
  const fence = (options: { onRestored?: (runId: string, deleted: number) => void } = {}) =>
    createRestartFence({
      redis: redis as unknown as RedisLike,
      keys,
      redisCall: direct,
      retryMs: 50,
      onUnavailable: (error) => {
        throw error;
      },
      ...options,
    });
  return { redis, keys, runId, fence };
}

describe('the restart fence', () => {
  it('deletes the namespace when the fence names another run, and says so if asked', async () => {
    const { redis, keys, runId, fence } = await namespaceWithEntries();
    await redis.set(keys.fence(), 'f'.repeat(40));
    const restored: [string, number][] = [];
    const checked = fence({ onRestored: (run, deleted) => restored.push([run, deleted]) });
    await checked.firstCheck;
    expect(checked.ready).toBe(true);
    expect(await redis.get(keys.pointer('user:1'))).toBeNull();
    expect(await redis.get(keys.data('user:1', 1))).toBeNull();
    expect(await redis.get(keys.fence())).toBe(runId);
    expect(restored).toEqual([[runId, 2]]);
    checked.close();
  });

  it('deletes it without an onRestored listener too', async () => {
    const { redis, keys, fence } = await namespaceWithEntries();
    await redis.set(keys.fence(), 'f'.repeat(40));
    const checked = fence();
    await checked.firstCheck;
    expect(await redis.get(keys.pointer('user:1'))).toBeNull();
    checked.close();
  });

  it('keeps the namespace when the fence names this run, or when there is none and no run was known', async () => {
    const { redis, keys, runId, fence } = await namespaceWithEntries();
    const first = fence();
    await first.firstCheck;
    expect(await redis.get(keys.fence())).toBe(runId);
    const second = fence();
    await second.firstCheck;
    expect(await redis.get(keys.pointer('user:1'))).toBe('1');
    for (const f of [first, second]) f.close();
  });

  it('checks again when suspected: a fence gone under the same run keeps the namespace, another run deletes it', async () => {
    const { redis, keys, fence } = await namespaceWithEntries();
    const checked = fence();
    await checked.firstCheck;
    expect(await redis.get(keys.pointer('user:1'))).toBe('1');
    // The same run_id, fence gone: not a restart (run_id unchanged), so nothing is deleted.
    await redis.del(keys.fence());
    checked.suspect();
    await expect.poll(() => redis.get(keys.fence())).not.toBeNull();
    expect(await redis.get(keys.pointer('user:1'))).toBe('1');
    // Another run's fence appears (a restore): the next check deletes.
    await redis.set(keys.fence(), 'f'.repeat(40));
    checked.suspect();
    await expect.poll(() => redis.get(keys.pointer('user:1'))).toBeNull();
    checked.close();
  });
});
