import type { StatsResponse } from '@cachelab/app';
import {
  type InstanceProcess,
  startInstance,
  startRedisServer,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';

let instance: InstanceProcess | undefined;
let redis: TestRedisServer | undefined;
afterEach(async () => {
  if (instance?.child.exitCode === null) instance.child.kill('SIGKILL');
  await redis?.kill('SIGCONT');
  await redis?.stop();
  redis = undefined;
});

describe('an instance process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'finishes requests in flight on %s, then exits 0 and refuses new connections',
    async (signal) => {
      instance = await startInstance({
        REDIS_URL: inject('redisUrl'),
        DATABASE_URL: inject('databaseUrl'),
        DB_LATENCY_MS: '700',
        SEED_USERS: '100',
        CACHE_NAMESPACE: uniqueName(),
      });
      const { url } = instance;
      // A miss waits for the slow database, so it is still in flight when the signal arrives.
      const inFlight = fetch(`${url}/users/3`);
      await waitFor(async () => {
        const stats = (await (await fetch(`${url}/stats`)).json()) as StatsResponse;
        return stats.cache.reads === 1;
      });
      instance.child.kill(signal);

      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe('3');
      const answeredAt = Date.now();
      expect(await instance.exited).toBe(0);
      // The connection that carried it (kept alive by fetch) is closed once it is answered, not
      // left open for the 5 s keep-alive timeout.
      expect(Date.now() - answeredAt).toBeLessThan(3000);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      expect(instance.output()).toContain('stopped');
    },
  );

  it('exits on SIGTERM while Redis is frozen with commands pending', async () => {
    redis = await startRedisServer();
    instance = await startInstance({
      REDIS_URL: redis.url,
      DATABASE_URL: inject('databaseUrl'),
      SEED_USERS: '100',
      HEARTBEAT_INTERVAL_MS: '100',
      SHUTDOWN_TIMEOUT_MS: '1000',
      CACHE_NAMESPACE: uniqueName(),
    });
    const { url } = instance;
    await redis.kill('SIGSTOP');
    // A read whose Redis round trip times out: its command stays queued on the frozen connection.
    expect((await fetch(`${url}/users/4`)).status).toBe(200);
    instance.child.kill('SIGTERM');
    const exited = await Promise.race([
      instance.exited,
      new Promise((resolve) => setTimeout(resolve, 8000, 'still running')),
    ]);
    expect(exited).toBe(0);
  });

  it('exits 1 naming every invalid variable', async () => {
    const error = await startInstance({ PORT: 'eighty', DB_LATENCY_MS: '-5' }).catch(
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/PORT must be an integer/);
    expect((error as Error).message).toMatch(/DB_LATENCY_MS must be an integer/);
  });
});
