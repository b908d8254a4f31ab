import { createPool, prepareDatabase } from '@cachelab/store';
import { startPostgresServer } from '@cachelab/testkit';
import pg from 'pg';
import type { BenchInstance, BenchServices } from '../services.ts';
import { startInstances } from '../services.ts';
import type { BenchSettings } from '../settings.ts';
import { type Percentiles, percentiles, type Spread, spread } from '../stats.ts';

/** Staleness of writes made straight in the database, one database and relay setting. */
export interface BypassRow {
  name: string;
  database: 'embedded PGlite' | 'PostgreSQL';
  /** The relay woke on NOTIFY (else it only polled, every `pollMs`). */
  listen: boolean;
  pollMs: number;
  /** From the UPDATE's commit returning to the last instance serving the new version. */
  fromCommitMs: Percentiles;
  /** Writes some instance did not serve within 10 s. */
  lost: number;
}

/** One UPDATE of many rows, until every instance served every row. */
export interface BulkRow {
  name: string;
  rows: number;
  /** How long the UPDATE itself took (its triggers fill the outbox). */
  statementMs: number;
  /** From the commit returning to the outbox empty (every row announced). */
  relayedMs: number;
  /** From the commit returning to every instance serving the new version of every sampled row. */
  servedMs: number;
  /** Rows some instance still served old in the full sweep after `servedMs` (must be 0). */
  staleInSweep: number;
}

/** Writes through the instances with the outbox and without. */
export interface WriteCostRow {
  name: string;
  mode: string;
  writesPerSecond: Spread;
  p50Ms: Spread;
  p99Ms: Spread;
  errors: number;
  /** What the failed writes answered (`HTTP 503`, `TimeoutError`), counted. */
  errorKinds: Record<string, number>;
}

/** The outbox section's results. */
export interface OutboxResults {
  instances: number;
  batchSize: number;
  /** `PostgreSQL 15.x` or why the PostgreSQL rows are missing. */
  postgres: string;
  bypass: BypassRow[];
  bulk: BulkRow[];
  writeCost: WriteCostRow[];
  /** Per database: 1 − writes/s with the outbox ÷ without (medians). */
  writeCostShare: { database: string; fewerWritesPerSecond: number }[];
}

/** Instance settings of this section: long TTLs, so only an announcement makes an L1 drop a row. */
function instanceEnv(namespace: string, i: number, extra: Record<string, string>) {
  return {
    INSTANCE_NAME: `ob-${i}`,
    CACHE_NAMESPACE: namespace,
    CACHE_TTL_MS: '600000',
    L1_TTL_MS: '600000',
    L1_MAX_ENTRIES: '50000',
    DB_LATENCY_MS: '0',
    SEED_USERS: '0',
    REDIS_TIMEOUT_MS: '2000',
    LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function servedVersion(url: string, id: string): Promise<number> {
  try {
    const response = await fetch(`${url}/users/${id}`, { signal: AbortSignal.timeout(5000) });
    const body = (await response.json()) as { version?: number };
    return response.status === 200 ? (body.version ?? -1) : -response.status;
  } catch {
    return -1;
  }
}

/** Runs `task` over `items` with `concurrency` at a time. */
async function eachLimited<T>(items: T[], concurrency: number, task: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await task(items[next++] as T);
    }),
  );
}

/** Reads every id on every instance (twice: the second read is an L1 hit). */
async function warm(instances: BenchInstance[], ids: string[]): Promise<void> {
  const pairs = instances.flatMap((instance) => ids.map((id) => [instance.url, id] as const));
  for (let round = 0; round < 2; round++) {
    await eachLimited(pairs, 32, async ([url, id]) => void (await servedVersion(url, id)));
  }
}

/**
 * `writes` single-row UPDATEs straight in the database (no instance involved), one at a time;
 * after each, every instance is read in a tight loop until it serves the new version.
 */
async function measureBypass(
  instances: BenchInstance[],
  db: pg.Pool,
  writes: number,
): Promise<{ fromCommitMs: Percentiles; lost: number }> {
  const ids = Array.from({ length: 50 }, (_, i) => String(i + 1));
  await warm(instances, ids);
  const delays: number[] = [];
  let lost = 0;
  for (let i = 0; i < writes; i++) {
    const id = ids[i % ids.length] as string;
    const { rows } = await db.query<{ v: number }>(
      'UPDATE users SET name = $1 WHERE id = $2 RETURNING version::int AS v',
      [`bypass-${i}`, id],
    );
    const committed = performance.now();
    const version = rows[0]?.v ?? Number.NaN;
    const seenAt = await Promise.all(
      instances.map(async ({ url }) => {
        while (performance.now() - committed < 10_000) {
          if ((await servedVersion(url, id)) >= version) return performance.now();
        }
        return undefined;
      }),
    );
    if (seenAt.some((at) => at === undefined)) {
      lost++;
      continue;
    }
    delays.push(Math.max(...(seenAt as number[])) - committed);
    // The next key's readers are L1 hits again (they were warmed): no refill is measured.
  }
  return { fromCommitMs: percentiles(delays), lost };
}

