import { readFileSync } from 'node:fs';
import type { Queryable } from './queryable.ts';

/** Options of {@link trackTable}. */
export interface TrackTableOptions {
  /** The table, as SQL names it (`products`, `shop.products`). It must have a primary key. */
  table: string;
  /**
   * What every cache key of the table starts with, e.g. `product:`; the primary key's values
   * follow (see {@link tableKey}). No braces, spaces or control characters.
   */
  keyPrefix: string;
  /** The table's `bigint` (or `integer`) `NOT NULL` version column. @default 'version' */
  versionColumn?: string;
}

/**
 * The migration that gives any table database-owned versions and an outbox
 * (`packages/store/sql/track-table.sql`, shipped in the package as `sql/track-table.sql`): apply
 * it with psql, or through {@link trackTable}.
 */
export function trackTableSql(): string {
  return readFileSync(new URL('../sql/track-table.sql', import.meta.url), 'utf8');
}

/**
 * Applies the migration (idempotent, safe from several processes at once) and tracks `table`:
 * from then on every insert, update and delete of it, whoever makes it, bumps the row's version
 * in the database and records `(cache key, version)` in `cache_outbox` in the same transaction,
 * for a relay ({@link createOutboxRelay}) to announce. A change of a row's primary key is refused
 * with SQLSTATE 23001.
 */
export async function trackTable(db: Queryable, options: TrackTableOptions): Promise<void> {
  // Several statements without parameters: one implicit transaction, under the advisory lock.
  await db.query(trackTableSql());
  await db.query('SELECT cachelab_track($1::text::regclass, $2, $3)', [
    options.table,
    options.keyPrefix,
    options.versionColumn ?? 'version',
  ]);
}

// What the migration's cachelab_key() percent-encodes in each value: the separator, the escape
// itself, and what a cache key cannot hold or a hash tag would misread.
const ENCODED = /[%: {}]/g;

/**
 * The cache key the outbox records for a row of a tracked table: `prefix`, then the primary key's
 * values in the key's column order, joined by `:`, each with `%`, `:`, space, `{` and `}`
 * percent-encoded — `tableKey('product:', ['eu', 'sku 1'])` is `product:eu:sku%201`. Values are
 * compared as PostgreSQL prints them in JSON (`to_jsonb(row) ->> column`): text and integers as
 * such.
 */
export function tableKey(prefix: string, values: readonly (string | number | bigint)[]): string {
  return (
    prefix +
    values
      .map((value) =>
        String(value).replace(ENCODED, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
      )
      .join(':')
  );
}
