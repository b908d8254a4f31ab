import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/net.ts';
import { startRedisServer, type TestRedisServer } from '../../test/support/redis-server.ts';
import { waitFor } from '../../test/support/wait.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Settings of a cluster the lab starts for itself. */
export interface LabClusterOptions {
  instances: number;
  strategy: string;
  dbLatencyMs: number;
  seedUsers: number;
  /** Instances (1-based) whose cache fills are held this long after the database read. */
  slowFill?: { instances: number[]; delayMs: number };
  /** Extra environment for every instance. */
  env?: Record<string, string>;
  /** Echo the processes' output (for debugging). */
  verbose?: boolean;
}

/** One app instance process. */
export interface LabInstance {
  name: string;
  url: string;
  process(): ChildProcess;
  /**
   * Kills it (SIGKILL) and starts it again on the same port, with an empty L1. `env` is laid over
   * its settings, for this start and the later ones (e.g. `{ CACHE_STRATEGY: 'none' }`).
   */
  restart(env?: Record<string, string>): Promise<void>;
}

/** A cluster of the lab's own: Redis on a free port, the embedded database, N instances. */
export interface LabCluster {
  instances: LabInstance[];
  redis: TestRedisServer;
  /** Restarts Redis empty on the same port (SHUTDOWN NOSAVE, start again). */
  restartRedis(): Promise<void>;
  database(): ChildProcess;
  stop(): Promise<void>;
}

/** Starts a cluster and waits until every instance answers `/readyz`. */
export async function startLabCluster(options: LabClusterOptions): Promise<LabCluster> {
  let redis = await startRedisServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-lab-'));
  const dbPort = await freePort();
  const databaseUrl = `postgres://postgres@127.0.0.1:${dbPort}/postgres`;
  const database = launch(
    'packages/store/src/server/main.ts',
    { DB_PORT: String(dbPort), DB_DATA_DIR: dataDir },
    options.verbose,
  );
  const instances: LabInstance[] = [];
  for (let i = 1; i <= options.instances; i++) {
    const port = await freePort();
    const slow = options.slowFill?.instances.includes(i) ? options.slowFill.delayMs : 0;
    const env = {
      ...options.env,
      PORT: String(port),
      INSTANCE_NAME: `app-${i}`,
      REDIS_URL: redis.url,
      DATABASE_URL: databaseUrl,
      DB_LATENCY_MS: String(options.dbLatencyMs),
      SEED_USERS: String(options.seedUsers),
      CACHE_STRATEGY: options.strategy,
      LAB_FILL_DELAY_MS: String(slow),
    };
    instances.push(labInstance(`app-${i}`, port, env, options.verbose));
  }
  await Promise.all(instances.map((instance) => waitReady(instance.url)));
  return {
    instances,
    get redis() {
      return redis;
    },
    async restartRedis() {
      const { port } = redis;
      await redis.stop();
      redis = await startRedisServer({ port });
    },
    database: () => database,
    async stop() {
      for (const instance of instances) instance.process().kill('SIGKILL');
      database.kill('SIGKILL');
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function labInstance(
  name: string,
  port: number,
  env: Record<string, string>,
  verbose?: boolean,
): LabInstance {
  let child = launch('packages/app/src/main.ts', env, verbose);
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    url,
    process: () => child,
    async restart(extra = {}) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      Object.assign(env, extra);
      child = launch('packages/app/src/main.ts', env, verbose);
      await waitReady(url);
    },
  };
}

function launch(entry: string, env: Record<string, string>, verbose?: boolean): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: verbose ? 'inherit' : 'ignore',
  });
  child.once('error', () => {});
  return child;
}

async function waitReady(url: string): Promise<void> {
  await waitFor(
    async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1000) })).ok,
    { timeoutMs: 60_000, intervalMs: 100, what: `${url} to be ready` },
  );
}
