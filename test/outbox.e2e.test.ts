import { createKeys } from '@cachelab/cache';
import {
  type InstanceProcess,
  startDatabaseServer,
  startInstance,
  startRedisServer,
  type TestDatabaseServer,
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
 * Writes that never pass through an instance's write path — psql, a bulk UPDATE, an instance
 * killed right after its commit — reach every instance through the database's outbox. L1 and
 * Redis TTLs are long (minutes), so a test that passes was not rescued by a TTL.
 */
const INSTANCES = 3;
const USERS = 40;
const POLL_MS = 100;
/** Generous: the bound is one poll plus a round trip; the machine is shared and noisy. */
const DELIVERY_MS = 8000;

let database: TestDatabaseServer;
let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
let psql: pg.Pool;
const namespace = uniqueName('ob');
const keys = createKeys(namespace);
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });
const versionAt = (url: string, id: string) => versionServed(http, url, id);
const ids = Array.from({ length: USERS }, (_, i) => String(i + 1));
let env: Record<string, string>;

beforeAll(async () => {
  // Its own database (the outbox is per database) and Redis (this file kills them).
  [database, redis] = await Promise.all([startDatabaseServer(), startRedisServer()]);
  psql = new pg.Pool({ connectionString: database.url, max: 2 });
  psql.on('error', () => {});
  env = {
    REDIS_URL: redis.url,
    DATABASE_URL: database.url,
    DB_LATENCY_MS: '0',
    SEED_USERS: String(USERS),
    CACHE_NAMESPACE: namespace,
    CACHE_TTL_MS: '600000',
    L1_TTL_MS: '600000',
    // Patient Redis calls and heartbeats: on a loaded machine a timed-out read would go to the
    // database and heal the key by itself, and the test could no longer fail without the relay.
    REDIS_TIMEOUT_MS: '2000',
    HEARTBEAT_INTERVAL_MS: '250',
    HEARTBEAT_TIMEOUT_MS: '4000',
    OUTBOX_POLL_MS: String(POLL_MS),
    OUTBOX_LEASE_MS: '1000',
  };
  instances = await startInstances(
    Array.from({ length: INSTANCES }, (_, i) => `ob-${i}`),
    env,
  );
});

afterAll(async () => {
  killInstances(instances);
  http.close();
  await psql?.end();
  await redis?.stop();
  await database?.stop();
});

const live = () => instances.filter((instance) => instance.child.exitCode === null);

/** Reads every user on every instance twice, so each holds it in L1. */
async function warm(): Promise<void> {
  for (let round = 0; round < 2; round++) {
    await Promise.all(live().flatMap(({ url }) => ids.map((id) => versionAt(url, id))));
  }
}

async function databaseVersions(): Promise<Map<string, number>> {
  const { rows } = await psql.query('SELECT id, version::int AS v FROM users WHERE id = ANY($1)', [
    ids,
  ]);
  return new Map(rows.map((row) => [row.id as string, row.v as number]));
}

/** Waits until every live instance serves the database's version of every user: no stuck key. */
async function everyInstanceServesTheDatabase(what: string): Promise<void> {
  const expected = await databaseVersions();
  await waitFor(
    async () => {
      const served = await Promise.all(
        live().flatMap(({ url }) =>
          ids.map(async (id) => (await versionAt(url, id)) === expected.get(id)),
        ),
      );
      return served.every(Boolean);
    },
    { timeoutMs: DELIVERY_MS, intervalMs: 50, what },
  );
}

