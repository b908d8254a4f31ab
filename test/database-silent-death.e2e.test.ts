import {
  type InstanceProcess,
  startInstance,
  startTcpProxy,
  type TcpProxy,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient, type Timed } from './support/index.ts';

const QUERY_TIMEOUT_MS = 1000;
/** Connections the pool opens before the fault (all of them then die silently). */
const POOL_MAX = 4;

let proxy: TcpProxy;
let instance: InstanceProcess;
const prefix = uniqueName('dd');
const http = createHttpClient({ maxSockets: 8, timeoutMs: 20_000 });

beforeAll(async () => {
  // A proxy in front of the test database, for this instance only.
  const target = new URL(inject('databaseUrl'));
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  target.host = `127.0.0.1:${proxy.port}`;
  instance = await startInstance({
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: target.toString(),
    DB_LATENCY_MS: '0',
    SEED_USERS: '100',
    DB_POOL_MAX: String(POOL_MAX),
    DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    DB_CONNECT_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
    CACHE_NAMESPACE: prefix,
    INSTANCE_NAME: 'dd-1',
  });
});
afterAll(async () => {
  if (instance && instance.child.exitCode === null) instance.child.kill('SIGKILL');
  http.close();
  await proxy?.close();
});

const cold = (n: number) => http.send('GET', `${instance.url}/users/${prefix}-${n}`);

describe('database pool connections that die silently (no FIN, no RST)', () => {
  it('are found, destroyed and replaced: misses answer again within the bound', async () => {
    let n = 0;
    // Enough concurrent misses to open every pooled connection.
    const warm = await Promise.all(Array.from({ length: 3 * POOL_MAX }, () => cold(n++)));
    expect(warm.map((reply) => reply.status)).toEqual(Array(warm.length).fill(404));
    const holed = proxy.blackholeOpen();
    expect(holed).toBeGreaterThan(0);
    const cutAt = Date.now();

    const replies: (Timed & { at: number })[] = [];
    await waitFor(
      async () => {
        const reply = await cold(n++);
        replies.push({ ...reply, at: Date.now() - cutAt });
        return replies.slice(-5).every((r) => r.status === 404) && replies.length >= 5;
      },
      { timeoutMs: 30_000, intervalMs: 10, what: 'misses to be answered again' },
    );
    const failed = replies.filter((r) => r.status !== 404);
    const recoveredMs = replies.at(-5)?.at ?? 0;
    console.log(
      `silent database connections: ${holed} cut; answered again after ${recoveredMs} ms; ` +
        `${failed.length} misses failed meanwhile (${[...new Set(failed.map((r) => r.status))].join(', ')}), ` +
        `slowest ${Math.round(Math.max(...replies.map((r) => r.ms)))} ms`,
    );
    expect(failed.every((r) => r.status === 503)).toBe(true);
    expect(recoveredMs).toBeLessThan(2 * QUERY_TIMEOUT_MS + 2000);
  });
});
