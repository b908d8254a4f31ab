import { tableKey, trackTable } from '@cachelab/store';
import {
  type InstanceProcess,
  postgresBinaries,
  startPostgresServer,
  startRedisServer,
  type TestPostgresServer,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, versionServed } from './support/index.ts';
import { killInstances, startInstances } from './support/instances.ts';

/**
 * The outbox on a real PostgreSQL, which delivers NOTIFY: a write from psql wakes the relays at
 * its commit, and a write through an instance does not (the instance announces it itself; NOTIFY
 * would serialise its commit). The relays poll once a minute here, so only a notification can
 * deliver a psql write within the test's deadline.
 */
const INSTANCES = 2;
const USERS = 20;
const DELIVERY_MS = 8000;

let postgres: TestPostgresServer;
let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
let psql: pg.Pool;
const namespace = uniqueName('obpg');
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });
const versionAt = (url: string, id: string) => versionServed(http, url, id);

interface OutboxStats {
  outbox: { notifications: number; relayed: number } | null;
}

async function notifications(instance: InstanceProcess): Promise<number> {
  const answer = await http.send('GET', `${instance.url}/stats`);
  return (answer.body as OutboxStats).outbox?.notifications ?? Number.NaN;
}

async function everyInstanceServes(id: string, version: number, what: string): Promise<void> {
  await waitFor(
    async () =>
      (await Promise.all(instances.map(({ url }) => versionAt(url, id)))).every(
        (served) => served === version,
      ),
    { timeoutMs: DELIVERY_MS, intervalMs: 20, what },
  );
}

