"""The database schema, the same idempotent SQL as ``packages/store/src/schema.ts`` (a test
checks it against that file): a Python instance may start before, beside or after Node instances
on one database, and every one of them prepares it the same way without harm."""

from __future__ import annotations

from psycopg import AsyncConnection, errors

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS users (
  id         text PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL,
  age        integer NOT NULL,
  version    bigint NOT NULL DEFAULT 1,
  deleted    boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
)"""

# Versions belong to the database (triggers), and every new version is recorded in the outbox in
# the same transaction. One advisory lock serialises instances migrating at once.
MIGRATE = r"""
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
  INSERT INTO cache_outbox (key, version) VALUES ('user:' || NEW.id, NEW.version);
  RETURN NULL;
END $$;
-- NOTIFY serialises the commits of every transaction that sends one: PostgreSQL holds a
-- cluster-wide lock from queueing the notification until after the commit
-- (src/backend/commands/async.c, PreCommit_Notify). A writer that
-- announces its own writes (a cachelab instance) does not need it: its writes set
-- cachelab.wake_relay to off for their own transaction, and its rows wait for the next poll,
-- which matters only if it died before announcing.
CREATE OR REPLACE FUNCTION users_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('cachelab.wake_relay', true) = 'off' THEN RETURN NULL; END IF;
  PERFORM pg_notify('cachelab_outbox', '');
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
"""

# One statement: instances starting together either all see rows or insert the same ids.
SEED = """
SET LOCAL cachelab.seeding = 'on';
INSERT INTO users (id, name, email, age)
SELECT g::text, 'User ' || g, 'user' || g || '@example.com', 18 + g % 60
FROM generate_series(1, {count}) AS g
WHERE NOT EXISTS (SELECT 1 FROM users)
ON CONFLICT (id) DO NOTHING"""


async def prepare_database(connection: AsyncConnection[object], seed_users: int) -> None:
    """Creates the table when missing, installs the triggers, seeds users 1…N when it is empty.

    ``connection`` is in autocommit mode; statements without parameters go as simple queries, so
    the multi-statement ones run as one implicit transaction each, as from Node's ``pg``."""
    try:
        await connection.execute(CREATE_TABLE)
    except (errors.UniqueViolation, errors.DuplicateTable):
        # Lost a CREATE TABLE IF NOT EXISTS race with another instance: it exists now.
        await connection.execute(CREATE_TABLE)
    await connection.execute(MIGRATE)
    if seed_users > 0:
        await connection.execute(SEED.format(count=int(seed_users)))
