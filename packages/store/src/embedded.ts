/**
 * `@cachelab/store/embedded`: PGlite served over the Postgres wire protocol. An entry point of its
 * own because loading PGlite costs about 50 MiB of RSS and 0.3 s: only the processes that serve the
 * embedded database import it (the database process of `npm start`, the test setup, the bench),
 * never an instance, which reaches any database through `pg`.
 */
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { PGlite } from '@electric-sql/pglite';
import { type DataDirLock, lockDataDir } from './data-dir-lock.ts';
import { startWireServer } from './wire/server.ts';

/** Options of {@link startEmbeddedDatabase}. */
export interface EmbeddedDatabaseOptions {
  /**
   * Directory that persists the data, or `memory://` for a throw-away database. A directory is
   * locked for as long as the database runs (see {@link lockDataDir}).
   */
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

/** Options of {@link EmbeddedDatabase.stop}. */
export interface StopOptions {
  /**
   * Waits up to this long (ms) for the clients to close their connections first, serving them
   * meanwhile, so that clients stopping at the same time see no connection cut under them.
   * @default 0 (cut at once)
   */
  graceMs?: number;
}

/** A running embedded database. */
export interface EmbeddedDatabase {
  /** A `postgres://` URL that `pg` clients connect to. */
  url: string;
  /** Client connections open now. */
  connections(): number;
  /** Stops serving, closes the database and releases its data directory. */
  stop(options?: StopOptions): Promise<void>;
}

/**
 * Starts PGlite and serves it over the Postgres wire protocol, so several instance processes can
 * share one database with the same `pg` client they would use against a real PostgreSQL.
 * @throws DataDirLockedError when another live process serves the same data directory.
 * @throws the listen error (`code: 'EADDRINUSE'` when the port is taken); nothing is left held.
 */
export async function startEmbeddedDatabase(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  const host = options.host ?? '127.0.0.1';
  let lock: DataDirLock | undefined;
  if (!options.dataDir.startsWith('memory://')) {
    await mkdir(options.dataDir, { recursive: true });
    // Before PGlite opens anything: two processes writing one directory lose each other's writes.
    lock = lockDataDir(options.dataDir);
  }
  let db: PGlite | undefined;
  try {
    // Fails in milliseconds on a taken port, rather than after PGlite's start (seconds).
    await checkPortFree(host, options.port);
    db = await PGlite.create(options.dataDir);
    const server = await startWireServer({
      db,
      host,
      port: options.port,
      maxConnections: options.maxConnections ?? 100,
    });
    const opened = db;
    return {
      url: `postgres://postgres@${host}:${options.port}/postgres`,
      connections: () => server.connections(),
      async stop({ graceMs = 0 } = {}) {
        const deadline = Date.now() + graceMs;
        while (server.connections() > 0 && Date.now() < deadline) await delay(20);
        await server.stop();
        await opened.close();
        lock?.release();
      },
    };
  } catch (error) {
    await db?.close().catch(() => {});
    lock?.release();
    throw error;
  }
}

/** Rejects with the listen error (e.g. `EADDRINUSE`) when `host:port` cannot be bound now. */
async function checkPortFree(host: string, port: number): Promise<void> {
  const probe = createServer();
  probe.listen(port, host);
  await once(probe, 'listening');
  await new Promise((resolve) => probe.close(resolve));
}
