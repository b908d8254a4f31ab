import { freePort } from '@cachelab/testkit';
import { nanoid } from 'nanoid';
import pg from 'pg';
import { startEmbeddedDatabase } from '../src/embedded.ts';
// The vitest context the store tests inject (`postgresUrl`), declared by the test setup.
import '../../../test/support/context.ts';

/** An empty database of one kind, dropped by `cleanup`. */
export interface FreshDatabase {
  url: string;
  cleanup(): Promise<void>;
}

/** A new in-memory embedded database on its own port. */
export async function freshEmbedded(): Promise<FreshDatabase> {
  const database = await startEmbeddedDatabase({ dataDir: 'memory://', port: await freePort() });
  return { url: database.url, cleanup: () => database.stop() };
}

/** A new database created on the PostgreSQL server at `adminUrl`, dropped afterwards. */
export async function freshPostgres(adminUrl: string): Promise<FreshDatabase> {
  const name = `cachelab_test_${nanoid(8)
    .replace(/[^a-zA-Z0-9]/g, 'x')
    .toLowerCase()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async cleanup() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * The databases a store test runs against: the embedded PGlite always, and a real PostgreSQL when
 * the test run was given one (`TEST_DATABASE_URL`, provided as `postgresUrl`).
 */
export function databaseBackends(postgresUrl: string): [string, () => Promise<FreshDatabase>][] {
  const backends: [string, () => Promise<FreshDatabase>][] = [['embedded PGlite', freshEmbedded]];
  if (postgresUrl) backends.push(['PostgreSQL', () => freshPostgres(postgresUrl)]);
  return backends;
}
