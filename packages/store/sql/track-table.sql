-- cachelab: database-owned versions and an outbox for any table with a primary key.
--
-- Apply this file once per database (it is idempotent: apply it again after an upgrade), then
-- track each table whose rows are cached:
--
--   psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f track-table.sql
--   psql "$DATABASE_URL" -c "SELECT cachelab_track('products', 'product:')"
--
-- cachelab_track(table, key_prefix, version_column DEFAULT 'version') installs triggers on the
-- table that make the database the owner of versions, whoever writes (an instance, psql, a
-- migration, another service):
--   * the version column (bigint or integer, NOT NULL) is 1 on an INSERT and old + 1 on every
--     UPDATE, whatever the statement says;
--   * a DELETE leaves a tombstone (cache_tombstones) at old + 1, and an INSERT of the same key
--     later starts above it, so a version never repeats for a key;
--   * the primary key of a row never changes: an UPDATE of it fails with SQLSTATE 23001
--     (insert the row under its new key and delete the old one, in one transaction);
--   * every new version, tombstones included, is written to cache_outbox in the same
--     transaction, and a statement sends NOTIFY cachelab_outbox unless the session set
--     cachelab.wake_relay = off.
--
-- The cache key of a row is key_prefix followed by its primary key's values in the key's column
-- order, joined by ':', each value with '%', ':', ' ', '{' and '}' percent-encoded (so that
-- ('a:b', 'c') and ('a', 'b:c') stay apart and every key is a valid cache key):
-- cachelab_key('product:', ARRAY['eu', 'sku 1']) = 'product:eu:sku%201'. The @cachelab/store
-- function tableKey(prefix, values) makes the same key in Node.js. A relay (createOutboxRelay)
-- announces each outbox row to the caches; see docs/any-table.md.
--
-- Needs PostgreSQL 14 or later (CREATE OR REPLACE TRIGGER).

SELECT pg_advisory_xact_lock(4215001);

CREATE TABLE IF NOT EXISTS cache_outbox (
  seq           bigserial PRIMARY KEY,
  key           text NOT NULL,
  version       bigint NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
  claimed_until timestamptz
);

CREATE TABLE IF NOT EXISTS cache_outbox_dead (
  seq          bigint PRIMARY KEY,
  key          text NOT NULL,
  version      bigint NOT NULL,
  created_at   timestamptz NOT NULL,
  reason       text NOT NULL,
  set_aside_at timestamptz NOT NULL DEFAULT now()
);