describe('writes that bypass the instances reach every cache through the outbox', () => {
  it('delivers a psql UPDATE to every instance, with the version the trigger gave it', async () => {
    await warm();
    const { rows } = await psql.query(
      `UPDATE users SET name = 'from psql' WHERE id = '7' RETURNING version::int AS v`,
    );
    const version = rows[0].v as number;
    await waitFor(
      async () =>
        (await Promise.all(live().map(({ url }) => versionAt(url, '7')))).every(
          (served) => served === version,
        ),
      { timeoutMs: DELIVERY_MS, intervalMs: 20, what: 'every instance to serve the psql write' },
    );
    const answer = await http.send('GET', `${instances[1]?.url}/users/7`);
    expect(answer.body).toMatchObject({ name: 'from psql', version });
    await everyInstanceServesTheDatabase('no stuck key after the psql write');
  });

  it('delivers one bulk UPDATE of every row to every instance', async () => {
    await warm();
    const { rowCount } = await psql.query('UPDATE users SET age = age + 1 WHERE id = ANY($1)', [
      ids,
    ]);
    expect(rowCount).toBe(USERS);
    await everyInstanceServesTheDatabase('every instance to serve the bulk update');
  });

  it('delivers the write of an instance killed right after its commit (CRASH_AFTER_COMMIT)', async () => {
    const crashing = await startInstance({
      ...env,
      INSTANCE_NAME: 'ob-crash',
      CRASH_AFTER_COMMIT: '1',
    });
    try {
      await warm();
      const answer = await http.send('PUT', `${crashing.url}/users/9`, {
        name: 'committed, then killed',
        email: 'k@example.com',
        age: 50,
      });
      expect(answer.status).toBe(0); // the process died before it could answer
      expect(await crashing.exited).toBeNull(); // killed by a signal
      expect(crashing.child.signalCode).toBe('SIGKILL');
      const { rows } = await psql.query(`SELECT name FROM users WHERE id = '9'`);
      expect(rows[0].name).toBe('committed, then killed');
      await everyInstanceServesTheDatabase('every instance to serve the orphaned write');
    } finally {
      if (crashing.child.exitCode === null) crashing.child.kill('SIGKILL');
    }
  });

  it('keeps the outbox while Redis is down and delivers all of it once Redis is back', async () => {
    await warm();
    await redis.kill('SIGKILL');
    try {
      await outboxWaitsForRedis();
    } finally {
      // Back for the tests that follow, whatever happened here.
      if (redis.process().exitCode !== null) await redis.restart();
    }
  });
});

/** While Redis is down: writes pile up in the outbox; after it returns, the relay delivers them. */
async function outboxWaitsForRedis(): Promise<void> {
  const written = ['3', '4', '5', '6'];
  const { rows } = await psql.query(
    'UPDATE users SET age = age + 2 WHERE id = ANY($1) RETURNING id, version::int AS v',
    [written],
  );
  // Several failed polls: the rows wait in the database, none is lost.
  await waitFor(
    async () => {
      const scraped = await Promise.all(
        live().map(async ({ url }) => (await http.send('GET', `${url}/stats`)).body),
      );
      return scraped.every((s) => (s as { outbox: { failures: number } }).outbox.failures > 0);
    },
    { timeoutMs: DELIVERY_MS, what: 'every relay to have failed while Redis is down' },
  );
  const waiting = await psql.query('SELECT key FROM cache_outbox WHERE key = ANY($1)', [
    written.map((id) => `user:${id}`),
  ]);
  expect(waiting.rowCount).toBe(written.length);

  await redis.restart();
  // Redis came back empty; before anyone reads, the relay alone delivers the outbox.
  await waitFor(
    async () => (await psql.query('SELECT count(*)::int AS n FROM cache_outbox')).rows[0].n === 0,
    { timeoutMs: DELIVERY_MS, what: 'the relay to deliver the outbox to the restarted Redis' },
  );
  // Each pointer is at the relayed version, or gone: an instance whose restart check (SPEC §12a)
  // ran after the relay deletes the namespace, relayed pointers included (a miss, never a stale
  // read). Never an older version.
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    const pointers = await Promise.all(
      rows.map((row) => client.get(keys.pointer(`user:${row.id}`))),
    );
    for (const [i, row] of rows.entries()) {
      expect([null, String(row.v)]).toContain(pointers[i]);
    }
  } finally {
    await client.close();
  }
  await everyInstanceServesTheDatabase('no stuck key after the Redis outage');
}

