/**
 * `@cachelab/store/embedded`: PGlite served over the Postgres wire protocol. An entry point of its
 * own because loading PGlite costs about 50 MiB of RSS and 0.3 s: only the processes that serve the
 * embedded database import it (the database process of `npm start`, the test setup, the bench),
 * never an instance, which reaches any database through `pg`.
 */
import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** Options of {@link startEmbeddedDatabase}. */
export interface EmbeddedDatabaseOptions {
  /** Directory that persists the data, or `memory://` for a throw-away database. */
  dataDir: string;
  /** TCP port to serve the Postgres wire protocol on. */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * Client connections served at once (PGlite runs their queries one at a time).
   * @default 100
   */
  maxConnections?: number;
}

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** A `postgres://` URL that `pg` clients connect to. */
  url: string;
  /** Stops serving and closes the database. */
  stop(): Promise<void>;
}

/**
 * Starts PGlite and serves it over the Postgres wire protocol, so several instance processes can
 * share one database with the same `pg` client they would use against a real PostgreSQL.
 */
export async function startEmbeddedDatabase(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  const host = options.host ?? '127.0.0.1';
  if (!options.dataDir.startsWith('memory://')) await mkdir(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const server = new PGLiteSocketServer({
    db,
    host,
    port: options.port,
    maxConnections: options.maxConnections ?? 100,
  });
  await server.start();
  return {
    url: `postgres://postgres@${host}:${options.port}/postgres`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