describe.runIf(postgresBinaries())('the outbox on PostgreSQL, woken by NOTIFY', () => {
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
    psql = new pg.Pool({ connectionString: postgres.url, max: 2 });
    psql.on('error', () => {});
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: postgres.url,
      DB_LATENCY_MS: '0',
      SEED_USERS: String(USERS),
      CACHE_NAMESPACE: namespace,
      CACHE_TTL_MS: '600000',
      L1_TTL_MS: '600000',
      REDIS_TIMEOUT_MS: '2000',
      OUTBOX_POLL_MS: '60000',
      OUTBOX_LISTEN: '1',
    };
    instances = await startInstances(
      Array.from({ length: INSTANCES }, (_, i) => `obpg-${i}`),
      env,
    );
    // Each relay LISTENs on a connection of its own, set up after the instance is ready: write
    // from psql until every relay has had a notification.
    await waitFor(
      async () => {
        await psql.query(`UPDATE users SET age = age + 1 WHERE id = '1'`);
        return (await Promise.all(instances.map(notifications))).every((n) => n > 0);
      },
      { timeoutMs: DELIVERY_MS, intervalMs: 100, what: 'every relay listening' },
    );
  }, 90_000);

  afterAll(async () => {
    killInstances(instances);
    http.close();
    await psql?.end();
    await redis?.stop();
    await postgres?.stop();
  });

  it('delivers a psql UPDATE to every instance at its commit, a minute before the next poll', async () => {
    await Promise.all(instances.map(({ url }) => versionAt(url, '5')));
    await Promise.all(instances.map(({ url }) => versionAt(url, '5')));
    const { rows } = await psql.query(
      `UPDATE users SET name = 'from psql' WHERE id = '5' RETURNING version::int AS v`,
    );
    await everyInstanceServes('5', rows[0].v as number, 'every instance to serve the psql write');
  });

  it('does not wake the relays for a write through an instance, which it announces itself', async () => {
    const [writer, reader] = instances as [InstanceProcess, InstanceProcess];
    await versionAt(reader.url, '9');
    await versionAt(reader.url, '9');
    const before = await Promise.all(instances.map(notifications));
    const put = await http.send('PUT', `${writer.url}/users/9`, {
      name: 'through an instance',
      email: 'nine@example.com',
      age: 40,
    });
    expect(put.status).toBe(200);
    const version = (put.body as { version: number }).version;
    // Served by the other instance at once: the write path's own announcement.
    await everyInstanceServes('9', version, 'the instance write served everywhere');
    // A psql write after it: notifications arrive in commit order, so once the relays have
    // delivered this one, a notification of the PUT would have arrived before it.
    const { rows } = await psql.query(
      `UPDATE users SET age = age + 1 WHERE id = '10' RETURNING version::int AS v`,
    );
    await everyInstanceServes('10', rows[0].v as number, 'the psql write after the PUT');
    const after = await Promise.all(instances.map(notifications));
    expect(after.map((n, i) => n - (before[i] as number))).toEqual(instances.map(() => 1));
  });

  it('relays a psql write to a second table, tracked by sql/track-table.sql, beside users', async () => {
    await psql.query(`CREATE TABLE products (
      region text, sku text, name text NOT NULL, version bigint NOT NULL, PRIMARY KEY (region, sku))`);
    await trackTable(psql, { table: 'products', keyPrefix: 'product:' });
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      const key = tableKey('product:', ['eu', 'sku 1']);
      const pointer = () => client.get(`${namespace}:{${key}}:ver`);
      await psql.query(`INSERT INTO products VALUES ('eu', 'sku 1', 'Lamp', 1)`);
      await waitFor(async () => (await pointer()) === '1', {
        timeoutMs: DELIVERY_MS,
        what: 'an instance to announce the new product',
      });
      await psql.query(`UPDATE products SET name = 'Desk lamp' WHERE sku = 'sku 1'`);
      await waitFor(async () => (await pointer()) === '2', {
        timeoutMs: DELIVERY_MS,
        what: 'an instance to announce the update',
      });
      const dead = await psql.query('SELECT key FROM cache_outbox_dead');
      expect(dead.rows).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it("keeps every instance in step with the database when a psql UPDATE changes a user's id", async () => {
    /** What user `id` is in the database: its version, or -404 when absent or deleted. */
    const inDatabase = async (id: string) => {
      const { rows } = await psql.query(
        'SELECT version::int AS v, deleted FROM users WHERE id = $1',
        [id],
      );
      return rows[0] && !rows[0].deleted ? (rows[0].v as number) : -404;
    };
    const strictVersionAt = async (url: string, id: string) => {
      const answer = await http.send('GET', `${url}/users/${id}`, undefined, {
        'x-consistency': 'strict',
      });
      return answer.status === 200 ? (answer.body as { version: number }).version : -answer.status;
    };
    const inStep = async () => {
      for (const id of ['7', 'x7']) {
        const expected = await inDatabase(id);
        for (const { url } of instances) {
          if ((await versionAt(url, id)) !== expected) return false;
          if ((await strictVersionAt(url, id)) !== expected) return false;
        }
      }
      return true;
    };
    // Warm /users/7 (and the absence of x7) in every L1.
    for (let i = 0; i < 2; i++) {
      await Promise.all(instances.map(({ url }) => versionAt(url, '7')));
      await Promise.all(instances.map(({ url }) => versionAt(url, 'x7')));
    }
    const change = await psql.query(`UPDATE users SET id = 'x7' WHERE id = '7'`).then(
      () => undefined,
      (error: Error) => error,
    );
    // Whatever the database did, every instance serves what it holds: it refuses the change,
    // saying what to do instead, so nothing changed.
    await waitFor(inStep, {
      timeoutMs: DELIVERY_MS,
      intervalMs: 50,
      what: 'every instance in step',
    });
    expect(change?.message).toMatch(/cannot change.*insert.*delete/i);

    // What it says instead: insert the new id, delete the old one (a tombstone with a new version).
    const moved = await psql.connect();
    try {
      await moved.query('BEGIN');
      await moved.query(
        `INSERT INTO users (id, name, email, age) SELECT 'x7', name, email, age FROM users WHERE id = '7'`,
      );
      await moved.query(`DELETE FROM users WHERE id = '7'`);
      await moved.query('COMMIT');
    } finally {
      moved.release();
    }
    await waitFor(inStep, {
      timeoutMs: DELIVERY_MS,
      intervalMs: 50,
      what: 'the move served everywhere',
    });
    expect(await versionAt(instances[0]?.url as string, '7')).toBe(-404);
    expect(await versionAt(instances[0]?.url as string, 'x7')).toBe(1);
  });
});
