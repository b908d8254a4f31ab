import type { StatsResponse } from '@cachelab/app';
import {
  type InstanceProcess,
  startDatabaseServer,
  startInstance,
  startRedisServer,
  type TestDatabaseServer,
  type TestRedisServer,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, runLoops } from './support/index.ts';

/** FLOOD_REQUESTS may shrink it while working on this file; the issue asks for 100,000. */
const REQUESTS = Number(process.env.FLOOD_REQUESTS ?? 100_000);
/** ~15 s on an idle 2-core machine; much longer when other work shares the cores. */
const TIMEOUT_MS = 240_000;
const SEEDED = 20_000;
const L1_BOUND = 2_000;
const MARKS_BOUND = 2_000;
const LOADS_CAP = 32;
const CONCURRENCY = 48;

let redis: TestRedisServer;
let database: TestDatabaseServer;
let instance: InstanceProcess;
const http = createHttpClient({ maxSockets: CONCURRENCY + 2, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own Redis and database: the flood leaves 100,000 keys and rows behind.
  [redis, database] = await Promise.all([startRedisServer(), startDatabaseServer()]);
  instance = await startInstance({
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    DB_LATENCY_MS: '0',
    SEED_USERS: String(SEEDED),
    L1_MAX_ENTRIES: String(L1_BOUND),
    HIGH_WATER_MARK_MAX_ENTRIES: String(MARKS_BOUND),
    MAX_CONCURRENT_LOADS: String(LOADS_CAP),
  });
});
afterAll(async () => {
  if (instance?.child.exitCode === null) instance.child.kill('SIGKILL');
  http.close();
  await Promise.all([redis?.stop(), database?.stop()]);
});

async function stats(): Promise<StatsResponse> {
  const reply = await http.send('GET', `${instance.url}/stats`);
  if (reply.status !== 200) throw new Error(`/stats answered ${reply.status} ${reply.error ?? ''}`);
  return reply.body as StatsResponse;
}
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

describe('a flood of 100,000 distinct ids against one instance', () => {
  it(
    'keeps L1 and the high-water marks within bounds, the hot key hot, the database protected',
    async () => {
      const hot = `${instance.url}/users/1`;
      expect((await http.send('GET', hot)).status).toBe(200);
      const before = await stats();

      // Distinct ids: 1 in 5 an existing user, 1 in 20 a write creating a new one, the rest absent.
      let sent = 0;
      const statuses = new Map<number, number>();
      const hotTiers = new Map<string, number>();
      let maxL1 = 0;
      let maxMarks = 0;
      let maxInFlight = 0;
      const started = Date.now();
      const flood = runLoops(
        CONCURRENCY,
        () => sent >= REQUESTS,
        async () => {
          const i = sent++;
          const reply =
            i % 20 === 0
              ? await http.send('PUT', `${instance.url}/users/new-${i}`, {
                  name: 'n',
                  email: 'n@example.com',
                  age: 1,
                })
              : await http.send(
                  'GET',
                  `${instance.url}/users/${i % 5 === 0 ? 1 + (i % SEEDED) : `ghost-${i}`}`,
                );
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        },
      );
      // The hot key, read throughout, and the bounds, sampled throughout.
      let done = false;
      const watch = Promise.all([
        runLoops(
          2,
          () => done,
          async () => {
            const tier = String((await http.send('GET', hot)).headers['x-cache']);
            hotTiers.set(tier, (hotTiers.get(tier) ?? 0) + 1);
          },
        ),
        runLoops(
          1,
          () => done,
          async () => {
            const { cache } = await stats();
            maxL1 = Math.max(maxL1, cache.l1Size);
            maxMarks = Math.max(maxMarks, cache.highWaterMarks);
            maxInFlight = Math.max(maxInFlight, cache.loadsInFlight);
          },
        ),
      ]);
      await flood;
      done = true;
      await watch;
      const seconds = (Date.now() - started) / 1000;
      const after = await stats();

      const hotReads = [...hotTiers.values()].reduce((a, b) => a + b, 0);
      const hotHits = (hotTiers.get('L1') ?? 0) + (hotTiers.get('L2') ?? 0);
      const report = {
        requests: REQUESTS,
        seconds,
        perSecond: Math.round(REQUESTS / seconds),
        statuses: Object.fromEntries(statuses),
        hotKey: {
          reads: hotReads,
          tiers: Object.fromEntries(hotTiers),
          hitRatio: hotHits / hotReads,
        },
        max: { l1Size: maxL1, highWaterMarks: maxMarks, loadsInFlight: maxInFlight },
        loads: after.cache.loads - before.cache.loads,
        loadsShed: after.cache.loadsShed,
        l1Evictions: after.cache.l1Evictions,
        memoryMb: {
          rss: [mb(before.memory.rss), mb(after.memory.rss)],
          heapUsed: [mb(before.memory.heapUsed), mb(after.memory.heapUsed)],
        },
      };
      console.log(`flood: ${JSON.stringify(report)}`);

      // Nothing failed but for shed loads (503); no request went unanswered.
      expect([...statuses.keys()].filter((s) => ![200, 201, 404, 503].includes(s))).toEqual([]);
      expect(maxL1).toBeLessThanOrEqual(L1_BOUND);
      expect(after.cache.l1Size).toBeLessThanOrEqual(L1_BOUND);
      expect(maxMarks).toBeLessThanOrEqual(MARKS_BOUND);
      expect(after.cache.highWaterMarks).toBeLessThanOrEqual(MARKS_BOUND);
      expect(maxInFlight).toBeLessThanOrEqual(LOADS_CAP);
      expect(hotHits / hotReads).toBeGreaterThanOrEqual(0.9);
      // At most one database load per distinct id read.
      expect(report.loads).toBeLessThanOrEqual(REQUESTS);
      expect((await http.send('GET', `${instance.url}/healthz`)).status).toBe(200);
    },
    TIMEOUT_MS,
  );
});