/** One UPDATE of `rows` users; the outbox drained and every instance serving them. */
async function measureBulk(
  instances: BenchInstance[],
  db: pg.Pool,
  rows: number,
): Promise<Omit<BulkRow, 'name'>> {
  const ids = Array.from({ length: rows }, (_, i) => String(i + 1));
  await warm(instances, ids);
  const t0 = performance.now();
  const updated = await db.query<{ id: string; v: number }>(
    'UPDATE users SET age = age + 1 WHERE id = ANY($1) RETURNING id, version::int AS v',
    [ids],
  );
  const committed = performance.now();
  const versions = new Map(updated.rows.map((row) => [row.id, row.v]));
  // A sample spread over the ids (the last ones included): read on every instance each round.
  const step = Math.max(1, Math.floor(rows / 40));
  const sample = ids.filter((_, i) => i % step === 0 || i >= rows - 10);
  let relayedMs = Number.NaN;
  let servedMs = Number.NaN;
  const deadline = committed + 120_000;
  while (performance.now() < deadline) {
    if (Number.isNaN(relayedMs)) {
      const { rows: left } = await db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM cache_outbox',
      );
      if (left[0]?.n === 0) relayedMs = performance.now() - committed;
    }
    const fresh = await Promise.all(
      instances.flatMap(({ url }) =>
        sample.map(async (id) => (await servedVersion(url, id)) >= (versions.get(id) ?? 0)),
      ),
    );
    if (fresh.every(Boolean) && !Number.isNaN(relayedMs)) {
      servedMs = performance.now() - committed;
      break;
    }
  }
  let staleInSweep = 0;
  const pairs = instances.flatMap((instance) => ids.map((id) => [instance.url, id] as const));
  await eachLimited(pairs, 32, async ([url, id]) => {
    if ((await servedVersion(url, id)) < (versions.get(id) ?? 0)) staleInSweep++;
  });
  return { rows, statementMs: committed - t0, relayedMs, servedMs, staleInSweep };
}

