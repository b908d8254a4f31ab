import '../support/context.ts';
import { startEmbeddedDatabase } from '@cachelab/store/embedded';
import {
  freePort,
  postgresBinaries,
  startPostgresServer,
  startRedisCluster,
  startRedisServer,
} from '@cachelab/testkit';
import type { TestProject } from 'vitest/node';

/**
 * Starts the real services the tests share: a `redis-server` on a free port (or the one named by
 * `REDIS_URL`), an in-memory embedded database, and a PostgreSQL of its own when the machine has
 * PostgreSQL's server binaries (or the one named by `TEST_DATABASE_URL`), which the store tests
 * run against besides the embedded one. With `redisCluster`, also one Redis Cluster (three
 * masters, a replica each) for the tests that only read and write through one. Tests isolate
 * themselves by key prefix and id. Resolves to the teardown, which stops what it started.
 */
export async function startServices(
  project: TestProject,
  options: { redisCluster: boolean },
): Promise<() => Promise<void>> {
  // Begun together: the cluster's six nodes take about two seconds to form it, which the
  // servers take anyway (the embedded database alone takes seconds).
  const [cluster, servers] = await Promise.allSettled([
    options.redisCluster ? startRedisCluster() : undefined,
    startServers(project),
  ]);
  const teardown = async () => {
    await Promise.all([
      cluster.status === 'fulfilled' ? cluster.value?.stop() : undefined,
      servers.status === 'fulfilled' ? servers.value() : undefined,
    ]);
  };
  for (const result of [cluster, servers]) {
    if (result.status === 'rejected') {
      await teardown();
      throw result.reason;
    }
  }
  if (cluster.status === 'fulfilled' && cluster.value) {
    project.provide('redisClusterNodes', cluster.value.seeds);
  }
  return teardown;
}

/**
 * The `redis-server` and the databases of {@link startServices}, each provided to the tests;
 * resolves to their teardown.
 */
async function startServers(project: TestProject): Promise<() => Promise<void>> {
  const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
  const database = await startEmbeddedDatabase({ dataDir: 'memory://', port: await freePort() });
  const postgres =
    process.env.TEST_DATABASE_URL || !postgresBinaries() ? undefined : await startPostgresServer();
  project.provide('redisUrl', process.env.REDIS_URL ?? (redis?.url as string));
  project.provide('databaseUrl', database.url);
  project.provide('postgresUrl', process.env.TEST_DATABASE_URL ?? postgres?.url ?? '');
  return async () => {
    await Promise.all([database.stop(), postgres?.stop()]);
    await redis?.stop();
  };
}

/** The integration project's setup: the shared `redis-server` and databases, no Redis Cluster. */
export default function setup(project: TestProject): Promise<() => Promise<void>> {
  return startServices(project, { redisCluster: false });
}
