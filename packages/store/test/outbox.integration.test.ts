import { waitFor } from '@cachelab/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  createOutboxRelay,
  createPool,
  createUsersRepository,
  OUTBOX_CHANNEL,
  type OutboxEntry,
  prepareDatabase,
  type UsersRepository,
  WAKE_RELAY_SETTING,
} from '../src/index.ts';
import { databaseBackends, type FreshDatabase } from './fresh-database.ts';

const backends = databaseBackends(inject('postgresUrl'));

const ada = { name: 'Ada', email: 'ada@example.com', age: 36 };

describe.each(backends)('versions and outbox owned by %s', (name, fresh) => {
  let database: FreshDatabase;
  let pool: pg.Pool;
  let users: UsersRepository;
  let outboxAfterSeed: number;

  beforeAll(async () => {
    database = await fresh();
    pool = createPool({ connectionString: database.url, max: 4 });
    await prepareDatabase(pool, { seedUsers: 20 });
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM cache_outbox');
    outboxAfterSeed = rows[0].n;
    users = createUsersRepository({ db: pool });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.cleanup();
  });

  beforeEach(async () => {
    await pool.query('DELETE FROM cache_outbox');
    await pool.query('DELETE FROM cache_outbox_dead');
  });

  async function outbox(): Promise<{ key: string; version: number }[]> {
    const { rows } = await pool.query(
      'SELECT key, version::int AS version FROM cache_outbox ORDER BY seq',
    );
    return rows;
  }

  it('does not announce the seed of an empty table', () => {
    expect(outboxAfterSeed).toBe(0);
  });

  it("refuses to change a user's id, naming what to do instead, and records nothing", async () => {
    const before = await users.get('6');
    await expect(pool.query(`UPDATE users SET id = 'x6' WHERE id = '6'`)).rejects.toMatchObject({
      code: '23001',
      message: expect.stringMatching(/id of a user cannot change \(6 to x6\): insert .* delete/),
    });
    expect(await users.get('6')).toEqual(before);
    expect(await users.get('x6')).toBeNull();
    expect(await outbox()).toEqual([]);
  });

  it('bumps the version of a plain UPDATE that does not mention it, and records it', async () => {
    const before = await users.get('3');
    await pool.query(`UPDATE users SET name = 'x' WHERE id = '3'`);
    const after = await users.get('3');
    expect(after).toMatchObject({ name: 'x', version: (before?.version ?? 0) + 1 });
    expect(await outbox()).toEqual([{ key: 'user:3', version: after?.version }]);
  });

  it('never lets a statement move a version backwards or choose it', async () => {
    await pool.query(`UPDATE users SET version = version + 1 WHERE id = '4'`);
    await pool.query(`UPDATE users SET version = 0, name = 'old' WHERE id = '4'`);
    expect(await users.get('4')).toMatchObject({ name: 'old', version: 3 });
    await pool.query(
      `INSERT INTO users (id, name, email, age, version) VALUES ('new-4', 'n', 'e', 1, 99)`,
    );
    expect(await users.get('new-4')).toMatchObject({ version: 1 });
  });

  it('records every row of a bulk UPDATE, in the same transaction', async () => {
    await pool.query('UPDATE users SET age = age + 1 WHERE id ~ $1', ['^1\\d$']);
    const rows = await outbox();
    expect(rows.map((row) => row.key).sort()).toEqual(
      Array.from({ length: 10 }, (_, i) => `user:1${i}`).sort(),
    );
    await pool.query('BEGIN');
    await pool.query(`UPDATE users SET age = 1 WHERE id = '5'`);
    await pool.query('ROLLBACK');
    expect(await outbox()).toHaveLength(10);
  });

  it('turns a hard DELETE into a tombstone with a new version', async () => {
    await users.put('gone', ada);
    await pool.query(`DELETE FROM users WHERE id = 'gone'`);
    expect(await users.get('gone')).toMatchObject({ deleted: true, version: 2 });
    expect(await outbox()).toEqual([
      { key: 'user:gone', version: 1 },
      { key: 'user:gone', version: 2 },
    ]);
    const revived = await users.put('gone', ada);
    expect(revived).toMatchObject({ created: true, user: { version: 3 } });
  });

  it('returns the version the trigger gave from every repository write', async () => {
    const put = await users.put('repo', ada);
    const replaced = await users.put('repo', { ...ada, age: 40 });
    const deleted = await users.delete('repo');
    const created = await users.create(ada);
    expect([put.user.version, replaced.user.version, deleted?.version]).toEqual([1, 2, 3]);
    expect(created.version).toBe(1);
    expect(await outbox()).toEqual([
      { key: 'user:repo', version: 1 },
      { key: 'user:repo', version: 2 },
      { key: 'user:repo', version: 3 },
      { key: `user:${created.id}`, version: 1 },
    ]);
  });

  it('applies to a database created before the outbox existed, keeping its versions', async () => {
    await pool.query('DROP TRIGGER users_version ON users');
    await pool.query('DROP TRIGGER users_outbox ON users');
    await pool.query('DROP TABLE cache_outbox');
    await pool.query(`UPDATE users SET version = 7 WHERE id = '6'`);
    await Promise.all([1, 2, 3].map(() => prepareDatabase(pool, { seedUsers: 20 })));
    await pool.query(`UPDATE users SET age = 2 WHERE id = '6'`);
    expect(await users.get('6')).toMatchObject({ version: 8 });
    expect(await outbox()).toEqual([{ key: 'user:6', version: 8 }]);
  });

  it('relays in batches, deletes only what was announced, and keeps the rest on failure', async () => {
    await pool.query('UPDATE users SET age = age + 1 WHERE id IN ($1, $2, $3)', ['7', '8', '9']);
    const announced: OutboxEntry[] = [];
    let failing = true;
    const relay = createOutboxRelay({
      db: pool,
      batchSize: 2,
      pollIntervalMs: 20,
      announce: async (entries) => {
        if (failing) throw new Error('redis is down');
        announced.push(...entries);
      },
    });
    try {
      await waitFor(() => relay.stats().failures >= 2, { what: 'failed attempts' });
      expect(await outbox()).toHaveLength(3);
      failing = false;
      await waitFor(async () => (await outbox()).length === 0, { what: 'the outbox drained' });
      expect(announced.map((entry) => entry.key).sort()).toEqual(['user:7', 'user:8', 'user:9']);
      expect(relay.stats()).toMatchObject({ relayed: 3, batches: 2 });
    } finally {
      await relay.close();
    }
  });

  it('sets aside a row it cannot announce, without blocking the rows behind it', async () => {
    await pool.query(
      `INSERT INTO cache_outbox (key, version) VALUES ('other:1', 1), ('user:1', 0)`,
    );
    await pool.query(`UPDATE users SET age = 3 WHERE id = '1'`);
    const announced: OutboxEntry[] = [];
    const setAside: string[] = [];
    const relay = createOutboxRelay({
      db: pool,
      acceptsKey: (key) => key.startsWith('user:'),
      announce: async (entries) => void announced.push(...entries),
      onSetAside: (row) => setAside.push(`${row.key}@${row.version}: ${row.reason}`),
    });
    try {
      await relay.drain();
      expect(announced.map((entry) => entry.key)).toEqual(['user:1']);
      expect(setAside).toEqual([
        'other:1@1: key outside the key scheme',
        'user:1@0: version is not a positive safe integer',
      ]);
      expect(relay.stats().setAside).toBe(2);
      const { rows } = await pool.query('SELECT key FROM cache_outbox_dead ORDER BY seq');
      expect(rows.map((row) => row.key)).toEqual(['other:1', 'user:1']);
      expect(await outbox()).toEqual([]);
    } finally {
      await relay.close();
    }
  });

  it('hands the batch of a relay that died mid-batch to another once its lease runs out', async () => {
    await pool.query(`UPDATE users SET age = age + 1 WHERE id IN ('13', '14')`);
    let claimedAt = 0;
    let claimed = () => {};
    const claimedOnce = new Promise<void>((resolve) => {
      claimed = () => {
        claimedAt = Date.now();
        resolve();
      };
    });
    let release = () => {};
    const stuck = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The first relay claims the batch and never comes back (a process frozen or killed).
    const dying = createOutboxRelay({
      db: pool,
      leaseMs: 500,
      pollIntervalMs: 60_000,
      announce: async () => {
        claimed();
        await stuck;
        throw new Error('died');
      },
    });
    const announced: OutboxEntry[] = [];
    await claimedOnce;
    const heir = createOutboxRelay({
      db: pool,
      pollIntervalMs: 50,
      announce: async (entries) => void announced.push(...entries),
    });
    try {
      await waitFor(() => announced.length === 2, {
        timeoutMs: 5000,
        what: 'the batch taken over',
      });
      // Not before the 500 ms lease of the claim ran out (measured from the announce the claim
      // led to, a little after the claim itself: hence 400, not 500). A slow machine only delays it.
      expect(Date.now() - claimedAt).toBeGreaterThanOrEqual(400);
      // Deleted once announced: just after the announce call returns.
      await waitFor(async () => (await outbox()).length === 0, {
        timeoutMs: 5000,
        what: 'the announced batch deleted',
      });
    } finally {
      release();
      await Promise.all([dying.close(), heir.close()]);
    }
  });

  it('lets two relays share the outbox without announcing a row twice', async () => {
    await pool.query('UPDATE users SET age = age + 1');
    const seen: string[] = [];
    const options = {
      db: pool,
      batchSize: 3,
      announce: async (entries: OutboxEntry[]) => void seen.push(...entries.map((e) => e.key)),
    };
    const relays = [createOutboxRelay(options), createOutboxRelay(options)];
    try {
      await Promise.all(relays.map((relay) => relay.drain()));
      await waitFor(async () => (await outbox()).length === 0, { what: 'the outbox drained' });
      expect(seen.length).toBe(new Set(seen).size);
      expect(seen.length).toBeGreaterThanOrEqual(20);
    } finally {
      await Promise.all(relays.map((relay) => relay.close()));
    }
  });

  it.runIf(name === 'PostgreSQL')('wakes on NOTIFY, well before the next poll', async () => {
    const announced: OutboxEntry[] = [];
    const relay = createOutboxRelay({
      db: pool,
      pollIntervalMs: 60_000,
      listenUrl: database.url,
      announce: async (entries) => void announced.push(...entries),
    });
    try {
      await waitFor(async () => (await outbox()).length === 0, { what: 'first run' });
      // LISTEN is set up on a connection of its own, asynchronously (and the run it starts finds
      // what committed before): write until a notification has arrived.
      await waitFor(
        async () => {
          await pool.query(`UPDATE users SET age = age + 1 WHERE id = '2'`);
          return relay.stats().notifications > 0;
        },
        { timeoutMs: 5000, intervalMs: 100, what: 'a notification' },
      );
      announced.length = 0;
      const { rows } = await pool.query(
        `UPDATE users SET age = age + 1 WHERE id = '2' RETURNING version`,
      );
      const version = Number(rows[0]?.version);
      // The next poll is a minute away: only the notification can bring this one in time.
      await waitFor(
        () => announced.some((entry) => entry.key === 'user:2' && entry.version === version),
        { timeoutMs: 5000, what: 'the notified row relayed' },
      );
    } finally {
      await relay.close();
    }
  });

  it.runIf(name === 'PostgreSQL')(
    'does not NOTIFY for the writes of a repository that announces them, records them, and leaves the session as it was',
    async () => {
      const listener = new pg.Client({ connectionString: database.url });
      const payloads: string[] = [];
      listener.on('notification', (message) => payloads.push(message.payload ?? ''));
      await listener.connect();
      // One connection, so that the session the writes ran in is the one checked afterwards.
      const one = createPool({ connectionString: database.url, max: 1 });
      const quiet = createUsersRepository({ db: one, wakeRelays: false });
      try {
        await listener.query(`LISTEN ${OUTBOX_CHANNEL}`);
        const put = await quiet.put('4', ada);
        const matched = await quiet.put('4', ada, { ifMatch: [put.user.version] });
        const created = await quiet.create(ada);
        await quiet.delete(created.id, { ifMatch: '*' });
        await quiet.delete('4');
        // Notifications arrive in commit order: once the marker is in, the writes' would be too.
        await pool.query(`SELECT pg_notify('${OUTBOX_CHANNEL}', 'marker')`);
        await waitFor(() => payloads.includes('marker'), { what: 'the marker notification' });
        expect(payloads).toEqual(['marker']);
        expect(await outbox()).toEqual([
          { key: 'user:4', version: put.user.version },
          { key: 'user:4', version: matched.user.version },
          { key: `user:${created.id}`, version: 1 },
          { key: `user:${created.id}`, version: 2 },
          { key: 'user:4', version: matched.user.version + 1 },
        ]);
        // The setting lived for each write's transaction only: a pooler in transaction mode
        // would hand this session to another client.
        const { rows } = await one.query(
          `SELECT current_setting('${WAKE_RELAY_SETTING}', true) AS wake`,
        );
        expect(rows[0]?.wake ?? '').toBe('');

        // The same write by an ordinary repository does wake the relays.
        payloads.length = 0;
        await users.put('4', ada);
        await waitFor(() => payloads.length > 0, { what: 'the notification of a plain write' });
        expect(payloads).toEqual(['']);
      } finally {
        await one.end();
        await listener.end();
      }
    },
  );
});
