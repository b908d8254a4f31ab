/**
 * The embedded database process: PGlite persisted under `DB_DATA_DIR`, served on `DB_PORT` so that
 * every app instance of the local cluster shares it. Stops cleanly on SIGINT/SIGTERM.
 */
import { resolve } from 'node:path';
import { type EmbeddedDatabase, startEmbeddedDatabase } from '../embedded.ts';

function readPort(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`${name} must be a TCP port (1-65535), got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return port;
}

const port = readPort('DB_PORT', 55432);
const host = process.env.DB_HOST || '127.0.0.1';
const dataDir = process.env.DB_DATA_DIR || '.data/pglite';
const location = dataDir.startsWith('memory://') ? dataDir : resolve(dataDir);

// Handlers first: a stop requested while PGlite is still starting must not kill us mid-write.
let stopping = false;
let database: EmbeddedDatabase | undefined;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing the database`);
  if (!database) return; // still starting: closed right after the start completes
  await database.stop();
  process.exit(0);
}
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

database = await startEmbeddedDatabase({ dataDir: location, host, port });
if (stopping) {
  await database.stop();
  process.exit(0);
} else {
  console.log(`embedded database (PGlite, ${location}) listening on ${database.url}`);
}
