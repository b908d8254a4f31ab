import '../support/context.ts';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmbeddedDatabase } from '@cachelab/store/embedded';
import {
  freePort,
  postgresBinaries,
  startPostgresServer,
  startRedisServer,
} from '@cachelab/testkit';
import type { TestProject } from 'vitest/node';
import { copyLuaScripts } from '../../scripts/build/copy-lua.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds the packages' `dist/` (`npm run build`: tsc, nothing to do when it is up to date, then
 * the protocol's Lua scripts copied into the library's), once before any test: tests import the
 * sources, but `npm start`'s cluster (test/cluster.e2e.test.ts), the bench's compiled instance and
 * the packed library (test/package-install.test.ts) run the compiled JavaScript, and test files
 * must not build it concurrently. A type error is reported, not
 * thrown: tsc still emits, and the tests of the sources run as they would without a build.
 */
async function buildPackages(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const args = [tsc, '-b', 'packages/cache', 'packages/store', 'packages/app'];
  await promisify(execFile)(process.execPath, args, { cwd: ROOT }).catch((error) => {
    console.warn(`npm run build failed (tests of dist/ may fail):\n${error.stdout}${error.stderr}`);
  });
  // The rest of `npm run build`: the protocol's Lua scripts next to the compiled library.
  copyLuaScripts(ROOT);
}

/**
 * Starts the real services the tests share: a `redis-server` on a free port (or the one named by
 * `REDIS_URL`), an in-memory embedded database, and a PostgreSQL of its own when the machine has
 * PostgreSQL's server binaries (or the one named by `TEST_DATABASE_URL`), which the store tests
 * run against besides the embedded one. Tests isolate themselves by key prefix and id.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await buildPackages();
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