describe('the relay after faults of its own', () => {
  it('delivers the batch of a relaying instance SIGKILLed mid-batch, once its lease runs out', async () => {
    // The victim claims for longer than its Redis calls may take: the rows stay reserved to it
    // after it died, until the lease runs out and another relay takes them.
    const victim = await startInstance({
      ...env,
      INSTANCE_NAME: 'ob-victim',
      OUTBOX_LEASE_MS: '3000',
    });
    const frozen = live().filter((instance) => instance !== victim);
    let versions: { id: string; v: number }[] = [];
    try {
      await warm();
      // Only the victim relays now, and its announcements hang: Redis is stopped.
      for (const instance of frozen) instance.child.kill('SIGSTOP');
      await redis.kill('SIGSTOP');
      const written = ids.slice(0, 20);
      const { rows } = await psql.query(
        'UPDATE users SET age = age + 3 WHERE id = ANY($1) RETURNING id, version::int AS v',
        [written],
      );
      versions = rows as { id: string; v: number }[];
      const held = `SELECT count(*)::int AS n FROM cache_outbox
        WHERE claimed_until > clock_timestamp() AND key = ANY($1)`;
      const outboxKeys = written.map((id) => `user:${id}`);
      // Claimed by the victim (the only relay running), its announcement waiting on Redis.
      await waitFor(
        async () => (await psql.query(held, [outboxKeys])).rows[0].n === written.length,
        { timeoutMs: DELIVERY_MS, intervalMs: 10, what: 'the victim to claim the batch' },
      );
      victim.child.kill('SIGKILL');
      await victim.exited;
      expect(victim.child.signalCode).toBe('SIGKILL');
      // Its batch outlives it, still reserved: no other relay may take it before the lease ends.
      expect((await psql.query(held, [outboxKeys])).rows[0].n).toBe(written.length);
    } finally {
      await redis.kill('SIGCONT');
      for (const instance of frozen) instance.child.kill('SIGCONT');
      if (victim.child.exitCode === null) victim.child.kill('SIGKILL');
    }
    // The others, thawed, may refill from the database by themselves (their heartbeats lapsed),
    // so serving the new versions proves little: the outbox emptied does (the victim is dead, and
    // a relay deletes rows only once its announcement succeeded), and so do the pointers.
    await waitFor(
      async () => (await psql.query('SELECT count(*)::int AS n FROM cache_outbox')).rows[0].n === 0,
      { timeoutMs: DELIVERY_MS, what: "the dead relay's batch relayed by the others" },
    );
    const client = createClient({ url: redis.url });
    await client.connect();
    try {
      const pointers = await Promise.all(
        versions.map((row) => client.get(keys.pointer(`user:${row.id}`))),
      );
      expect(pointers).toEqual(versions.map((row) => String(row.v)));
    } finally {
      await client.close();
    }
    await everyInstanceServesTheDatabase('no stuck key after the relaying instance died');
  });

  it('goes on relaying after a database restart', async () => {
    await warm();
    await database.restart();
    const { rows } = await psql.query(
      `UPDATE users SET name = 'after restart' WHERE id = '11' RETURNING version::int AS v`,
    );
    await everyInstanceServesTheDatabase('every instance to serve a write made after the restart');
    expect(await versionAt(instances[2]?.url ?? '', '11')).toBe(rows[0].v);
  });

  it('sets aside an unannounceable row, counts it, and relays the rows behind it', async () => {
    await warm();
    await psql.query(`INSERT INTO cache_outbox (key, version) VALUES ('not a user', 1)`);
    await psql.query(`UPDATE users SET name = 'behind' WHERE id = '12'`);
    await everyInstanceServesTheDatabase('the row behind the bad one delivered');
    const dead = await psql.query(`SELECT reason FROM cache_outbox_dead WHERE key = 'not a user'`);
    expect(dead.rows).toEqual([{ reason: 'key outside the key scheme' }]);
    const metrics = await Promise.all(
      live().map(async ({ url }) => (await fetch(`${url}/metrics`)).text()),
    );
    const counted = metrics.map((text) =>
      Number(/^cachelab_outbox_set_aside_total (\d+)$/m.exec(text)?.[1] ?? Number.NaN),
    );
    expect(counted.reduce((a, b) => a + b, 0)).toBe(1);
    const stats = await Promise.all(
      live().map(async ({ url }) => (await http.send('GET', `${url}/stats`)).body),
    );
    const setAside = stats.reduce(
      (sum: number, s) => sum + (s as { outbox: { setAside: number } }).outbox.setAside,
      0,
    );
    expect(setAside).toBe(1);
  });
});
