import { setTimeout as delay } from 'node:timers/promises';
import { nanoid } from 'nanoid';
import { createBreaker } from './breaker.ts';
import { isUnavailable, StoreError, storeErrorCodes } from './errors.ts';
import type { Queryable } from './queryable.ts';
import { WAKE_RELAY_SETTING } from './schema.ts';
import type {
  PutResult,
  QueryEvent,
  QueryOperation,
  StoreStats,
  UserRecord,
  UsersRepository,
  WriteCondition,
} from './types.ts';

/** Options of {@link createUsersRepository}. */
export interface UsersRepositoryOptions {
  /** Where queries go: a `pg` Pool from {@link createPool}. */
  db: Queryable;
  /**
   * Simulated latency added before every query but `ping`, so the benefit of a cache is visible.
   * @default 0
   */
  latencyMs?: number;
  /**
   * Told about every query when it finishes (for a latency histogram). Runs synchronously; what
   * it throws is ignored.
   */
  onQuery?: (event: QueryEvent) => void;
  /**
   * Once a query found the database unavailable, queries fail at once with `E_DB_UNAVAILABLE`
   * for this long; then one probe at a time checks whether it is back.
   * @default 500
   */
  retryIntervalMs?: number;
  /**
   * Whether this repository's writes wake the outbox relays with NOTIFY. `false` suits a writer
   * that announces its own writes (a cachelab instance): NOTIFY serialises the commits of every
   * transaction that sends one, and the relays still find these rows at their next poll. Each
   * write sets `cachelab.wake_relay = off` for its own transaction only, so it is safe behind a
   * pooler in transaction mode (PgBouncer), where a session setting would reach other clients.
   * @default true
   */
  wakeRelays?: boolean;
}

const COLUMNS = 'id, name, email, age, version, deleted, updated_at';

const SELECT_ONE = `SELECT ${COLUMNS} FROM users WHERE id = $1`;

// #region tutorial:versioned-writes
// Every write sets `cachelab.wake_relay` for its own transaction only (`set_config(…, true)`, in
// the statement: one round trip, and no session state left behind for the next client of a pooler
// in transaction mode). The `quiet` CTE is joined so that it runs before the statement's triggers.
const QUIET = `quiet AS (SELECT set_config('${WAKE_RELAY_SETTING}', $1, true) AS wake)`;

// `prev` reads the row as it was before this statement, so `created` is true for a new id and for
// a revived tombstone alike. The statements leave `version` alone: the database's trigger bumps
// it (and records it in the outbox) in the same statement, and RETURNING gives the new one.
const UPSERT = `
WITH ${QUIET}, prev AS (SELECT deleted FROM users WHERE id = $2)
INSERT INTO users AS u (id, name, email, age) SELECT $2::text, $3::text, $4::text, $5::integer FROM quiet
ON CONFLICT (id) DO UPDATE SET
  name = EXCLUDED.name, email = EXCLUDED.email, age = EXCLUDED.age,
  deleted = false, updated_at = now()
RETURNING ${COLUMNS}, COALESCE((SELECT deleted FROM prev), true) AS created`;

const INSERT = `
WITH ${QUIET}
INSERT INTO users (id, name, email, age) SELECT $2::text, $3::text, $4::text, $5::integer FROM quiet
RETURNING ${COLUMNS}`;

const SOFT_DELETE = `
WITH ${QUIET}
UPDATE users SET deleted = true, updated_at = now() FROM quiet
WHERE id = $2 AND NOT deleted
RETURNING ${COLUMNS}`;
// #endregion tutorial:versioned-writes

// Optimistic concurrency (HTTP If-Match): the version check is part of the write itself, so no
// write can slip in between a check and the update. $6 / $3: the versions the client accepts, or
// NULL for "any live user" (`If-Match: *`). A tombstone has no representation, so it never matches.
const CONDITIONAL_UPDATE = `
WITH ${QUIET}
UPDATE users SET name = $3, email = $4, age = $5, version = version + 1, updated_at = now()
FROM quiet
WHERE id = $2 AND NOT deleted AND ($6::bigint[] IS NULL OR version = ANY($6::bigint[]))
RETURNING ${COLUMNS}`;

const CONDITIONAL_DELETE = `
WITH ${QUIET}
UPDATE users SET deleted = true, version = version + 1, updated_at = now() FROM quiet
WHERE id = $2 AND NOT deleted AND ($3::bigint[] IS NULL OR version = ANY($3::bigint[]))
RETURNING ${COLUMNS}`;

/** The versions a conditional write accepts (`null`: any live user), as the statements take them. */
function acceptedVersions(condition: WriteCondition): string[] | null {
  return condition.ifMatch === '*' ? null : condition.ifMatch.map(String);
}

