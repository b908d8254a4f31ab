import { readFile } from 'node:fs/promises';
import type { StatsResponse } from '@cachelab/app';
import { createPool, prepareDatabase } from '@cachelab/store';
import { startEmbeddedDatabase } from '@cachelab/store/embedded';
import { freePort, type InstanceProcess, startInstance, startRedisServer } from '@cachelab/testkit';
import { track } from './child.ts';

/** The Redis and database every section of one run shares; each section uses its own namespace. */
export interface BenchServices {
  redisUrl: string;
  databaseUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts a `redis-server` on a free port and the embedded database (in memory, served over the
 * Postgres wire protocol from this process), seeded with users 1…`seedUsers`.
 */
export async function startServices(seedUsers: number): Promise<BenchServices> {
  const redis = await startRedisServer();
  const database = await startEmbeddedDatabase({ dataDir: 'memory://', port: await freePort() });
  // Seeding is setup, not measured: on a loaded machine it may take longer than a query may.
  const pool = createPool({ connectionString: database.url, max: 1, queryTimeoutMs: 300_000 });
  await prepareDatabase(pool, { seedUsers });
  await pool.end();
  return {
    redisUrl: redis.url,
    databaseUrl: database.url,
    async stop() {
      await database.stop();
      await redis.stop();
    },
  };
}

/**
 * CPU time (user + system) a process has used so far, in µs (Linux: /proc). Unlike requests/s it
 * hardly depends on what else the machine runs, which makes it the steadier comparison here.
 */
export async function cpuMicros(pid: number | undefined): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3; utime and stime are
  // fields 14 and 15, in clock ticks of 10 ms (USER_HZ is 100 on Linux).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** An app instance process of the bench. */
export interface BenchInstance extends InstanceProcess {
  stats(): Promise<StatsResponse>;
  /** Resident set size of the process, in bytes (Linux: /proc). */
  rss(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts instances with `env` each (on top of the services' URLs), all at once: from the sources
 * under tsx, or the compiled `dist/main.js` with `compiled` (built by `npm run build`).
 */
export async function startInstances(
  services: BenchServices,
  envs: Record<string, string>[],
  nodeArgs: string[] = [],
  { compiled = false }: { compiled?: boolean } = {},
): Promise<BenchInstance[]> {
  const started = await Promise.allSettled(
    envs.map((env) =>
      retryOnPortClash(() =>
        startInstance(
          { REDIS_URL: services.redisUrl, DATABASE_URL: services.databaseUrl, ...env },
          // Generous: on a loaded machine compiling and starting an instance can take a while.
          { nodeArgs, compiled, onSpawn: track, timeoutMs: 120_000 },
        ),
      ),
    ),
  );
  const instances = started.flatMap((s) =>
    s.status === 'fulfilled' ? [benchInstance(s.value)] : [],
  );
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(instances.map((instance) => instance.stop()));
    throw (failed as PromiseRejectedResult).reason;
  }
  return instances;
}

/**
 * Retries `start` when the free port it picked was taken before it could listen on it (the bench
 * starts many processes at once, and their outgoing connections use the same port range).
 */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= attempts || !String((error as Error).message).includes('EADDRINUSE')) {
        throw error;
      }
    }
  }
}

function benchInstance(instance: InstanceProcess): BenchInstance {
  return {
    ...instance,
    async stats() {
      return (await (await fetch(`${instance.url}/stats`)).json()) as StatsResponse;
    },
    async rss() {
      const status = await readFile(`/proc/${instance.child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN) * 1024;
    },
    async stop() {
      if (instance.child.exitCode !== null) return;
      instance.child.kill('SIGTERM');
      await instance.exited;
    },
  };
}
