import type { StatsResponse } from '@cachelab/app';
import {
  type InstanceProcess,
  startInstance,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from './support/index.ts';

/** The defaults of an instance: a dead connection is replaced within interval + timeout. */
const HEARTBEAT_INTERVAL_MS = 500;
const HEARTBEAT_TIMEOUT_MS = 2000;
const REDIS_TIMEOUT_MS = 250;
/**
 * Twice the stated bound (2.5 s, plus a connect and the next retry), for a busy machine; without
 * a replacement the connection stays dead for good.
 */
const RECOVERY_BOUND_MS = 2 * (HEARTBEAT_INTERVAL_MS + HEARTBEAT_TIMEOUT_MS) + 2000;

let redis: TestRedisServer;
let proxy: TcpProxy;
let behind: InstanceProcess;
let direct: InstanceProcess;
const prefix = uniqueName('sd');
const http = createHttpClient({ maxSockets: 4, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own redis-server, and a proxy in front of it for one instance only.
  redis = await startRedisServer();
  proxy = await startTcpProxy({ port: redis.port });
  const env = {
    DATABASE_URL: inject('databaseUrl'),
    DB_LATENCY_MS: '0',
    SEED_USERS: '100',
    CACHE_NAMESPACE: prefix,
    HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
    HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
    REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
    // No outbox relay during the test (one poll at start, then none for 10 minutes): the write
    // must reach the other instance through the proxied instance's own retried announcement.
    OUTBOX_POLL_MS: '600000',
    OUTBOX_LISTEN: '0',
  };
  [behind, direct] = await Promise.all([
    startInstance({
      ...env,
      INSTANCE_NAME: 'sd-proxied',
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
    }),
    startInstance({ ...env, INSTANCE_NAME: 'sd-direct', REDIS_URL: redis.url }),
  ]);
});
afterAll(async () => {
  for (const instance of [behind, direct])
    if (instance && instance.child.exitCode === null) instance.child.kill('SIGKILL');
  http.close();
  await proxy?.close();
  await redis?.stop();
});

/** Target-side ports of the connections of a type (`normal`: commands) that Redis has now. */
async function connectionPorts(type: 'normal' | 'pubsub'): Promise<Set<number>> {
  const admin = createClient({ url: redis.url });
  admin.on('error', () => {});
  await admin.connect();
  try {
    const list = String(await admin.sendCommand(['CLIENT', 'LIST', 'TYPE', type]));
    return new Set([...list.matchAll(/addr=[\d.]+:(\d+)/g)].map((match) => Number(match[1])));
  } finally {
    admin.destroy();
  }
}

const stats = async (url: string) => (await http.send('GET', `${url}/stats`)).body as StatsResponse;
const body = (n: number) => ({ name: `n${n}`, email: `u${n}@example.com`, age: n });

describe("an instance whose Redis command connection dies silently (its subscriber's stays healthy)", () => {
  it('replaces it within the bound by itself, then announces the write it could not announce', async () => {
    const id = `${prefix}-1`;
    expect((await http.send('PUT', `${direct.url}/users/${id}`, body(1))).status).toBe(201);
    for (const { url } of [behind, direct]) {
      await http.send('GET', `${url}/users/${id}`);
      expect((await http.send('GET', `${url}/users/${id}`)).headers['x-cache']).toBe('L1');
    }

    // Only the proxied instance's command connection stops carrying bytes: no FIN, no RST.
    const ports = await connectionPorts('normal');
    expect(proxy.blackholeOpen((port) => ports.has(port))).toBe(1);
    const cutAt = Date.now();

    // A write through it commits, but its announcement cannot reach Redis for now.
    const write = await http.send('PUT', `${behind.url}/users/${id}`, body(2));
    expect(write.status).toBe(200);
    const misses: number[] = [];
    for (let i = 0; i < 10; i++)
      misses.push((await http.send('GET', `${behind.url}/users/${prefix}-cold-${i}`)).ms);

    // The other instance learns of the write once the connection has been replaced.
    await waitFor(
      async () =>
        Number((await http.send('GET', `${direct.url}/users/${id}`)).headers['x-version']) === 2,
      { timeoutMs: 15_000, intervalMs: 50, what: 'the write to be announced' },
    );
    const announcedMs = Date.now() - cutAt;
    await waitFor(async () => (await stats(behind.url)).cache.trusted, {
      timeoutMs: 10_000,
      what: 'the proxied instance to trust its bus again',
    });
    const recoveredMs = Date.now() - cutAt;
    const after = await stats(behind.url);
    console.log(
      `silent command connection: announced after ${announcedMs} ms, L1 trusted again after ` +
        `${recoveredMs} ms; misses meanwhile max ${Math.round(Math.max(...misses))} ms; ` +
        `skipped Redis calls ${after.cache.redisSkipped}`,
    );
    expect(announcedMs).toBeLessThan(RECOVERY_BOUND_MS);
    // The retry that published it forgets it once its Redis call has returned.
    await waitFor(async () => (await stats(behind.url)).cache.pendingInvalidations === 0, {
      timeoutMs: 2_000,
      what: 'the pending announcement to be forgotten',
    });
    expect(behind.output()).toMatch(/redis command connection replaced/);
    // A miss meanwhile paid at most one Redis timeout (the 404 of a missing user included).
    expect(Math.max(...misses)).toBeLessThan(2 * REDIS_TIMEOUT_MS);
    // And it serves from its caches again.
    await http.send('GET', `${behind.url}/users/${id}`);
    expect((await http.send('GET', `${behind.url}/users/${id}`)).headers).toMatchObject({
      'x-cache': 'L1',
      'x-version': '2',
    });
  });

  it('replaces a silently dead subscriber connection within the bound, and trusts L1 again', async () => {
    const id = `${prefix}-2`;
    expect((await http.send('PUT', `${direct.url}/users/${id}`, body(1))).status).toBe(201);
    await waitFor(async () => (await stats(behind.url)).cache.trusted, { what: 'trust' });

    const before = (await stats(behind.url)).cache;
    const ports = await connectionPorts('pubsub');
    expect(proxy.blackholeOpen((port) => ports.has(port))).toBe(1);
    const cutAt = Date.now();
    // Noticed when trust is withdrawn: counted, since the replacement can be quick enough for the
    // untrusted window to fall between two polls of /stats.
    await waitFor(
      async () => {
        const now = (await stats(behind.url)).cache;
        return (
          now.trustLost > before.trustLost && now.subscriberReconnects > before.subscriberReconnects
        );
      },
      { timeoutMs: 10_000, intervalMs: 50, what: 'the dead subscription to be noticed' },
    );
    const noticedMs = Date.now() - cutAt;
    await waitFor(async () => (await stats(behind.url)).cache.trusted, {
      timeoutMs: 15_000,
      intervalMs: 50,
      what: 'a new subscription to be trusted',
    });
    const recoveredMs = Date.now() - cutAt;
    console.log(
      `silent subscriber connection: L1 withheld after ${noticedMs} ms, trusted again after ${recoveredMs} ms`,
    );
    expect(recoveredMs).toBeLessThan(RECOVERY_BOUND_MS);
    expect(behind.output()).toMatch(/redis subscriber connection replaced/);

    // Invalidations reach it again: a write elsewhere replaces its L1 copy.
    await http.send('GET', `${behind.url}/users/${id}`);
    expect((await http.send('GET', `${behind.url}/users/${id}`)).headers['x-cache']).toBe('L1');
    expect((await http.send('PUT', `${direct.url}/users/${id}`, body(2))).status).toBe(200);
    await waitFor(
      async () =>
        Number((await http.send('GET', `${behind.url}/users/${id}`)).headers['x-version']) === 2,
      { timeoutMs: 2000, intervalMs: 20, what: 'the invalidation to arrive' },
    );
  });
});
