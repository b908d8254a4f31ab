/**
 * The embedded database process: PGlite persisted under `DB_DATA_DIR`, served on `DB_PORT` so that
 * every app instance of the local cluster shares it. Refuses to start on a data directory another
 * live process serves, or on a port that is taken, with one line saying which setting to change.
 * Stops cleanly on SIGINT/SIGTERM, after its clients have disconnected (up to
 * {@link CLIENTS_GRACE_MS}): Ctrl-C reaches the instances and the database at once, and the
 * instances should close their connections before the database goes away under them.
 */
import { resolve } from 'node:path';
import { DataDirLockedError } from '../data-dir-lock.ts';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../embedded.ts';

/** Longest wait on SIGINT/SIGTERM for the clients to close their connections (ms). */
const CLIENTS_GRACE_MS = 5000;

function readPort(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a TCP port (1-65535), got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return port;
}

const port = readPort('DB_PORT', 25432);
const host = process.env.DB_HOST || '127.0.0.1';
const dataDir = process.env.DB_DATA_DIR || '.data/pglite';
const location = dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);

// Handlers first: a stop requested while PGlite is still starting must not kill us mid-write.
let stopping = false;
let database: EmbeddedDatabase | undefined;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  if (!database) return; // still starting: closed right after the start completes
  const open = database.connections();
  console.log(
    open > 0
      ? `${signal}: closing the database once its ${open} client connection(s) close (at most ${CLIENTS_GRACE_MS / 1000} s)`
      : `${signal}: closing the database`,
  );
  await database.stop({ graceMs: CLIENTS_GRACE_MS });
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

try {
  database = await startEmbeddedDatabase({ dataDir: location, host, port });
} catch (error) {
  console.error(startError(error));
  process.exit(1);
}
if (stopping) {
  await database.stop();
  process.exit(0);
} else {
  console.log(`embedded database (PGlite, ${location}) listening on ${database.url}`);
}

/** One line naming what is in the way and the setting that moves the database elsewhere. */
function startError(error: unknown): string {
  if (error instanceof DataDirLockedError) {
    return (
      `database: DB_DATA_DIR ${error.dataDir} is in use by process ${error.pid} (another cachelab ` +
      `database, e.g. another npm start; lock file ${error.lockPath}): stop it, or set DB_DATA_DIR ` +
      'to another directory'
    );
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return `database: port ${port} (DB_PORT) on ${host} is already in use: stop what listens there, or set DB_PORT to a free port`;
  }
  if (code === 'EACCES') return `database: not allowed to listen on port ${port} (DB_PORT)`;
  return `database: could not start on ${location}: ${(error as Error).message}`;
}
