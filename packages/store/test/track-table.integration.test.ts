import { createCache } from '@cachelab/cache';
import { uniqueName, waitFor } from '@cachelab/testkit';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createPool, prepareDatabase, tableKey, trackTable } from '../src/index.ts';
import { databaseBackends, type FreshDatabase } from './fresh-database.ts';
import {
  createProductsTable,
  loadProduct,
  type Product,
  productKey,
  relayOutbox,
} from './products-example.ts';

const backends = databaseBackends(inject('postgresUrl'));

describe('tableKey', () => {
  it('joins the primary key values with colons and percent-encodes what would be ambiguous', () => {
    expect(tableKey('product:', ['eu', 'sku-1'])).toBe('product:eu:sku-1');
    expect(tableKey('product:', ['a:b', 'c'])).not.toBe(tableKey('product:', ['a', 'b:c']));
    expect(tableKey('p:', ['100%', 'x y', '{tag}', 7, 9n])).toBe('p:100%25:x%20y:%7Btag%7D:7:9');
  });
});

describe.each(backends)('any table tracked on %s', (_name, fresh) => {
  let database: FreshDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    database = await fresh();
    pool = createPool({ connectionString: database.url, max: 4 });
    // `users` next to it, with its own triggers, as an instance prepares it.
    await prepareDatabase(pool, { seedUsers: 5 });
    await createProductsTable(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await database?.cleanup();
  });

  beforeEach(async () => {
    await pool.query('DELETE FROM cache_outbox');
  });

  async function outbox(): Promise<{ key: string; version: number }[]> {
    const { rows } = await pool.query(
      'SELECT key, version::int AS version FROM cache_outbox ORDER BY seq',
    );
    return rows;
  }

  async function versionOf(region: string, sku: string): Promise<number | undefined> {
    const { rows } = await pool.query(
      'SELECT version::int AS v FROM products WHERE region = $1 AND sku = $2',
      [region, sku],
    );
    return rows[0]?.v;
  }

  it('applies again without harm (an upgrade, or two processes at once)', async () => {
    await Promise.all([createProductsTable(pool), createProductsTable(pool)]);
    await pool.query(`INSERT INTO products VALUES ('eu', 'again', 'Again', 100)`);
    expect(await outbox()).toEqual([{ key: 'product:eu:again', version: 1 }]);
  });

  it('owns versions: 1 on insert, old + 1 on every update whatever it says, in the outbox', async () => {
    await pool.query(`INSERT INTO products VALUES ('eu', 'sku-1', 'Lamp', 1999, 42)`);
    expect(await versionOf('eu', 'sku-1')).toBe(1);
    await pool.query(`UPDATE products SET price_cents = 1499 WHERE sku = 'sku-1'`);
    await pool.query(`UPDATE products SET version = 100 WHERE sku = 'sku-1'`);
    await pool.query(`UPDATE products SET version = 1, name = 'Desk lamp' WHERE sku = 'sku-1'`);
    expect(await versionOf('eu', 'sku-1')).toBe(4);
    expect(await outbox()).toEqual(
      [1, 2, 3, 4].map((version) => ({ key: 'product:eu:sku-1', version })),
    );
  });

  it('keeps a tombstone on delete, and a key created again goes on above it', async () => {
    await pool.query(`INSERT INTO products VALUES ('us', 'sku-2', 'Chair', 5000)`);
    await pool.query(`UPDATE products SET name = 'Armchair' WHERE sku = 'sku-2'`);
    await pool.query(`DELETE FROM products WHERE region = 'us' AND sku = 'sku-2'`);
    expect(await loadProduct(pool, 'us', 'sku-2')).toEqual({ value: null, version: 3 });
    await pool.query(`INSERT INTO products VALUES ('us', 'sku-2', 'Chair', 4000)`);
    expect(await loadProduct(pool, 'us', 'sku-2')).toEqual({
      value: { region: 'us', sku: 'sku-2', name: 'Chair', priceCents: 4000 },
      version: 4,
    });
    expect((await outbox()).map(({ version }) => version)).toEqual([1, 2, 3, 4]);
    expect(await loadProduct(pool, 'us', 'never')).toEqual({ value: null, version: 0 });
  });

  it('refuses a change of the primary key with SQLSTATE 23001, and writes nothing', async () => {
    await pool.query(`INSERT INTO products VALUES ('eu', 'sku-3', 'Rug', 900)`);
    await pool.query('DELETE FROM cache_outbox');
    await expect(
      pool.query(`UPDATE products SET sku = 'sku-9' WHERE sku = 'sku-3'`),
    ).rejects.toMatchObject({ code: '23001' });
    expect(await versionOf('eu', 'sku-3')).toBe(1);
    expect(await outbox()).toEqual([]);
  });

  it('makes the key the Node.js tableKey makes, for values that need encoding', async () => {
    await pool.query(
      `INSERT INTO products VALUES ('a:b', 'c d', 'Odd', 1), ('a', 'b:c d', 'Odd', 1)`,
    );
    expect((await outbox()).map(({ key }) => key)).toEqual([
      productKey('a:b', 'c d'),
      productKey('a', 'b:c d'),
    ]);
    expect(productKey('a:b', 'c d')).toBe('product:a%3Ab:c%20d');
  });

  it('refuses a table without a primary key or without a version column', async () => {
    await pool.query('CREATE TABLE IF NOT EXISTS no_key (id text, version bigint NOT NULL)');
    await expect(trackTable(pool, { table: 'no_key', keyPrefix: 'nk:' })).rejects.toMatchObject({
      code: '42P16',
    });
    await pool.query('CREATE TABLE IF NOT EXISTS no_version (id text PRIMARY KEY)');
    await expect(trackTable(pool, { table: 'no_version', keyPrefix: 'nv:' })).rejects.toMatchObject(
      { code: '42804' },
    );
    await expect(
      trackTable(pool, { table: 'products', keyPrefix: 'bad prefix:' }),
    ).rejects.toMatchObject({ code: '22023' });
  });

  it('a write from outside reaches every cache through the relay: update, delete, create again', async () => {
    const namespace = uniqueName();
    const clients: { destroy(): void }[] = [];
    const connect = async () => {
      const client = createClient({ url: inject('redisUrl'), disableOfflineQueue: true });
      client.on('error', () => {});
      await client.connect();
      clients.push(client);
      return client;
    };
    // Two services' caches over one namespace; the first also runs the relay.
    const caches = await Promise.all(
      ['a', 'b'].map(async (origin) =>
        createCache<Product | null>({
          redis: await connect(),
          subscriber: await connect(),
          namespace,
          origin,
        }),
      ),
    );
    // A cache fills its L1 only once it trusts its bus (its first heartbeat came back).
    await waitFor(() => caches.every((cache) => cache.stats().trusted), {
      what: 'both caches to trust their bus',
    });
    const relay = relayOutbox(pool, caches[0] as never);
    // Another connection, as psql would be: its writes go through no cache.
    const psql = new pg.Client({ connectionString: database.url });
    await psql.connect();
    try {
      await psql.query(`INSERT INTO products VALUES ('eu', 'sku-5', 'Vase', 2500)`);
      const read = (cache: (typeof caches)[number]) =>
        cache.getOrLoad(productKey('eu', 'sku-5'), () => loadProduct(pool, 'eu', 'sku-5'));
      const everyCacheAt = (version: number, what: string) =>
        waitFor(
          async () => (await Promise.all(caches.map(read))).every((r) => r.version === version),
          { timeoutMs: 5000, intervalMs: 20, what },
        );
      await everyCacheAt(1, 'both caches to load the product');
      for (const cache of caches) expect((await read(cache)).tier).toBe('L1');

      await psql.query(`UPDATE products SET price_cents = 2000 WHERE sku = 'sku-5'`);
      await everyCacheAt(2, 'the update from psql to reach both caches');
      expect((await read(caches[1] as never)).value).toMatchObject({ priceCents: 2000 });

      await psql.query(`DELETE FROM products WHERE sku = 'sku-5'`);
      await everyCacheAt(3, 'the delete from psql to reach both caches');
      expect((await read(caches[1] as never)).value).toBeNull();

      await psql.query(`INSERT INTO products VALUES ('eu', 'sku-5', 'Vase', 2600)`);
      await everyCacheAt(4, 'the product created again to reach both caches');
      expect(relay.stats().setAside).toBe(0);
    } finally {
      await psql.end();
      await relay.close();
      await Promise.all(caches.map((cache) => cache.close()));
      for (const client of clients) client.destroy();
    }
  });
});
