import '../support/context.ts';
import { startEmbeddedDatabase } from '@cachelab/store';
import type { TestProject } from 'vitest/node';
import { freePort } from '../support/net.ts';
import { startRedisServer } from '../support/redis-server.ts';

/**
 * Starts the real services the tests share: a `redis-server` on a free port (or the one named by
 * `REDIS_URL`) and an in-memory embedded database. Tests isolate themselves by key prefix and id.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = process.env.REDIS_URL ? undefined : await startRedisServer();
  const database = await startEmbeddedDatabase({ dataDir: 'memory://', port: await freePort() });
  project.provide('redisUrl', process.env.REDIS_URL ?? (redis?.url as string));
  project.provide('databaseUrl', database.url);
  project.provide('postgresUrl', process.env.TEST_DATABASE_URL ?? '');
  return async () => {
    await database.stop();
    await redis?.stop();
  };
}
