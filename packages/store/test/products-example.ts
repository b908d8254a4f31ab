// A second table next to `users`, tracked by the migration of sql/track-table.sql: what
// docs/any-table.md shows, run by track-table.integration.test.ts against both databases.
import type { Cache, Loaded } from '@cachelab/cache';
import { isValidKey } from '@cachelab/cache';
import {
  createOutboxRelay,
  type OutboxRelay,
  type Queryable,
  tableKey,
  trackTable,
} from '../src/index.ts';

export interface Product {
  region: string;
  sku: string;
  name: string;
  priceCents: number;
}

// #region tutorial:any-table-schema
// Any table with a primary key, here a composite one, and a bigint version column.
export async function createProductsTable(db: Queryable): Promise<void> {
  await db.query(`
    CREATE TABLE IF NOT EXISTS products (
      region      text NOT NULL,
      sku         text NOT NULL,
      name        text NOT NULL,
      price_cents integer NOT NULL,
      version     bigint NOT NULL DEFAULT 1,
      PRIMARY KEY (region, sku)
    )`);
  // The same as `psql -f sql/track-table.sql` then `SELECT cachelab_track('products', 'product:')`.
  await trackTable(db, { table: 'products', keyPrefix: 'product:' });
}
// #endregion tutorial:any-table-schema

// #region tutorial:any-table-loader
/** The cache key of a product: what the outbox records for its row. */
export const productKey = (region: string, sku: string) => tableKey('product:', [region, sku]);

/**
 * Loads a product with its version; a deleted one answers `null` at its tombstone's version (a
 * product never created, at version 0), so that no cache keeps the row it had.
 */
export async function loadProduct(
  db: Queryable,
  region: string,
  sku: string,
): Promise<Loaded<Product | null>> {
  const { rows } = (await db.query(
    `SELECT name, price_cents, version::text FROM products WHERE region = $1 AND sku = $2
     UNION ALL
     SELECT NULL, NULL, version::text FROM cache_tombstones WHERE key = $3`,
    [region, sku, productKey(region, sku)],
  )) as { rows: { name: string | null; price_cents: number | null; version: string }[] };
  const row = rows.find((candidate) => candidate.name !== null) ?? rows[0];
  if (!row) return { value: null, version: 0 };
  const value =
    row.name === null ? null : { region, sku, name: row.name, priceCents: Number(row.price_cents) };
  return { value, version: Number(row.version) };
}
// #endregion tutorial:any-table-loader

// #region tutorial:any-table-relay
/**
 * Announces every version the database commits, whoever wrote it, to the caches of the
 * namespace. Any number of services may run one; each row is announced by one of them.
 */
export function relayOutbox(db: Queryable, cache: Cache<unknown>): OutboxRelay {
  return createOutboxRelay({
    db,
    announce: (entries) => cache.announceMany(entries),
    acceptsKey: isValidKey, // a row whose key no cache could hold is set aside, not retried
  });
}
// #endregion tutorial:any-table-relay
