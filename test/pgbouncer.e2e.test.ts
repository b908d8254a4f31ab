import {
  type InstanceProcess,
  pgbouncerBinary,
  postgresBinaries,
  startInstance,
  startPgBouncer,
  startPostgresServer,
  startRedisServer,
  type TestPgBouncer,
  type TestPostgresServer,
  type TestRedisServer,
  waitFor,
} from '@cachelab/testkit';
import { nanoid } from 'nanoid';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient, versionServed } from './support/index.ts';

/**
 * Instances behind a real PgBouncer in transaction mode, where one server connection serves
 * many clients, one transaction each. Whatever a session SETs stays on the server connection and
 * reaches the next client, and a LISTEN through the pooler never hears anything: the instances'
 * writes must keep `cachelab.wake_relay` to their own transaction, and the relays LISTEN on a
 * direct connection (`OUTBOX_LISTEN_URL`). The relays poll once a minute here, so only a
 * notification can deliver a psql write within the deadline.
 */
const INSTANCES = 2;
const USERS = 20;
const DELIVERY_MS = 8000;

let postgres: TestPostgresServer;
let bouncer: TestPgBouncer;
let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
const http = createHttpClient({ maxSockets: 8, timeoutMs: 10_000 });
const versionAt = (url: string, id: string) => versionServed(http, url, id);

async function notifications(instance: InstanceProcess): Promise<number> {
  const answer = await http.send('GET', `${instance.url}/stats`);
  return (answer.body as { outbox: { notifications: number } | null }).outbox?.notifications ?? 0;
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

/** Runs `sql` on a connection of its own, opened for it (a new client of `url`). */
async function once(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describe.runIf(postgresBinaries() && pgbouncerBinary())(
  'behind PgBouncer in transaction mode',
  () => {
    beforeAll(async () => {
      [postgres, redis] = await Promise.all([startPostgresServer(), startRedisServer()]);
      // Two server connections for everything: the instances' pools and every new client share them.
      bouncer = await startPgBouncer(postgres.url, { poolMode: 'transaction', poolSize: 2 });
      const env = {
        REDIS_URL: redis.url,
        DATABASE_URL: bouncer.url,
        OUTBOX_LISTEN_URL: postgres.url,
        DB_LATENCY_MS: '0',
        SEED_USERS: String(USERS),
        CACHE_NAMESPACE: `bnc${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`,
        CACHE_TTL_MS: '600000',
        L1_TTL_MS: '600000',
        REDIS_TIMEOUT_MS: '2000',
        OUTBOX_POLL_MS: '60000',
      };
      instances = await Promise.all(
        Array.from({ length: INSTANCES }, (_, i) =>
          startInstance({ ...env, INSTANCE_NAME: `bnc-${i}` }),
        ),
      );
    }, 90_000);

    afterAll(async () => {
      for (const instance of instances) {
        if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
      }
      http.close();
      await bouncer?.stop();
      await redis?.stop();
      await postgres?.stop();
    });

    it("keeps an instance's wake_relay setting to its write's transaction: no other client of the pooler sees it", async () => {
      const listener = new pg.Client({ connectionString: postgres.url });
      const payloads: string[] = [];
      listener.on('notification', (message) => payloads.push(message.payload ?? ''));
      await listener.connect();
      try {
        await listener.query('LISTEN cachelab_outbox');
        for (let i = 0; i < 10; i++) {
          const [instance] = instances.slice(i % INSTANCES);
          const put = await http.send('PUT', `${instance?.url}/users/${1 + (i % 4)}`, {
            name: `write ${i}`,
            email: 'pooled@example.com',
            age: 30 + i,
          });
          expect(put.status).toBe(200);
        }
        // The instances' writes did not wake the relays: notifications come in commit order, so
        // once the marker is in, any of theirs would be too.
        await once(bouncer.url, `SELECT pg_notify('cachelab_outbox', 'marker')`);
        await waitFor(() => payloads.includes('marker'), { what: 'the marker notification' });
        expect(payloads).toEqual(['marker']);
      } finally {
        await listener.end();
      }
      // New clients of the pooler get the server connections the instances wrote on.
      const seen: unknown[] = [];
      for (let i = 0; i < 5; i++) {
        const { rows } = await once(
          bouncer.url,
          `SELECT current_setting('cachelab.wake_relay', true) AS wake`,
        );
        seen.push(rows[0]?.wake);
      }
      expect(seen.filter((wake) => wake === 'off')).toEqual([]);
    });

    it('wakes every relay through its direct LISTEN for a write straight to PostgreSQL or through the pooler', async () => {
      // Each relay LISTENs once its instance is ready: write until every relay has heard one.
      await waitFor(
        async () => {
          await once(postgres.url, `UPDATE users SET age = age + 1 WHERE id = '${USERS}'`);
          return (await Promise.all(instances.map(notifications))).every((n) => n > 0);
        },
        { timeoutMs: DELIVERY_MS, intervalMs: 100, what: 'every relay listening' },
      );
      for (const [id, url, what] of [
        ['7', postgres.url, 'straight to PostgreSQL'],
        ['8', bouncer.url, 'through the pooler'],
      ] as const) {
        await Promise.all(instances.map(({ url: at }) => versionAt(at, id)));
        await Promise.all(instances.map(({ url: at }) => versionAt(at, id)));
        const { rows } = await once(
          url,
          `UPDATE users SET name = 'from psql' WHERE id = '${id}' RETURNING version::int AS v`,
        );
        const committed = performance.now();
        await everyInstanceServes(
          id,
          rows[0].v as number,
          `every instance to serve a write ${what}`,
        );
        console.log(
          `a write ${what}: served by every instance after ${Math.round(performance.now() - committed)} ms`,
        );
      }
    });
  },
);
