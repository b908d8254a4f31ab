import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  freePort,
  signalProcess,
  startRedisCluster,
  startRedisServer,
  type TestRedisCluster,
  type TestRedisServer,
  waitFor,
} from '@cachelab/testkit';
import { checkReadiness } from '../cluster/readiness.ts';
import {
  INSTANCE_LAUNCHERS,
  type InstanceLanguage,
  prepareCommands,
} from '../instance-languages.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Settings of a cluster the lab starts for itself. */
export interface LabClusterOptions {
  instances: number;
  /** The language of each instance, in order (`INSTANCE_LANGUAGES`). @default all `node` */
  languages?: readonly InstanceLanguage[];
  strategy: string;
  dbLatencyMs: number;
  seedUsers: number;
  /** Instances (1-based) whose cache fills are held this long after the database read. */
  slowFill?: { instances: number[]; delayMs: number };
  /**
   * Run on a Redis Cluster of its own (three masters, one replica each, `redis-server` processes
   * on free ports) instead of one Redis: the instances get `REDIS_CLUSTER_NODES`.
   */
  redisCluster?: boolean;
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

/**
 * A cluster of the lab's own: Redis on a free port (or a Redis Cluster of six nodes), the
 * embedded database, N instances.
 */
export interface LabCluster {
  instances: LabInstance[];
  /** The one Redis, unless the cluster runs on a Redis Cluster. */
  redis: TestRedisServer | undefined;
  /** The Redis Cluster, with `redisCluster: true`. */
  redisCluster: TestRedisCluster | undefined;
  /** Restarts the one Redis empty on the same port (SHUTDOWN NOSAVE, start again). */
  restartRedis(): Promise<void>;
  database(): ChildProcess;
  /** The `postgres://` URL of its database, for writes that bypass the instances. */
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * What every cluster still running must do if the process that started it exits: SIGKILL its
 * processes (instances, database, `redis-server`) and remove its data directory. Synchronous, so
 * that it can run in an `exit` listener.
 */
const liveClusters = new Set<() => void>();
// However the lab or a demo ends (an error, process.exit on SIGINT or a timeout), not one process
// it started outlives it. Listeners of `exit` run on process.exit too.
process.on('exit', () => {
  for (const killNow of liveClusters) killNow();
});

/** Starts a cluster and waits until every instance answers `/readyz`. */
export async function startLabCluster(options: LabClusterOptions): Promise<LabCluster> {
  // Before anything starts: a language whose instances cannot be prepared stops the lab here.
  await prepareLanguages(options.languages ?? []);
  const redisCluster = options.redisCluster ? await startRedisCluster() : undefined;
  const redis = redisCluster ? undefined : await startRedisServer();
  const redisEnv: Record<string, string> = redisCluster
    ? {
        REDIS_CLUSTER_NODES: redisCluster.seeds,
        // Only its credentials and TLS would count; never the host's default Redis.
        REDIS_URL: `redis://${redisCluster.seeds.split(',')[0]}`,
      }
    : { REDIS_URL: (redis as TestRedisServer).url };
  const instances: LabInstance[] = [];
  // Each instance reports this token on /readyz: an answer without it comes from a process that
  // took the port between freePort() and the instance's listen (a test's app on port 0, another
  // lab), and the lab must never run its workload — and its writes — against that process.
  const runId = randomBytes(9).toString('base64url');
  let database: ChildProcess | undefined;
  let dataDir: string | undefined;
  let databaseUrl = '';
  // Registered before anything else can fail or be interrupted: from here on, whatever ends this
  // process also ends the cluster.
  const killNow = () => {
    for (const instance of instances) instance.process().kill('SIGKILL');
    database?.kill('SIGKILL');
    redis?.process().kill('SIGKILL');
    for (const node of redisCluster?.nodes ?? []) node.process().kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  };
  liveClusters.add(killNow);
  try {
    dataDir = await mkdtemp(join(tmpdir(), 'cachelab-lab-'));
    const dbPort = await freePort();
    databaseUrl = `postgres://postgres@127.0.0.1:${dbPort}/postgres`;
    database = launch(
      ['node', '--import', 'tsx', 'packages/store/src/server/main.ts'],
      { DB_PORT: String(dbPort), DB_DATA_DIR: dataDir },
      options.verbose,
      true,
    );
    // Another process (another test's or lab's database) may take dbPort before this database
    // listens there (PGlite takes seconds to open), and the instances would connect to it. So
    // the cluster is ready only once this database says it listens: if it cannot, the lab stops
    // before its workload writes anything. Both waits run at once, and fail at the first failure.
    await Promise.all([databaseListening(database), startInstances(databaseUrl)]);
  } catch (error) {
    // An instance that never became ready (or anything else): stop what started, then say why.
    liveClusters.delete(killNow);
    killNow();
    throw error;
  }
  const db = database;
  const dir = dataDir;

  async function startInstances(databaseUrl: string): Promise<void> {
    for (let i = 1; i <= options.instances; i++) {
      const port = await freePort();
      const slow = options.slowFill?.instances.includes(i) ? options.slowFill.delayMs : 0;
      const env = {
        ...options.env,
        PORT: String(port),
        INSTANCE_NAME: `app-${i}`,
        ...redisEnv,
        DATABASE_URL: databaseUrl,
        DB_LATENCY_MS: String(options.dbLatencyMs),
        SEED_USERS: String(options.seedUsers),
        CACHE_STRATEGY: options.strategy,
        LAB_FILL_DELAY_MS: String(slow),
        CLUSTER_RUN_ID: runId,
      };
      const language = options.languages?.[i - 1] ?? 'node';
      instances.push(labInstance(`app-${i}`, language, port, env, options.verbose));
    }
    await Promise.all(
      instances.map((instance) => waitReady(instance.url, instance.process(), runId)),
    );
  }

  return {
    instances,
    get redis() {
      return redis;
    },
    redisCluster,
    async restartRedis() {
      if (!redis) throw new Error('a Redis Cluster is not restarted as a whole');
      // The same server object: its process() stays the one the exit listener kills.
      await redis.restart();
    },
    database: () => db,
    databaseUrl,
    async stop() {
      liveClusters.delete(killNow);
      for (const instance of instances) instance.process().kill('SIGKILL');
      db.kill('SIGKILL');
      await redis?.stop();
      await redisCluster?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs the `prepare` command of each language of the cluster once (e.g. the Python instance's
 * virtual environment); fails with what the command printed.
 */
export async function prepareLanguages(languages: readonly InstanceLanguage[]): Promise<void> {
  for (const [program = 'true', ...args] of prepareCommands(languages)) {
    try {
      await promisify(execFile)(program, args, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      throw new Error(
        `preparing instances failed (${[program, ...args].join(' ')}): ${`${stdout}${stderr}`.trim()}`,
      );
    }
  }
}

function labInstance(
  name: string,
  language: InstanceLanguage,
  port: number,
  env: Record<string, string>,
  verbose?: boolean,
): LabInstance {
  const command = INSTANCE_LAUNCHERS[language].fromSources;
  let child = launch(command, env, verbose);
  const url = `http://127.0.0.1:${port}`;
  return {
    name,
    url,
    process: () => child,
    async restart(extra = {}) {
      // Returns at once when the process has exited already (killed by a fault, or crashed):
      // its `exit` event is gone and will not come again.
      await signalProcess(child, 'SIGKILL');
      Object.assign(env, extra);
      child = launch(command, env, verbose);
      await waitReady(url, child, env.CLUSTER_RUN_ID as string);
    },
  };
}

/**
 * Spawns `command` from the repository root (`node` is this process's Node); `piped`: its stdout
 * and stderr are readable (and echoed if verbose).
 */
function launch(
  command: readonly string[],
  env: Record<string, string>,
  verbose?: boolean,
  piped = false,
): ChildProcess {
  const [program = 'node', ...args] = command;
  const child = spawn(program === 'node' ? process.execPath : program, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: piped ? ['ignore', 'pipe', 'pipe'] : verbose ? 'inherit' : 'ignore',
  });
  child.once('error', () => {});
  if (piped && verbose) {
    child.stdout?.pipe(process.stdout);
    child.stderr?.pipe(process.stderr);
  }
  return child;
}

/** What the embedded database prints once it listens (packages/store/src/server/main.ts). */
const DATABASE_LISTENING = /listening on postgres:\/\//;

/**
 * Waits until the database process `child` says that it listens (so that its port is its own);
 * fails with what it printed if it exits first (e.g. its port was taken), or after `timeoutMs`.
 * Its output is read to the end either way, so that its pipes never fill.
 */
export async function databaseListening(child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  let output = '';
  let resolve = () => {};
  let reject = (_error: Error) => {};
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    if (DATABASE_LISTENING.test(output)) resolve();
  };
  const onExit = () => {
    const how = child.exitCode ?? child.signalCode;
    reject(new Error(`the lab's database exited (${how}) before it listened: ${output.trim()}`));
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  if (child.exitCode !== null || child.signalCode !== null) onExit();
  else child.once('exit', onExit);
  const timer = setTimeout(
    () => reject(new Error(`the lab's database did not listen within ${timeoutMs} ms`)),
    timeoutMs,
  );
  try {
    await promise;
  } finally {
    clearTimeout(timer);
    child.off('exit', onExit);
    child.stdout?.off('data', onData);
    child.stderr?.off('data', onData);
    child.stdout?.resume();
    child.stderr?.resume();
  }
}

/**
 * Waits until `url` answers `/readyz` as the instance `child` of this cluster (reporting `runId`).
 * Fails at once if `child` exits meanwhile, or if another process answers there (it took the port
 * first): the lab's requests, writes included, must only ever reach its own instances.
 */
export async function waitReady(url: string, child: ChildProcess, runId: string): Promise<void> {
  let exitedFirst = false;
  let onExit = () => {};
  const exited = new Promise<never>((_, reject) => {
    onExit = () => {
      exitedFirst = true;
      const how = child.exitCode ?? child.signalCode;
      reject(new Error(`the instance of ${url} exited (${how}) before it was ready`));
    };
  });
  if (child.exitCode !== null || child.signalCode !== null) onExit();
  else child.once('exit', onExit);
  let foreign: string | undefined;
  const ready = waitFor(
    // Once the process is gone, stop polling (the race below has already failed).
    async () => {
      if (exitedFirst) return true;
      const answer = await checkReadiness(url, runId);
      if (answer.state === 'foreign') foreign = answer.detail;
      return answer.state !== 'pending';
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `${url} to be ready` },
  );
  try {
    await Promise.race([ready, exited]);
  } finally {
    child.off('exit', onExit);
  }
  if (foreign !== undefined) {
    throw new Error(`${url} is answered by a process the lab did not start (${foreign})`);
  }
}