/** `seconds` of PUTs through the instances by `connections` concurrent writers. */
async function writeLoad(
  instances: BenchInstance[],
  seconds: number,
  connections: number,
  keys: number,
): Promise<{
  writesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  errorKinds: Record<string, number>;
}> {
  const latencies: number[] = [];
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const failed = (kind: string) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const url = instances[(c + i) % instances.length]?.url;
        const id = String(1 + ((c * 7919 + i * 104_729) % keys));
        const t = performance.now();
        try {
          const response = await fetch(`${url}/users/${id}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ name: `w${c}-${i}`, email: 'w@example.com', age: 30 }),
            signal: AbortSignal.timeout(10_000),
          });
          const text = await response.text();
          if (response.status === 200) latencies.push(performance.now() - t);
          else failed(`HTTP ${response.status} ${text.slice(0, 80)}`);
        } catch (error) {
          failed((error as Error).name);
        }
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  const p = percentiles(latencies);
  return {
    writesPerSecond: latencies.length / elapsed,
    p50Ms: p.p50,
    p99Ms: p.p99,
    errors,
    errorKinds,
  };
}

const OUTBOX_TRIGGERS = ['users_outbox', 'users_outbox_notify'];

/** Turns the outbox's triggers off or on (the version trigger stays): DDL, between runs only. */
async function outboxTriggers(db: pg.Pool, on: boolean): Promise<void> {
  for (const name of OUTBOX_TRIGGERS) {
    await db.query(`ALTER TABLE users ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${name}`);
  }
}

/**
 * Rounds alternating "outbox" (triggers on, relays running) and "no outbox" (its triggers
 * disabled: every write skips the outbox row, and the relays find nothing to announce).
 */
async function measureWriteCost(
  instances: BenchInstance[],
  db: pg.Pool,
  s: BenchSettings['outbox'],
  name: string,
): Promise<WriteCostRow[]> {
  const runs: Record<string, Awaited<ReturnType<typeof writeLoad>>[]> = {
    outbox: [],
    'no outbox': [],
  };
  try {
    // Warm-up, not counted.
    await writeLoad(instances, Math.min(1, s.writeSeconds), s.writeConnections, 1000);
    for (let round = 0; round < s.writeRounds; round++) {
      for (const mode of round % 2 === 0 ? ['outbox', 'no outbox'] : ['no outbox', 'outbox']) {
        await outboxTriggers(db, mode === 'outbox');
        runs[mode]?.push(await writeLoad(instances, s.writeSeconds, s.writeConnections, 1000));
      }
    }
  } finally {
    await outboxTriggers(db, true);
  }
  return Object.entries(runs).map(([mode, list]) => ({
    name,
    mode,
    writesPerSecond: spread(list.map((r) => r.writesPerSecond)),
    p50Ms: spread(list.map((r) => r.p50Ms)),
    p99Ms: spread(list.map((r) => r.p99Ms)),
    errors: list.reduce((sum, r) => sum + r.errors, 0),
    errorKinds: list.reduce<Record<string, number>>((all, r) => {
      for (const [kind, count] of Object.entries(r.errorKinds))
        all[kind] = (all[kind] ?? 0) + count;
      return all;
    }, {}),
  }));
}

/** A pool for the bench's own statements (generous timeouts: a bulk UPDATE takes seconds). */
function poolOf(url: string): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 2, statement_timeout: 300_000 });
  pool.on('error', () => {});
  return pool;
}

/**
 * Writes that bypass the instances, relayed from the database's outbox: staleness from commit
 * to every instance serving the write (embedded PGlite polling; PostgreSQL polling, and woken by
 * NOTIFY), a bulk UPDATE served everywhere, and what the outbox costs a write through an instance.
 */
export async function runOutbox(
  settings: BenchSettings,
  services: BenchServices,
  log: (line: string) => void,
): Promise<OutboxResults> {
  const s = settings.outbox;
  const pollMs = 250;
  const results: OutboxResults = {
    instances: s.instances,
    batchSize: s.batchSize,
    postgres: '',
    bypass: [],
    bulk: [],
    writeCost: [],
    writeCostShare: [],
  };
  const base = { OUTBOX_POLL_MS: String(pollMs), OUTBOX_BATCH_SIZE: String(s.batchSize) };
  const cluster = async (
    databaseUrl: string,
    namespace: string,
    extra: Record<string, string>,
  ): Promise<BenchInstance[]> =>
    startInstances(
      { ...services, databaseUrl },
      Array.from({ length: s.instances }, (_, i) =>
        instanceEnv(namespace, i, { ...base, ...extra }),
      ),
    );
  const stopAll = (instances: BenchInstance[]) =>
    Promise.all(instances.map((instance) => instance.stop()));

  // The embedded database (the default): its server does not deliver NOTIFY, the relay polls.
  const embedded = poolOf(services.databaseUrl);
  try {
    log('  embedded PGlite, polling');
    const instances = await cluster(services.databaseUrl, 'bench-outbox-embedded', {});
    try {
      results.bypass.push({
        name: 'embedded PGlite, polling',
        database: 'embedded PGlite',
        listen: false,
        pollMs,
        ...(await measureBypass(instances, embedded, s.writes)),
      });
      log('  embedded PGlite, bulk update');
      results.bulk.push({
        name: 'embedded PGlite, polling',
        ...(await measureBulk(instances, embedded, Math.min(s.bulkRows, settings.seedUsers))),
      });
      log('  embedded PGlite, write cost');
      results.writeCost.push(
        ...(await measureWriteCost(instances, embedded, s, 'embedded PGlite')),
      );
    } finally {
      await stopAll(instances);
    }
  } finally {
    await embedded.end();
  }

  let postgres: Awaited<ReturnType<typeof startPostgresServer>>;
  try {
    postgres = await startPostgresServer();
  } catch (error) {
    results.postgres = `not measured: ${(error as Error).message}`;
    return withShares(results);
  }
  const db = poolOf(postgres.url);
  try {
    const version = await db.query<{ server_version: string }>('SHOW server_version');
    results.postgres = `PostgreSQL ${version.rows[0]?.server_version ?? '?'}`;
    const setup = createPool({ connectionString: postgres.url, max: 1, queryTimeoutMs: 300_000 });
    await prepareDatabase(setup, { seedUsers: s.bulkRows });
    await setup.end();
    for (const listen of [false, true]) {
      const name = `PostgreSQL, ${listen ? 'NOTIFY' : 'polling'}`;
      log(`  ${name}`);
      const instances = await cluster(postgres.url, `bench-outbox-pg-${listen ? 'n' : 'p'}`, {
        OUTBOX_LISTEN: listen ? '1' : '0',
      });
      try {
        results.bypass.push({
          name,
          database: 'PostgreSQL',
          listen,
          pollMs,
          ...(await measureBypass(instances, db, s.writes)),
        });
        if (listen) {
          log(`  ${name}, bulk update`);
          results.bulk.push({ name, ...(await measureBulk(instances, db, s.bulkRows)) });
          log(`  ${name}, write cost`);
          results.writeCost.push(...(await measureWriteCost(instances, db, s, 'PostgreSQL')));
        }
      } finally {
        await stopAll(instances);
      }
    }
  } finally {
    await db.end();
    await postgres.stop();
  }
  return withShares(results);
}

function withShares(results: OutboxResults): OutboxResults {
  for (const database of new Set(results.writeCost.map((row) => row.name))) {
    const of = (mode: string) =>
      results.writeCost.find((row) => row.name === database && row.mode === mode)?.writesPerSecond
        .median ?? Number.NaN;
    results.writeCostShare.push({
      database,
      fewerWritesPerSecond: 1 - of('outbox') / of('no outbox'),
    });
  }
  return results;
}
