import '../support/context.ts';
import { startEmbeddedDatabase } from '@cachelab/store/embedded';
import {
  freePort,
  postgresBinaries,
  startPostgresServer,
  startRedisServer,
} from '@cachelab/testkit';
import type { TestProject } from 'vitest/node';

/**
 * Starts the real services the tests share: a `redis-server` on a free port (or the one named by
 * `REDIS_URL`), an in-memory embedded database, and a PostgreSQL of its own when the machine has
 * PostgreSQL's server binaries (or the one named by `TEST_DATABASE_URL`), which the store tests
 * run against besides the embedded one. Tests isolate themselves by key prefix and id.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
