import type { Client } from 'pg';
import { pg } from './pg.ts';
import type { Queryable } from './queryable.ts';
import { OUTBOX_CHANNEL } from './schema.ts';

/** One outbox row: a version the database committed for a cache key. */
export interface OutboxEntry {
  key: string;
  version: number;
}

/** Options of {@link createOutboxRelay}. */
export interface OutboxRelayOptions {
  /** Where the outbox lives: a `pg` Pool from {@link createPool}. */
  db: Queryable;
  /**
   * Announces a batch to the caches (e.g. `cache.announceMany`). Rejecting leaves the whole batch
   * in the outbox, to be announced again: announcing twice must be harmless.
   */
  announce(entries: OutboxEntry[]): Promise<void>;
  /**
   * Whether a key belongs to the caches' key scheme. A row whose key it refuses, or whose
   * version is not a positive safe integer, is set aside in `cache_outbox_dead`.
   * @default every key
   */
  acceptsKey?: (key: string) => boolean;
  /**
   * Checks the outbox this often (ms) even without a notification: the bound on delivery where
   * the database does not deliver NOTIFY (the embedded PGlite server does not).
   * @default 250
   */
  pollIntervalMs?: number;
  /**
   * Rows claimed per batch, announced together (their announcement must fit in the cache's Redis
   * timeout).
   * @default 500
   */
  batchSize?: number;
  /**
   * How long a claimed batch is reserved for this relay (ms). If the relay dies before deleting
   * it, another relay takes it over after this long. Must exceed the time an announcement may
   * take (the cache's Redis timeout).
   * @default 5000
   */
  leaseMs?: number;
  /**
   * A `postgres://` URL to LISTEN on for a prompt wake-up after each committed write; without
   * it, the relay only polls.
   */
  listenUrl?: string;
  /** Told about each row set aside (once per row: it leaves the outbox). */
  onSetAside?: (entry: { seq: string; key: string; version: string; reason: string }) => void;
  /** Told about failures (database or announcement); the relay retries by itself. */
  onError?: (error: unknown) => void;
}

/** Counters of a relay. */
export interface OutboxRelayStats {
  /** Rows announced and deleted. */
  relayed: number;
  /** Batches announced. */
  batches: number;
  /** Rows set aside as unannounceable (bad key or version). */
  setAside: number;
  /** Batches whose claim, announcement or deletion failed (retried). */
  failures: number;
  /** Notifications received (0 where the database does not deliver them). */
  notifications: number;
}

/** A running relay. */
export interface OutboxRelay {
  /**
   * Drains the outbox now (the next poll, brought forward). Resolves when the run is over: the
   * outbox is empty then unless a failure (counted, told to `onError`) stopped it.
   */
  drain(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): OutboxRelayStats;
  /** Stops polling and listening; a batch in flight finishes first. */
  close(): Promise<void>;
}

// #region tutorial:outbox-claim
// A claim is a lease, not a transaction held open across the Redis call: the embedded database
// runs one transaction at a time, so an open one would stall every instance. SKIP LOCKED lets
// relays claim side by side; a relay that dies leaves rows whose lease simply runs out. Never a
// high-water mark on `seq`: a row that commits late with a lower `seq` would be skipped.
const CLAIM = `
UPDATE cache_outbox SET claimed_until = clock_timestamp() + $2 * interval '1 millisecond'
WHERE seq IN (
  SELECT seq FROM cache_outbox
  WHERE claimed_until IS NULL OR claimed_until < clock_timestamp()
  ORDER BY seq LIMIT $1
  FOR UPDATE SKIP LOCKED)
RETURNING seq::text, key, version::text`;
// #endregion tutorial:outbox-claim

const DELETE = 'DELETE FROM cache_outbox WHERE seq = ANY($1::bigint[])';
const RELEASE = 'UPDATE cache_outbox SET claimed_until = NULL WHERE seq = ANY($1::bigint[])';
const SET_ASIDE = `
WITH moved AS (DELETE FROM cache_outbox WHERE seq = $1 RETURNING seq, key, version, created_at)
INSERT INTO cache_outbox_dead (seq, key, version, created_at, reason)
SELECT seq, key, version, created_at, $2 FROM moved ON CONFLICT (seq) DO NOTHING`;

interface Row {
  seq: string;
  key: string;
  version: string;
}

