/** The fields a client sets on a user; everything else is managed by the store. */
export interface UserInput {
  name: string;
  email: string;
  age: number;
}

/**
 * A row of the `users` table. Deleted users stay as tombstones (`deleted: true`) so that a key's
 * version keeps growing across delete and re-create.
 */
export interface UserRecord extends UserInput {
  id: string;
  /** Bumped by every write in the same statement; never decreases for an id. */
  version: number;
  deleted: boolean;
  /** ISO-8601 time of the last write. */
  updatedAt: string;
}

/** The result of a full-replace upsert. */
export interface PutResult {
  user: UserRecord;
  /** True when no live user had this id before (absent or a tombstone). */
  created: boolean;
}

/**
 * A precondition on a write (HTTP `If-Match`), checked inside the write's own statement: the write
 * happens only if the user is live and at one of these versions (`'*'`: at any version). When it
 * is not, the write changes nothing and fails with `E_DB_PRECONDITION_FAILED`.
 */
export interface WriteCondition {
  ifMatch: '*' | readonly number[];
}

/** Counters kept by a repository, for monitoring. */
export interface StoreStats {
  /** Queries sent to the database, successful or not. */
  queries: number;
  /** Queries that failed. */
  errors: number;
  /** Queries refused without trying while the database was known to be unavailable. */
  failedFast: number;
}

/** Which repository call a query served. */
export type QueryOperation = 'get' | 'put' | 'create' | 'delete' | 'ping';

/** One finished query, as told to `onQuery`. */
export interface QueryEvent {
  operation: QueryOperation;
  /** From the call until the answer, the simulated latency included. */
  durationMs: number;
  /** False when the query failed. */
  ok: boolean;
}

/** Reads and writes users. Every write returns the row it produced, with its new version. */
export interface UsersRepository {
  /** The row for `id`, tombstones included; `null` when the id was never written. */
  get(id: string): Promise<UserRecord | null>;
  /**
   * Creates or fully replaces the user `id` (reviving a tombstone). With a `condition`, only
   * replaces a live user at an accepted version (never creates); else `E_DB_PRECONDITION_FAILED`.
   */
  put(id: string, input: UserInput, condition?: WriteCondition): Promise<PutResult>;
  /** Creates a user under a fresh `nanoid`. */
  create(input: UserInput): Promise<UserRecord>;
  /**
   * Soft-deletes `id`; the tombstone, or `null` when there was no live user to delete. With a
   * `condition`, a user absent or at another version is `E_DB_PRECONDITION_FAILED` instead.
   */
  delete(id: string, condition?: WriteCondition): Promise<UserRecord | null>;
  /** Checks that the database answers. */
  ping(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): StoreStats;
}
