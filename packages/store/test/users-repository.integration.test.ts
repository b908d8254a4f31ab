import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createPool,
  createUsersRepository,
  prepareDatabase,
  type QueryEvent,
  StoreError,
  type UsersRepository,
} from '../src/index.ts';
import { databaseBackends, type FreshDatabase, freshEmbedded } from './fresh-database.ts';

const backends = databaseBackends(inject('postgresUrl'));

const ada = { name: 'Ada', email: 'ada@example.com', age: 36 };

describe.each(backends)('users repository on %s', (_name, fresh) => {
  let database: FreshDatabase;
  let pool: pg.Pool;
  let users: UsersRepository;

  beforeAll(async () => {
    database = await fresh();
    pool = createPool({ connectionString: database.url, max: 4 });
    await prepareDatabase(pool, { seedUsers: 25 });
    users = createUsersRepository({ db: pool });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.cleanup();
  });

  it('seeds users 1…N once, with version 1', async () => {
    await prepareDatabase(pool, { seedUsers: 50 });
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM users');
    expect(rows[0].n).toBe(25);
    const first = await users.get('1');
    expect(first).toMatchObject({ id: '1', version: 1, deleted: false });
    expect(await users.get('25')).not.toBeNull();
    expect(await users.get('26')).toBeNull();
  });

  it('survives several instances preparing the schema at once', async () => {
    await Promise.all([1, 2, 3].map(() => prepareDatabase(pool, { seedUsers: 25 })));
    const { rows } = await pool.query('SELECT count(*)::int AS n FROM users');
    expect(rows[0].n).toBe(25);
  });

  it('loses no update: of concurrent writes conditional on one version, exactly one commits', async () => {
    const { user } = await users.put('if-1', ada);
    const writes = [30, 31, 32, 33].map((age) =>
      users.put('if-1', { ...ada, age }, { ifMatch: [user.version] }).then(
        (result) => result.user,
        (error: StoreError) => error.code,
      ),
    );
    const outcomes = await Promise.all(writes);
    const won = outcomes.filter((o) => typeof o !== 'string');
    expect(won).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'E_DB_PRECONDITION_FAILED')).toHaveLength(3);
    expect(await users.get('if-1')).toMatchObject({ version: user.version + 1, age: won[0]?.age });
  });

  it('checks If-Match inside the write: another version, an absent user or a tombstone fails', async () => {
    const { user } = await users.put('if-2', ada);
    const failed = (write: Promise<unknown>) =>
      write.then(
        () => 'written',
        (error: StoreError) => error.code,
      );
    expect(await failed(users.put('if-2', ada, { ifMatch: [user.version + 5] }))).toBe(
      'E_DB_PRECONDITION_FAILED',
    );
    expect(await failed(users.put('if-absent', ada, { ifMatch: '*' }))).toBe(
      'E_DB_PRECONDITION_FAILED',
    );
    expect(await users.get('if-absent')).toBeNull();
    expect(await failed(users.delete('if-2', { ifMatch: [user.version + 5] }))).toBe(
      'E_DB_PRECONDITION_FAILED',
    );
    expect((await users.put('if-2', ada, { ifMatch: '*' })).user.version).toBe(user.version + 1);
    const tombstone = await users.delete('if-2', { ifMatch: [1, user.version + 1] });
    expect(tombstone).toMatchObject({ deleted: true, version: user.version + 2 });
    expect(await failed(users.put('if-2', ada, { ifMatch: [user.version + 2] }))).toBe(
      'E_DB_PRECONDITION_FAILED',
    );
  });

  it('creates with put, then replaces fully and bumps the version', async () => {
    const first = await users.put('put-1', ada);
    expect(first.created).toBe(true);
    expect(first.user).toMatchObject({ id: 'put-1', ...ada, version: 1, deleted: false });
    const second = await users.put('put-1', { name: 'Ada L.', email: 'al@example.com', age: 37 });
    expect(second.created).toBe(false);
    expect(second.user).toMatchObject({ name: 'Ada L.', email: 'al@example.com', age: 37 });
    expect(second.user.version).toBe(2);
    expect(await users.get('put-1')).toEqual(second.user);
  });

  it('creates users under fresh nanoid ids', async () => {
    const [a, b] = await Promise.all([users.create(ada), users.create(ada)]);
    expect(a?.id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(a?.id).not.toBe(b?.id);
    expect(a?.version).toBe(1);
  });

  it('keeps versions growing across delete and re-create', async () => {
    const created = await users.put('cycle', ada);
    const tombstone = await users.delete('cycle');
    expect(tombstone).toMatchObject({ deleted: true, version: created.user.version + 1 });
    expect(await users.get('cycle')).toMatchObject({ deleted: true, version: 2 });
    expect(await users.delete('cycle')).toBeNull();
    const revived = await users.put('cycle', ada);
    expect(revived.created).toBe(true);
    expect(revived.user).toMatchObject({ deleted: false, version: 3 });
  });

  it('returns null when deleting an id that never existed', async () => {
    expect(await users.delete('never-there')).toBeNull();
  });

  it('serialises concurrent writes to one id into distinct versions', async () => {
    await users.put('race', ada);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => users.put('race', { ...ada, age: i })),
    );
    const versions = results.map((r) => r.user.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  });

  it('counts the queries it runs, failed ones included', async () => {
    const before = users.stats();
    await users.get('1');
    await users.ping();
    expect(users.stats().queries).toBe(before.queries + 2);
  });
});

