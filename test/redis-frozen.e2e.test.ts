import { distribution } from '@cachelab/lab/lab/checker.ts';
import {
  type InstanceProcess,
  startInstance,
  startRedisServer,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from './support/index.ts';

const REDIS_TIMEOUT_MS = 250;
const DB_LATENCY_MS = 20;
/** Cold reads measured while Redis is frozen, one after the other, then some concurrently. */
const READS = 40;

let redis: TestRedisServer;
let instance: InstanceProcess;
const prefix = uniqueName('fz');
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own redis-server: this test freezes it.
  redis = await startRedisServer();
  instance = await startInstance({
    REDIS_URL: redis.url,
    DATABASE_URL: inject('databaseUrl'),
    DB_LATENCY_MS: String(DB_LATENCY_MS),
    REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
    SEED_USERS: '200',
    CACHE_NAMESPACE: prefix,
    INSTANCE_NAME: 'fz-1',
  });
});
afterAll(async () => {
  await redis?.kill('SIGCONT');
  if (instance && instance.child.exitCode === null) instance.child.kill('SIGKILL');
  http.close();
  await redis?.stop();
});

describe('Redis frozen (SIGSTOP)', () => {
  it('costs a cold read at most one REDIS_TIMEOUT_MS, and the instance recovers when it thaws', async () => {
    expect((await http.send('GET', `${instance.url}/users/1`)).status).toBe(200);
    await redis.kill('SIGSTOP');
    const sequential: number[] = [];
    for (let i = 0; i < READS; i++) {
      const read = await http.send('GET', `${instance.url}/users/${10 + i}`);
      // 404 too is an answer from the database (the shared test database may hold fewer users).
      expect([200, 404]).toContain(read.status);
      sequential.push(read.ms);
    }
    const concurrent = await Promise.all(
      Array.from({ length: 8 }, (_, i) => http.send('GET', `${instance.url}/users/${100 + i}`)),
    );
    for (const read of concurrent) expect([200, 404]).toContain(read.status);
    const all = [...sequential, ...concurrent.map((read) => read.ms)];
    const { p50, p99 } = distribution(all);
    const max = Math.max(...all);
    console.log(
      `frozen redis: ${all.length} cold reads, p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ` +
        `max ${max.toFixed(1)} ms (REDIS_TIMEOUT_MS ${REDIS_TIMEOUT_MS}, database ${DB_LATENCY_MS} ms)`,
    );
    // Two timeouts (the pointer read, then the fill) and the database read are 520 ms at least:
    // no read pays that.
    expect(max).toBeLessThan(2 * REDIS_TIMEOUT_MS + DB_LATENCY_MS);
    // Most reads pay none: Redis is skipped until it answers again.
    expect(p50).toBeLessThan(REDIS_TIMEOUT_MS);

    await redis.kill('SIGCONT');
    await waitFor(
      async () => {
        await http.send('GET', `${instance.url}/users/1`);
        const read = await http.send('GET', `${instance.url}/users/1`);
        return read.headers['x-cache'] === 'L1';
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'the instance to use its caches again' },
    );
  });
});