-- The last version of each deleted key, so that a key deleted and created again goes on from it.
CREATE TABLE IF NOT EXISTS cache_tombstones (
  key        text PRIMARY KEY,
  version    bigint NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION cachelab_key(prefix text, key_values text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT prefix || string_agg(
    replace(replace(replace(replace(replace(value, '%', '%25'), ':', '%3A'), ' ', '%20'),
      '{', '%7B'), '}', '%7D'),
    ':' ORDER BY position)
  FROM unnest(key_values) WITH ORDINALITY AS part(value, position)
$$;

-- The cache key of a row (as jsonb) of a table tracked with these trigger arguments: the key
-- prefix, the version column, then the primary key's columns in order. (A trigger's TG_ARGV
-- counts from 0, another array from 1: the bounds are read, not assumed.)
CREATE OR REPLACE FUNCTION cachelab_row_key(args text[], row_data jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT cachelab_key(args[array_lower(args, 1)],
    array_agg(row_data ->> column_name ORDER BY position))
  FROM unnest(args[array_lower(args, 1) + 2:]) WITH ORDINALITY AS part(column_name, position)
$$;

CREATE OR REPLACE FUNCTION cachelab_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  version_column text := TG_ARGV[1];
  row_key text := cachelab_row_key(TG_ARGV, to_jsonb(NEW));
  old_key text;
  next_version bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    DELETE FROM cache_tombstones AS t WHERE t.key = row_key RETURNING t.version + 1 INTO next_version;
    next_version := coalesce(next_version, 1);
  ELSE
    old_key := cachelab_row_key(TG_ARGV, to_jsonb(OLD));
    IF row_key IS DISTINCT FROM old_key THEN
      RAISE EXCEPTION 'the primary key of a row of % never changes (cache key % to %)',
          TG_TABLE_NAME, old_key, row_key
        USING ERRCODE = '23001',
          HINT = 'insert the row under its new key and delete the old one, in one transaction';
    END IF;
    next_version := (to_jsonb(OLD) ->> version_column)::bigint + 1;
  END IF;
  NEW := jsonb_populate_record(NEW, jsonb_build_object(version_column, next_version));
  RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION cachelab_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  row_key text;
  row_version bigint;
BEGIN
  IF current_setting('cachelab.seeding', true) = 'on' THEN RETURN NULL; END IF;
  IF TG_OP = 'DELETE' THEN
    row_key := cachelab_row_key(TG_ARGV, to_jsonb(OLD));
    row_version := (to_jsonb(OLD) ->> TG_ARGV[1])::bigint + 1;
    INSERT INTO cache_tombstones AS t (key, version) VALUES (row_key, row_version)
      ON CONFLICT (key) DO UPDATE SET version = greatest(t.version, excluded.version), deleted_at = now();
  ELSE
    row_key := cachelab_row_key(TG_ARGV, to_jsonb(NEW));
    row_version := (to_jsonb(NEW) ->> TG_ARGV[1])::bigint;
  END IF;
  INSERT INTO cache_outbox (key, version) VALUES (row_key, row_version);
  RETURN NULL;
END $$;

-- NOTIFY serialises the commits of every transaction that sends one, so a writer that announces
-- its own writes turns it off for its session (cachelab.wake_relay = off); its rows wait for the
-- relays' next poll.
CREATE OR REPLACE FUNCTION cachelab_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('cachelab.wake_relay', true) = 'off' THEN RETURN NULL; END IF;
  PERFORM pg_notify('cachelab_outbox', '');
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION cachelab_track(
  tracked regclass, key_prefix text, version_column text DEFAULT 'version'
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  key_columns text[];
  version_type regtype;
  args text;
  name text := (SELECT relname FROM pg_class WHERE oid = tracked);
BEGIN
  SELECT array_agg(a.attname::text ORDER BY k.position) INTO key_columns
  FROM pg_index i
  CROSS JOIN unnest(i.indkey) WITH ORDINALITY AS k(attnum, position)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = tracked AND i.indisprimary;
  IF key_columns IS NULL THEN
    RAISE EXCEPTION 'cachelab_track: % has no primary key', tracked USING ERRCODE = '42P16';
  END IF;
  SELECT a.atttypid::regtype INTO version_type FROM pg_attribute a
  WHERE a.attrelid = tracked AND a.attname = version_column AND NOT a.attisdropped AND a.attnotnull;
  IF version_type IS NULL OR version_type NOT IN ('bigint'::regtype, 'integer'::regtype) THEN
    RAISE EXCEPTION 'cachelab_track: % needs a NOT NULL bigint column %', tracked, version_column
      USING ERRCODE = '42804';
  END IF;
  IF key_prefix IS NULL OR key_prefix ~ '[{} [:cntrl:]]' THEN
    RAISE EXCEPTION 'cachelab_track: the key prefix % cannot start a cache key', key_prefix
      USING ERRCODE = '22023';
  END IF;
  SELECT string_agg(quote_literal(arg), ', ') INTO args
  FROM unnest(ARRAY[key_prefix, version_column] || key_columns) AS arg;
  EXECUTE format('CREATE OR REPLACE TRIGGER %I BEFORE INSERT OR UPDATE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION cachelab_version(%s)', name || '_cachelab_version', tracked, args);
  EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH ROW EXECUTE FUNCTION cachelab_outbox(%s)', name || '_cachelab_outbox', tracked, args);
  EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %s '
    'FOR EACH STATEMENT EXECUTE FUNCTION cachelab_outbox_notify()',
    name || '_cachelab_outbox_notify', tracked);
END $$;