/**
 * Relays the database's outbox (`cache_outbox`, filled by the `users` triggers) to the caches:
 * claims a batch, announces it, deletes it once the announcement succeeded. Any number of
 * instances may run one. Starts at once.
 */
export function createOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const pollIntervalMs = positive(options.pollIntervalMs ?? 250, 'pollIntervalMs');
  const batchSize = positive(options.batchSize ?? 500, 'batchSize');
  const leaseMs = positive(options.leaseMs ?? 5000, 'leaseMs');
  const { db, announce } = options;
  const acceptsKey = options.acceptsKey ?? (() => true);
  const onError = options.onError ?? (() => {});
  const counters: OutboxRelayStats = {
    relayed: 0,
    batches: 0,
    setAside: 0,
    failures: 0,
    notifications: 0,
  };
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;

  /** One batch; resolves to whether the outbox may hold more. */
  async function relayBatch(): Promise<boolean> {
    const { rows } = (await db.query(CLAIM, [batchSize, leaseMs])) as { rows: Row[] };
    if (rows.length === 0) return false;
    const good: Row[] = [];
    for (const row of rows) {
      const reason = problemOf(row, acceptsKey);
      if (reason === undefined) good.push(row);
      else await setAside(row, reason);
    }
    if (good.length > 0) {
      const seqs = good.map((row) => row.seq);
      try {
        await announce(good.map((row) => ({ key: row.key, version: Number(row.version) })));
      } catch (error) {
        // Back in the outbox at once, for the next attempt (the lease would free them anyway).
        await db.query(RELEASE, [seqs]).catch(() => {});
        throw error;
      }
      // If this fails, the rows are announced again after their lease: harmless.
      await db.query(DELETE, [seqs]);
      counters.relayed += good.length;
      counters.batches++;
    }
    return rows.length === batchSize;
  }

  async function setAside(row: Row, reason: string): Promise<void> {
    await db.query(SET_ASIDE, [row.seq, reason]);
    counters.setAside++;
    options.onSetAside?.({ ...row, reason });
  }

  async function run(): Promise<void> {
    try {
      do {
        again = false;
        while (!closed && (await relayBatch()));
      } while (again && !closed);
    } catch (error) {
      counters.failures++;
      onError(error);
    }
  }

  /** Runs the relay now, or once more after the run in progress. */
  function wake(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    clearTimeout(timer);
    running = run().finally(() => {
      running = undefined;
      if (!closed) timer = setTimeout(wake, pollIntervalMs).unref();
    });
    return running;
  }

  const listener = options.listenUrl ? listen(options.listenUrl) : undefined;

  /** LISTENs on a connection of its own, reconnecting after a pause when it is lost. */
  function listen(url: string) {
    let client: Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    function connect(): void {
      const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
      client = next;
      const lost = (error?: Error) => {
        if (error) onError(error);
        next.removeAllListeners();
        next.on('error', () => {});
        next.end().catch(() => {});
        if (!closed && client === next) retry = setTimeout(connect, pollIntervalMs).unref();
      };
      next.on('error', lost);
      next.on('end', () => lost());
      next.on('notification', () => {
        counters.notifications++;
        void wake();
      });
      next
        .connect()
        .then(() => next.query(`LISTEN ${OUTBOX_CHANNEL}`))
        // Rows committed while not listening are found by this run.
        .then(() => wake())
        .catch(lost);
    }
    connect();
    return {
      async close() {
        clearTimeout(retry);
        const last = client;
        client = undefined;
        last?.removeAllListeners();
        last?.on('error', () => {});
        await last?.end().catch(() => {});
      },
    };
  }

  void wake();
  return {
    async drain() {
      await wake();
      // A run that was already going may have missed rows committed after its last claim.
      await wake();
    },
    stats: () => ({ ...counters }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await listener?.close();
      await running;
    },
  };
}

/** Why a row cannot be announced, or `undefined` when it can. */
function problemOf(row: Row, acceptsKey: (key: string) => boolean): string | undefined {
  if (!/^[1-9]\d{0,15}$/.test(row.version) || !Number.isSafeInteger(Number(row.version))) {
    return 'version is not a positive safe integer';
  }
  let accepted = false;
  try {
    accepted = acceptsKey(row.key);
  } catch {
    accepted = false;
  }
  return accepted ? undefined : 'key outside the key scheme';
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`\`${name}\` must be a positive integer`);
  }
  return value;
}
