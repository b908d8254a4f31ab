import { distribution } from '@cachelab/lab/lab/checker.ts';
import { createPool, createUsersRepository } from '@cachelab/store';
import { type InstanceProcess, type TestRedisServer, uniqueName, waitFor } from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient, runLoops, type Timed } from './support/index.ts';
import { killInstances, startWithOwnRedis } from './support/instances.ts';

const INSTANCES = 3;
const KEYS = 20;
/** "Did not hang": far above the Redis timeout (250 ms) and a database read, far below a hang. */
const LATENCY_BOUND_MS = 3000;

type User = { id: string; version: number };
type Ready = {
  status: string;
  checks: { redis: string };
  l1: string;
  counts: { degradedReads: number };
};

let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
const prefix = uniqueName('ro');
const ids = Array.from({ length: KEYS }, (_, i) => `${prefix}-${i}`);
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });
const pool = createPool({ connectionString: inject('databaseUrl'), max: 2 });
const database = createUsersRepository({ db: pool });

beforeAll(async () => {
  // Its own redis-server: this test kills it.
  const names = Array.from({ length: INSTANCES }, (_, i) => `ro-${i}`);
  ({ redis, instances } = await startWithOwnRedis(names, {
    SEED_USERS: '100',
    CACHE_NAMESPACE: prefix,
    HEARTBEAT_INTERVAL_MS: '100',
    HEARTBEAT_TIMEOUT_MS: '400',
  }));
});
afterAll(async () => {
  killInstances(instances);
  http.close();
  await pool.end();
  await redis?.stop();
});

const body = (n: number) => ({ name: `n${n}`, email: `u${n}@example.com`, age: n % 100 });
const pick = <T>(items: T[]): T => items[Math.floor(Math.random() * items.length)] as T;
const readiness = async (url: string) => (await http.send('GET', `${url}/readyz`)).body as Ready;

describe('Redis killed (SIGKILL) under a load of reads and writes, then restarted empty', () => {
  it('never hangs, never fails a read or a write, and serves no stale value afterwards', async () => {
    for (const id of ids)
      expect((await http.send('PUT', `${instances[0]?.url}/users/${id}`, body(0))).status).toBe(
        201,
      );

    type Sample = Timed & { op: 'read' | 'write'; phase: string };
    const samples: Sample[] = [];
    let phase = 'before';
    let stopped = false;
    let n = 0;
    const load = runLoops(
      8,
      () => stopped,
      async () => {
        const url = pick(instances).url;
        const id = pick(ids);
        const op = Math.random() < 0.25 ? 'write' : 'read';
        const at = phase;
        const result =
          op === 'write'
            ? await http.send('PUT', `${url}/users/${id}`, body(++n))
            : await http.send('GET', `${url}/users/${id}`);
        samples.push({ ...result, op, phase: at });
      },
    );

    await waitFor(() => samples.length >= 300, { timeoutMs: 10_000, what: 'load to warm up' });
    phase = 'down';
    const killedAt = Date.now();
    await redis.kill('SIGKILL');
    // While Redis is gone, instances serve from the database and say so.
    const degraded = await waitFor(
      async () => {
        const all = await Promise.all(instances.map(({ url }) => readiness(url)));
        return all.every((r) => r.status === 'degraded' && r.l1 === 'untrusted') && all;
      },
      { timeoutMs: 5000, what: 'every instance to report degraded' },
    );
    await waitFor(() => samples.filter((s) => s.phase === 'down').length >= 300, {
      timeoutMs: 10_000,
      what: 'load while Redis is down',
    });
    await redis.restart();
    phase = 'recovering';
    const restartedAt = Date.now();
    await waitFor(
      async () => {
        const all = await Promise.all(instances.map(({ url }) => readiness(url)));
        return all.every((r) => r.status === 'ready' && r.l1 === 'trusted');
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'every instance to trust its bus again' },
    );
    const recoveredMs = Date.now() - restartedAt;
    phase = 'after';
    await waitFor(() => samples.filter((s) => s.phase === 'after').length >= 300, {
      timeoutMs: 10_000,
      what: 'load after recovery',
    });
    stopped = true;
    await load;

    // Every request answered in time and successfully, reads and writes alike.
    const worst = Math.max(...samples.map((s) => s.ms));
    const failed = samples.filter((s) => s.status === 0 || s.status >= 500);
    const down = samples.filter((s) => s.phase === 'down');
    const summary = {
      requests: samples.length,
      duringOutage: down.length,
      outageMs: restartedAt - killedAt,
      worstMs: Math.round(worst),
      worstDuringOutageMs: Math.round(Math.max(...down.map((s) => s.ms))),
      p99DuringOutageMs: Math.round(distribution(down.map((s) => s.ms)).p99),
      trustBackAfterRestartMs: recoveredMs,
      degradedReadsAtOutage: degraded.map((r) => r.counts.degradedReads),
      failed: failed.length,
    };
    console.log(`redis outage: ${JSON.stringify(summary)}`);
    expect(failed.map((s) => `${s.op} ${s.phase} ${s.status} ${s.error ?? ''}`)).toEqual([]);
    expect(worst).toBeLessThan(LATENCY_BOUND_MS);
    expect(degraded.some((r) => r.counts.degradedReads > 0)).toBe(true);

    // After Redis returns: every key, on every instance, at the database's latest version.
    const stale: string[] = [];
    for (const id of ids) {
      const latest = (await database.get(id))?.version;
      for (const { url } of instances) {
        const read = await http.send('GET', `${url}/users/${id}`);
        const version = (read.body as User).version;
        if (read.status !== 200 || version !== latest)
          stale.push(`${url} ${id}: ${version} < ${latest}`);
      }
    }
    expect(stale).toEqual([]);
  });
});
