import type { Queryable } from './queryable.ts';

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS users (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL,
  age        integer NOT NULL,
  version    bigint NOT NULL DEFAULT 1,
  deleted    boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
)`;

/** Channel notified (once per transaction) when outbox rows were added. */
export const OUTBOX_CHANNEL = 'cachelab_outbox';

/**
 * Setting that keeps a transaction's writes from waking the relays with NOTIFY, for a writer that
 * announces its own writes (a cachelab instance): set to `off` for the write's own transaction
 * (`set_config(…, true)`, never for the session, which a pooler in transaction mode would hand to
 * other clients), unset everywhere else. Its outbox rows are still written, and relayed by the
 * next poll.
 */
export const WAKE_RELAY_SETTING = 'cachelab.wake_relay';

/** The cache key of a user id in the outbox: the application's key scheme for users. */
export const USER_KEY_PREFIX = 'user:';

// #region tutorial:outbox-trigger
// Versions belong to the database: whatever a statement says, an insert starts at 1 and an update
// (a soft delete included) is old + 1, so psql, a migration or a bulk UPDATE bumps it too and no
// statement can move it back. A hard DELETE becomes a tombstone, so that a re-created id never
// reuses a version, and an id never changes (refused: caches keyed by id would not hear that the
// old id is gone). Every new version is recorded in the outbox in the same transaction: it
// commits with the write or not at all. One advisory lock serialises instances migrating at once.
const MIGRATE = `
SELECT pg_advisory_xact_lock(4215001);
CREATE TABLE IF NOT EXISTS cache_outbox (
  seq           bigserial PRIMARY KEY,
  key           text NOT NULL,
  version       bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_until timestamptz
);
CREATE TABLE IF NOT EXISTS cache_outbox_dead (
  seq         bigint PRIMARY KEY,
  key         text NOT NULL,
  version     bigint NOT NULL,
  created_at  timestamptz NOT NULL,
  reason      text NOT NULL,
  set_aside_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION users_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
  ELSE
    IF NEW.id IS DISTINCT FROM OLD.id THEN
      RAISE EXCEPTION 'cachelab: the id of a user cannot change (% to %): insert the user under the new id and delete the old one, in one transaction', OLD.id, NEW.id
        USING ERRCODE = 'restrict_violation';
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION users_soft_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users SET deleted = true, updated_at = now() WHERE id = OLD.id AND NOT deleted;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION users_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The seed of an empty table, which no cache can hold yet, is not announced.
  IF current_setting('cachelab.seeding', true) = 'on' THEN RETURN NULL; END IF;
  INSERT INTO cache_outbox (key, version) VALUES ('${USER_KEY_PREFIX}' || NEW.id, NEW.version);
  RETURN NULL;
END $$;
-- NOTIFY serialises the commits of every transaction that sends one: PostgreSQL holds a
-- cluster-wide lock from queueing the notification until after the commit
-- (src/backend/commands/async.c, PreCommit_Notify). A writer that
-- announces its own writes (a cachelab instance) does not need it: its writes set
-- ${WAKE_RELAY_SETTING} to off for their own transaction, and its rows wait for the next poll,
-- which matters only if it died before announcing.
CREATE OR REPLACE FUNCTION users_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('${WAKE_RELAY_SETTING}', true) = 'off' THEN RETURN NULL; END IF;
  PERFORM pg_notify('${OUTBOX_CHANNEL}', '');
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER users_version BEFORE INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_version();
CREATE OR REPLACE TRIGGER users_soft_delete BEFORE DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION users_soft_delete();
CREATE OR REPLACE TRIGGER users_outbox AFTER INSERT OR UPDATE ON users
  FOR EACH ROW EXECUTE FUNCTION users_outbox();
CREATE OR REPLACE TRIGGER users_outbox_notify AFTER INSERT OR UPDATE OR DELETE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION users_outbox_notify();
`;
// #endregion tutorial:outbox-trigger

// One statement, so concurrent instances starting together either all see rows or insert the
// same ids; ON CONFLICT makes the loser a no-op instead of an error. Sent with SET LOCAL as one
// implicit transaction (no parameters: `count` is a checked integer), so the outbox skips it.
const seed = (count: number) => `
SET LOCAL cachelab.seeding = 'on';
INSERT INTO users (id, name, email, age)
SELECT g::text, 'User ' || g, 'user' || g || '@example.com', 18 + g % 60
FROM generate_series(1, ${count}) AS g
WHERE NOT EXISTS (SELECT 1 FROM users)
ON CONFLICT (id) DO NOTHING`;

/** SQLSTATEs of a lost CREATE TABLE IF NOT EXISTS race between two sessions. */
const CREATE_RACE = new Set(['23505', '42P07']);

/**
 * Creates the `users` table when missing, installs (or updates) the version and outbox triggers
 * and their tables, and seeds users `1`…`seedUsers` when the table is empty. Idempotent, safe to
 * run from several instances at once, and applies to a database created by an older version.
 */
export async function prepareDatabase(
  db: Queryable,
  options: { seedUsers: number },
): Promise<void> {
  if (!Number.isInteger(options.seedUsers) || options.seedUsers < 0) {
    throw new TypeError('`seedUsers` must be a non-negative integer');
  }
  try {
    await db.query(CREATE_TABLE);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (!code || !CREATE_RACE.has(code)) throw error;
    await db.query(CREATE_TABLE);
  }
  // Several statements without parameters: one implicit transaction, under the advisory lock.
  await db.query(MIGRATE);
  if (options.seedUsers > 0) await db.query(seed(options.seedUsers));
}
