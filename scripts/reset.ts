/**
 * `npm run reset`: puts the cluster of `npm start` back to its first start. Deletes the embedded
 * database's data directory (the next `npm start` creates and seeds it again) and the cache
 * namespace's keys in the Redis the cluster uses, if that Redis keeps any. Reads the same settings
 * as `npm start` (DB_DATA_DIR, REDIS_URL, REDIS_PORT, CACHE_NAMESPACE, BASE_PORT…), and refuses
 * while that cluster runs.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrl } from '@cachelab/app';
import {
  type ClusterConfig,
  ClusterConfigError,
  displayPath,
  readClusterConfig,
} from '@cachelab/lab/cluster/config.ts';
import { accepts, dataDirHolder, dataDirInUse } from '@cachelab/lab/cluster/preflight.ts';
import {
  deleteClusterNamespaceKeys,
  deleteNamespaceKeys,
} from '@cachelab/lab/cluster/reset-redis.ts';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '@cachelab/store/data-dir-lock';

/** Prints why nothing was reset and exits with status 1. */
function fail(message: string): never {
  console.error(`reset: ${message}`);
  process.exit(1);
}

let config: ClusterConfig;
try {
  config = readClusterConfig(process.env);
} catch (error) {
  if (error instanceof ClusterConfigError) fail(error.message);
  throw error;
}

// 1. Refuse while the cluster runs: its database holds the data directory's lock, and its
//    instances listen on their ports.
const holder = dataDirHolder(config);
if (holder !== undefined) {
  fail(`${dataDirInUse(config, holder)}: stop the cluster first (Ctrl-C where npm start runs)`);
}
for (const port of config.appPorts) {
  if (await accepts(port)) {
    fail(
      `something listens on port ${port} (BASE_PORT): stop the cluster first (Ctrl-C where npm start runs)`,
    );
  }
}
// npm start's own redis-server lives and dies with its cluster and keeps nothing on disk: one that
// answers belongs to a cluster still running (perhaps on other ports and another data directory,
// sharing only REDIS_PORT), whose keys are not this reset's to delete.
if (config.redis.kind === 'own' && (await accepts(config.redis.port))) {
  fail(
    `something listens on port ${config.redis.port} (REDIS_PORT), the port of npm start's own redis-server: a cluster still runs there; stop it first (Ctrl-C where npm start runs)`,
  );
}

// 2. Check the data directory before deleting anything anywhere.
const dataDir = databaseToDelete(config);

// 3. Redis before the database: if its keys cannot be deleted, nothing is reset (versions restart
//    at 1 with a fresh database, and pointers left at higher versions would hide the new rows
//    until they expire).
await resetRedis(config);

// 4. The database.
if (dataDir) deleteDatabase(dataDir, config.seedUsers);

async function resetRedis({ redis, namespace }: ClusterConfig): Promise<void> {
  if (redis.kind === 'own') {
    console.log(
      `reset: Redis: nothing to delete (npm start's own redis-server keeps nothing on disk and stopped with the cluster)`,
    );
    return;
  }
  const where = redis.clusterNodes
    ? `the Redis Cluster of REDIS_CLUSTER_NODES (${redis.clusterNodes.join(',')})`
    : `the Redis of REDIS_URL (${redactUrl(redis.url)})`;
  try {
    const deleted = redis.clusterNodes
      ? await deleteClusterNamespaceKeys(redis.clusterNodes, namespace)
      : await deleteNamespaceKeys(redis.url, namespace);
    console.log(
      `reset: Redis: deleted ${deleted} key(s) under "${namespace}:" in ${where}; no other key`,
    );
  } catch (error) {
    fail(
      `could not delete the keys under "${namespace}:" in ${where}: ${(error as Error).message}. Nothing was reset.`,
    );
  }
}

/** The data directory to delete, or `undefined` when there is none; refuses a foreign one. */
function databaseToDelete(config: ClusterConfig): string | undefined {
  if (config.databaseUrl) {
    console.log('reset: database: DATABASE_URL is set; npm run reset does not touch that database');
    return undefined;
  }
  const dir = config.dbDataDir;
  if (!existsSync(dir)) {
    console.log(
      `reset: database: nothing to delete (DB_DATA_DIR ${displayPath(dir)} does not exist)`,
    );
    return undefined;
  }
  // A guard against a mistyped DB_DATA_DIR: only a database directory (or an empty one) goes.
  const entries = readdirSync(dir).filter((name) => name !== LOCK_FILE);
  if (entries.length > 0 && !existsSync(join(dir, 'PG_VERSION'))) {
    fail(
      `DB_DATA_DIR ${displayPath(dir)} does not look like a database directory (no PG_VERSION): not deleting it; nothing was reset`,
    );
  }
  return dir;
}

function deleteDatabase(dir: string, seedUsers: number): void {
  const shown = `DB_DATA_DIR ${displayPath(dir)}`;
  try {
    // Held while deleting: an npm start beginning meanwhile is refused, not given half a database.
    lockDataDir(dir);
  } catch (error) {
    if (error instanceof DataDirLockedError)
      fail(`${shown} was just taken by process ${error.pid}`);
    throw error;
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `reset: database: deleted ${shown}; the next npm start creates it and seeds ${seedUsers} users`,
  );
}
