import type { StatsResponse } from '@cachelab/app';
import {
  type InstanceProcess,
  type TestDatabaseServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, type Timed } from './support/index.ts';
import { killInstances, startWithOwnDatabase } from './support/instances.ts';

/** Bounds of the instances, kept short so that a frozen database shows quickly. */
const QUERY_TIMEOUT_MS = 1000;
/**
 * "Fast 503", far below a hang. The worst a frozen database can cost a request: waiting for a
 * pooled connection, then opening one, then the query (each bounded by the timeout), plus slack.
 */
const FAIL_FAST_BOUND_MS = 3 * QUERY_TIMEOUT_MS + 1000;
const CACHED = Array.from({ length: 20 }, (_, i) => String(i + 1));
/** Ids no one reads before their fault: 101-120 (and 151) for the freeze, 121-140 (171) for the kill. */
const uncachedIds = (from: number) => Array.from({ length: 20 }, (_, i) => String(from + i));

let database: TestDatabaseServer;
let a: InstanceProcess;
let b: InstanceProcess;
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own database process: this test freezes and kills it.
  const own = await startWithOwnDatabase(['do-a', 'do-b'], {
    SEED_USERS: '200',
    DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    DB_CONNECT_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    CACHE_NAMESPACE: uniqueName('do'),
  });
  database = own.database;
  [a, b] = own.instances;
});
afterAll(async () => {
  killInstances([a, b]);
  http.close();
  await database?.stop();
});

const get = (instance: InstanceProcess, id: string) =>
  http.send('GET', `${instance.url}/users/${id}`);
const code = (reply: Timed) => (reply.body as { error?: { code: string } })?.error?.code;

/** Reads every cached id on A (its L1) and B (Redis), and every `uncached` id on A. */
async function sweep(uncachedIds: string[]) {
  const cached = await Promise.all(CACHED.flatMap((id) => [get(a, id), get(b, id)]));
  const uncached = await Promise.all(uncachedIds.map((id) => get(a, id)));
  return { cached, uncached };
}

describe('the database stopped during reads', () => {
  it('keeps serving cached reads, fails uncached ones fast with 503, and recovers by itself', async () => {
    for (const id of CACHED) expect((await get(a, id)).status).toBe(200);
    expect((await get(b, CACHED[0] as string)).headers['x-cache']).toBe('L2');
    const figures: Record<string, number> = {};

    for (const [fault, from] of [
      ['SIGSTOP', 101],
      ['SIGKILL', 121],
    ] as const) {
      const ids = uncachedIds(from);
      await database.kill(fault);
      const { cached, uncached } = await sweep(ids);
      expect(cached.map((r) => r.status)).toEqual(cached.map(() => 200));
      expect(uncached.map((r) => [r.status, code(r), r.headers['retry-after']])).toEqual(
        uncached.map(() => [503, 'E_DB_UNAVAILABLE', '1']),
      );
      const worst = Math.max(...uncached.map((r) => r.ms));
      figures[`worst503Ms(${fault})`] = Math.round(worst);
      figures[`median503Ms(${fault})`] = Math.round(
        uncached.map((r) => r.ms).sort((x, y) => x - y)[uncached.length >> 1] ?? 0,
      );
      expect(worst).toBeLessThan(FAIL_FAST_BOUND_MS);
      // Known to be down now: a further miss is refused without waiting for a timeout.
      const again = await get(a, String(from + 50));
      expect([again.status, code(again)]).toEqual([503, 'E_DB_UNAVAILABLE']);
      figures[`failFastMs(${fault})`] = Math.round(again.ms);
      const stats = (await http.send('GET', `${a.url}/stats`)).body as StatsResponse;
      expect(stats.database.failedFast).toBeGreaterThan(0);
      const write = await http.send('PUT', `${a.url}/users/1`, {
        name: 'x',
        email: 'x@y.z',
        age: 1,
      });
      expect([write.status, code(write)]).toEqual([503, 'E_DB_UNAVAILABLE']);
      const ready = await http.send('GET', `${a.url}/readyz`);
      expect([ready.status, (ready.body as { status: string }).status]).toEqual([
        503,
        'unavailable',
      ]);

      // Back: SIGCONT for the frozen one, a new process on the same data for the killed one.
      const back = Date.now();
      if (fault === 'SIGSTOP') await database.kill('SIGCONT');
      else await database.restart();
      const restartedMs = Date.now() - back;
      const answering = Date.now();
      await waitFor(async () => (await get(a, ids[0] as string)).status === 200, {
        timeoutMs: 15_000,
        intervalMs: 25,
        what: 'uncached reads to succeed again',
      });
      figures[`restartMs(${fault})`] = restartedMs;
      figures[`recoveryMs(${fault})`] = Date.now() - answering;
      const after = await sweep(ids);
      expect([...after.cached, ...after.uncached].every((r) => r.status === 200)).toBe(true);
      expect((await http.send('GET', `${a.url}/readyz`)).status).toBe(200);
    }
    console.log(`database outage: ${JSON.stringify(figures)}`);
    expect(a.output()).not.toMatch(/unexpected error/);
  });
});