function preconditionFailed(id: string): StoreError {
  return new StoreError(
    storeErrorCodes.preconditionFailed,
    `user ${id} is not at a version the write accepts`,
  );
}

/** Creates the users repository over a Postgres connection. */
export function createUsersRepository(options: UsersRepositoryOptions): UsersRepository {
  const latencyMs = options.latencyMs ?? 0;
  if (!Number.isInteger(latencyMs) || latencyMs < 0) {
    throw new TypeError('`latencyMs` must be a non-negative integer (ms)');
  }
  const retryIntervalMs = options.retryIntervalMs ?? 500;
  if (!Number.isInteger(retryIntervalMs) || retryIntervalMs < 1) {
    throw new TypeError('`retryIntervalMs` must be a positive integer (ms)');
  }
  const { db, onQuery } = options;
  const wake = options.wakeRelays === false ? 'off' : 'on';
  const counters: StoreStats = { queries: 0, errors: 0, failedFast: 0 };
  const breaker = createBreaker(retryIntervalMs);

  function report(operation: QueryOperation, startedAt: number, ok: boolean): void {
    try {
      onQuery?.({ operation, durationMs: performance.now() - startedAt, ok });
    } catch {
      // An observer's failure is not the query's.
    }
  }

  // #region tutorial:latency
  async function query(
    operation: QueryOperation,
    text: string,
    params: unknown[],
  ): Promise<Record<string, unknown>[]> {
    const startedAt = performance.now();
    // The health check measures the database, not the lesson: a ping never waits.
    if (latencyMs > 0 && operation !== 'ping') await delay(latencyMs);
    // #endregion tutorial:latency
    const admitted = breaker.admit();
    if (admitted === 'fail') {
      counters.failedFast++;
      throw new StoreError(storeErrorCodes.unavailable, 'The database is unavailable');
    }
    counters.queries++;
    try {
      const result = await db.query(text, params);
      breaker.settle(admitted, true);
      report(operation, startedAt, true);
      return result.rows as Record<string, unknown>[];
    } catch (error) {
      counters.errors++;
      report(operation, startedAt, false);
      const unavailable = isUnavailable(error);
      // A wrong query proves the database answers; only unavailability opens the breaker.
      breaker.settle(admitted, !unavailable);
      if (unavailable) {
        throw new StoreError(storeErrorCodes.unavailable, 'The database is unavailable', {
          cause: error,
        });
      }
      throw error;
    }
  }

  return {
    async get(id) {
      const [row] = await query('get', SELECT_ONE, [id]);
      return row ? toUser(row) : null;
    },
    async put(id, input, condition): Promise<PutResult> {
      if (condition) {
        const params = [id, input.name, input.email, input.age, acceptedVersions(condition)];
        const [row] = await query('put', CONDITIONAL_UPDATE, [wake, ...params]);
        if (!row) throw preconditionFailed(id);
        return { user: toUser(row), created: false };
      }
      const [row] = await query('put', UPSERT, [wake, id, input.name, input.email, input.age]);
      if (!row) throw new StoreError(storeErrorCodes.invalidRow, 'Upsert returned no row');
      return { user: toUser(row), created: row.created === true };
    },
    async create(input) {
      const params = [wake, nanoid(), input.name, input.email, input.age];
      const [row] = await query('create', INSERT, params);
      if (!row) throw new StoreError(storeErrorCodes.invalidRow, 'Insert returned no row');
      return toUser(row);
    },
    async delete(id, condition) {
      if (condition) {
        const params = [wake, id, acceptedVersions(condition)];
        const [row] = await query('delete', CONDITIONAL_DELETE, params);
        if (!row) throw preconditionFailed(id);
        return toUser(row);
      }
      const [row] = await query('delete', SOFT_DELETE, [wake, id]);
      return row ? toUser(row) : null;
    },
    async ping() {
      await query('ping', 'SELECT 1', []);
    },
    stats: () => ({ ...counters }),
  };
}

/** Maps a database row to a {@link UserRecord}, refusing versions a JS number cannot hold. */
function toUser(row: Record<string, unknown>): UserRecord {
  const version = Number(row.version);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StoreError(
      storeErrorCodes.invalidRow,
      `Row ${String(row.id)} has version ${String(row.version)}`,
    );
  }
  const updatedAt =
    row.updated_at instanceof Date ? row.updated_at : new Date(String(row.updated_at));
  return {
    id: String(row.id),
    name: String(row.name),
    email: String(row.email),
    age: Number(row.age),
    version,
    deleted: row.deleted === true,
    updatedAt: updatedAt.toISOString(),
  };
}
