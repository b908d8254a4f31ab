import {
  type InstanceProcess,
  type TestDatabaseServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from './support/index.ts';
import { killInstances, startWithOwnDatabase } from './support/instances.ts';

let database: TestDatabaseServer;
let a: InstanceProcess;
let b: InstanceProcess;
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own database process: this test kills it.
  const own = await startWithOwnDatabase(['se-a', 'se-b'], {
    SEED_USERS: '50',
    DB_QUERY_TIMEOUT_MS: '1000',
    DB_CONNECT_TIMEOUT_MS: '1000',
    CACHE_TTL_MS: '300',
    L1_TTL_MS: '300',
    TTL_JITTER: '0',
    STALE_IF_ERROR_MS: '60000',
    CACHE_NAMESPACE: uniqueName('se'),
  });
  database = own.database;
  [a, b] = own.instances;
});
afterAll(async () => {
  killInstances([a, b]);
  http.close();
  await database?.stop();
});

describe('stale-if-error across instances (STALE_IF_ERROR_MS)', () => {
  it('serves an expired copy marked STALE with Age when the database is down, counted; never one it does not hold', async () => {
    const first = await http.send('GET', `${a.url}/users/5`);
    expect(first.status).toBe(200);
    const storedAt = Date.now();
    // Both tiers expire (300 ms); then the database dies.
    await waitFor(() => Date.now() > storedAt + 1_200, { what: 'both tiers to expire' });
    await database.kill('SIGKILL');
    const stale = await http.send('GET', `${a.url}/users/5`);
    expect(stale.status).toBe(200);
    expect(stale.headers['x-cache']).toBe('STALE');
    expect(Number(stale.headers.age)).toBeGreaterThanOrEqual(1);
    expect(stale.body).toMatchObject({ id: '5', version: 1 });
    // Strict reads never get a stale copy; nor does an instance that holds none.
    const strict = await http.send('GET', `${a.url}/users/5`, undefined, {
      'x-consistency': 'strict',
    });
    expect(strict.status).toBe(503);
    expect((await http.send('GET', `${b.url}/users/5`)).status).toBe(503);
    const stats = await http.send('GET', `${a.url}/stats`);
    expect(stats.body).toMatchObject({ cache: { staleServed: 1 } });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(metrics).toMatch(/cachelab_cache_stale_served_total 1\b/);
  });
});