describe('simulated latency and failures', () => {
  let database: FreshDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await freshEmbedded();
    pool = createPool({ connectionString: database.url, max: 2, connectTimeoutMs: 500 });
    await prepareDatabase(pool, { seedUsers: 1 });
  });

  afterAll(async () => {
    await pool?.end();
    await database?.cleanup();
  });

  it('adds the configured latency to every query', async () => {
    const slow = createUsersRepository({ db: pool, latencyMs: 40 });
    const started = performance.now();
    await slow.get('1');
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
  });

  it('tells onQuery about every query: its operation, duration (latency included) and outcome', async () => {
    const events: QueryEvent[] = [];
    const observed = createUsersRepository({
      db: pool,
      latencyMs: 20,
      onQuery: (event) => {
        events.push(event);
        throw new Error('a broken observer');
      },
    });
    await observed.get('1');
    await observed.ping();
    await expect(observed.put('x', { name: '', email: 'e', age: Number.NaN })).rejects.toThrow();
    expect(events.map(({ operation, ok }) => [operation, ok])).toEqual([
      ['get', true],
      ['ping', true],
      ['put', false],
    ]);
    const simulated = events.filter(({ operation }) => operation !== 'ping');
    expect(simulated.every((event) => event.durationMs >= 19)).toBe(true);
  });

  it('answers ping without the simulated latency, so readiness checks pass however slow it is set', async () => {
    // A minute of latency: a ping that waited for it would outlast the test's timeout.
    const slow = createUsersRepository({ db: pool, latencyMs: 60_000 });
    await slow.ping();
    expect(slow.stats().queries).toBe(1);
  });

  it('rejects a negative or fractional latency, naming the option', () => {
    expect(() => createUsersRepository({ db: pool, latencyMs: -1 })).toThrow(/`latencyMs`/);
    expect(() => createUsersRepository({ db: pool, latencyMs: 1.5 })).toThrow(/`latencyMs`/);
  });

  it('reports an unreachable database as E_DB_UNAVAILABLE and counts the error', async () => {
    const dead = createPool({
      connectionString: 'postgres://postgres@127.0.0.1:1/x',
      connectTimeoutMs: 300,
    });
    const repo = createUsersRepository({ db: dead });
    const error = await repo.get('1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('E_DB_UNAVAILABLE');
    expect(repo.stats()).toEqual({ queries: 1, errors: 1, failedFast: 0 });
    await dead.end();
  });

  it('fails fast while the database is known to be down, and probes one query at a time', async () => {
    const dead = createPool({
      connectionString: 'postgres://postgres@127.0.0.1:1/x',
      connectTimeoutMs: 300,
    });
    const live = pool;
    let target = dead;
    const repo = createUsersRepository({
      db: { query: (text, params) => target.query(text, params) },
      retryIntervalMs: 200,
    });
    await expect(repo.get('1')).rejects.toMatchObject({ code: 'E_DB_UNAVAILABLE' });
    // Within the interval: refused without trying.
    const started = performance.now();
    await expect(repo.get('1')).rejects.toMatchObject({ code: 'E_DB_UNAVAILABLE' });
    expect(performance.now() - started).toBeLessThan(100);
    expect(repo.stats()).toMatchObject({ queries: 1, failedFast: 1 });
    // Back: after the interval, one probe goes through and reopens the way for all.
    target = live;
    await expect
      .poll(
        () =>
          repo.get('1').then(
            () => true,
            () => false,
          ),
        { timeout: 2000 },
      )
      .toBe(true);
    expect(await Promise.all([repo.get('1'), repo.get('2')])).toHaveLength(2);
    await dead.end();
  });
});
