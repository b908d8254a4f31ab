import type { InstanceProcess, TestDatabaseServer, TestRedisServer } from '@cachelab/testkit';
import { startDatabaseServer, startInstance, startRedisServer } from '@cachelab/testkit';
import { inject } from 'vitest';

/** One instance per name given, in the same order. */
export type Instances<Names extends readonly string[]> = {
  -readonly [K in keyof Names]: InstanceProcess;
};

/**
 * Starts one app instance per name, all at once, each with `env` and its `INSTANCE_NAME`; resolves
 * once every one is ready.
 */
export function startInstances<const Names extends readonly string[]>(
  names: Names,
  env: Record<string, string>,
): Promise<Instances<Names>> {
  const started = names.map((name) => startInstance({ ...env, INSTANCE_NAME: name }));
  return Promise.all(started) as Promise<Instances<Names>>;
}

/**
 * A database process of the test's own (`startDatabaseServer`: the test may freeze or kill it) and
 * instances over it and the shared Redis (`inject('redisUrl')`), without simulated database
 * latency; `env` is laid over that. If an instance fails to start, the database is stopped.
 */
export async function startWithOwnDatabase<const Names extends readonly string[]>(
  names: Names,
  env: Record<string, string>,
): Promise<{ database: TestDatabaseServer; instances: Instances<Names> }> {
  const database = await startDatabaseServer();
  const base = { REDIS_URL: inject('redisUrl'), DATABASE_URL: database.url, DB_LATENCY_MS: '0' };
  try {
    return { database, instances: await startInstances(names, { ...base, ...env }) };
  } catch (error) {
    await database.stop();
    throw error;
  }
}

/**
 * A `redis-server` of the test's own (`startRedisServer`: the test may kill it or its clients) and
 * instances over it and the shared database (`inject('databaseUrl')`), without simulated database
 * latency; `env` is laid over that. If an instance fails to start, the redis-server is stopped.
 */
export async function startWithOwnRedis<const Names extends readonly string[]>(
  names: Names,
  env: Record<string, string>,
): Promise<{ redis: TestRedisServer; instances: Instances<Names> }> {
  const redis = await startRedisServer();
  const base = { REDIS_URL: redis.url, DATABASE_URL: inject('databaseUrl'), DB_LATENCY_MS: '0' };
  try {
    return { redis, instances: await startInstances(names, { ...base, ...env }) };
  } catch (error) {
    await redis.stop();
    throw error;
  }
}

/**
 * SIGKILL to every instance still running, for an `afterAll`: SIGCONT first, for one a test left
 * stopped. Instances never started (`undefined`, a failed `beforeAll`) are skipped.
 */
export function killInstances(instances: readonly (InstanceProcess | undefined)[]): void {
  for (const instance of instances) {
    if (!instance) continue;
    instance.child.kill('SIGCONT');
    if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
  }
}
