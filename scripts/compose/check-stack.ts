/**
 * The checks of `npm run test:compose`, run by scripts/compose-test.sh once the engine and the
 * images are ready: brings docker-compose.yml up on the host ports given in the environment
 * (`REDIS_HOST_PORT`, `APP_1_HOST_PORT`, …), waits until every service is healthy, then checks
 *
 *   - a write through app-1 is read at its new version on app-2 and app-3;
 *   - the lab's `write-then-read`, and its `history` with a `kill-pubsub` fault against the
 *     stack's Redis, end with every write seen everywhere: no timed-out write, no stuck key;
 *   - stopping the Redis container turns every `/readyz` to `degraded`, and starting it again
 *     brings `ready` back with nothing restarted by hand;
 *   - `docker compose down -v` leaves no container, network or volume of the project.
 *
 * Each measurement is appended as one line to the file named by the first argument, which the
 * shell script prints as its verdict. Exits non-zero on the first check that fails.
 */
import { appendFileSync } from 'node:fs';
import { type CheckResult, distribution, summarize } from '@cachelab/lab/lab/checker.ts';
import { compose, containerHealth, leftovers, PROJECT, until } from './docker.ts';
import { labRun, type ReadyStatus, readyStatus, writeAndConverge } from './probes.ts';

const measuredFile = process.argv[2];
if (!measuredFile) throw new Error('usage: check-stack.ts MEASURED_FILE');

const port = (name: string) => {
  const value = process.env[name];
  if (!value || !/^\d+$/.test(value)) throw new Error(`${name} must be set to a port`);
  return value;
};
const urls = ['APP_1_HOST_PORT', 'APP_2_HOST_PORT', 'APP_3_HOST_PORT'].map(
  (name) => `http://127.0.0.1:${port(name)}`,
);
const redisUrl = `redis://127.0.0.1:${port('REDIS_HOST_PORT')}`;
const SERVICES = 5;

const started = Date.now();
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const fmtMs = (ms: number) => `${ms.toFixed(1)} ms`;
function measure(line: string): void {
  appendFileSync(measuredFile as string, `${line}\n`);
  console.log(`[compose-test] ${line}`);
}

try {
  // 1. Up, and healthy: every container's own healthcheck passing.
  const upAt = Date.now();
  await compose(['up', '-d', '--no-build'], 180_000);
  await until(
    'every service to be healthy',
    180_000,
    async () => {
      const health = await containerHealth();
      const failed = [...health].filter(([, status]) =>
        ['exited', 'dead', 'unhealthy'].includes(status),
      );
      if (failed.length > 0) throw new Error(failed.map((entry) => entry.join(' ')).join(', '));
      const healthy = [...health.values()].filter((status) => status === 'healthy').length;
      return healthy === SERVICES ? true : undefined;
    },
    1000,
  );
  measure(`healthy ${seconds(Date.now() - upAt)} after up`);

  // 2. A write through app-1, read at its new version on app-2 and app-3.
  const writes = [];
  for (let i = 0; i < 20; i++) writes.push(await writeAndConverge(urls, `compose-${i % 5}`));
  const convergence = distribution(writes.flatMap((write) => write.convergenceMs));
  const staleFirst = writes.reduce((sum, write) => sum + write.staleFirstReads, 0);
  measure(
    `app-1 writes read on app-2/app-3: ${writes.length} writes, convergence p50 ${fmtMs(convergence.p50)} max ${fmtMs(convergence.max)}, ${staleFirst}/${convergence.count} first reads stale`,
  );

  // 3. The lab against the stack: write-then-read, then history with a subscriber kill.
  const wtr = (
    await labRun(['write-then-read', '--urls', urls.join(','), '--iterations', '60'])
  ).json<{ instance: string; firstReadStale: number; timedOut: number; convergenceMs: number[] }[]>(
    '-write-then-read.json',
  );
  const wtrTimedOut = wtr.reduce((sum, row) => sum + row.timedOut, 0);
  const wtrStale = wtr.reduce((sum, row) => sum + row.firstReadStale, 0);
  const wtrConvergence = distribution(wtr.flatMap((row) => row.convergenceMs));
  measure(
    `lab write-then-read: ${wtrTimedOut} never seen, ${wtrStale} stale first reads, convergence p99 ${fmtMs(wtrConvergence.p99)}`,
  );
  if (wtrTimedOut > 0) throw new Error(`write-then-read: ${wtrTimedOut} writes never seen`);

  const history = await labRun([
    'history',
    '--urls',
    urls.join(','),
    '--redis-url',
    redisUrl,
    '--duration',
    '6s',
    '--quiet',
    '2s',
    '--fault',
    'kill-pubsub@2s',
  ]);
  const summary = summarize(history.json<{ result: CheckResult }>('-history.json').result);
  measure(
    `lab history with kill-pubsub: ${summary.reads} reads, ${summary.staleReads} stale, ${summary.stuckKeys} stuck keys, ${summary.mismatches} mismatches`,
  );
  if (summary.stuckKeys > 0 || summary.mismatches > 0)
    throw new Error('history: stuck keys or mismatches');

  // 4. Redis stopped: every instance degraded (still serving); started: ready again by itself.
  const stoppedAt = Date.now();
  await compose(['stop', 'redis'], 60_000);
  await untilEvery('degraded', 30_000);
  const degradedMs = Date.now() - stoppedAt;
  const startedAt = Date.now();
  await compose(['start', 'redis'], 60_000);
  await untilEvery('ready', 60_000);
  const recoveredMs = Date.now() - startedAt;
  const after = await writeAndConverge(urls, 'compose-after-restart');
  measure(
    `Redis stop → /readyz degraded in ${seconds(degradedMs)}, start → ready in ${seconds(recoveredMs)}, then a write converged in ${fmtMs(Math.max(...after.convergenceMs))}`,
  );

  // 5. Down, and nothing of the project left.
  await compose(['down', '-v', '--timeout', '5'], 120_000);
  const left = await leftovers();
  if (left.length > 0) throw new Error(`down -v left ${left.join(', ')}`);
  measure(`down -v left no container, network or volume of ${PROJECT}`);
  console.log(`[compose-test] stack checks took ${seconds(Date.now() - started)}`);
} catch (error) {
  console.error(`compose-test: ${(error as Error).message}`);
  await printDiagnostics();
  process.exit(1);
}

async function untilEvery(status: ReadyStatus, timeoutMs: number): Promise<void> {
  await until(`every /readyz to say ${status}`, timeoutMs, async () => {
    const statuses = await Promise.all(urls.map((url) => readyStatus(url)));
    return statuses.every((s) => s === status) ? true : undefined;
  });
}

async function printDiagnostics(): Promise<void> {
  try {
    console.error(await compose(['ps'], 30_000));
    console.error((await compose(['logs', '--no-color', '--tail', '30'], 30_000)).trimEnd());
  } catch (error) {
    console.error(`(no diagnostics: ${(error as Error).message})`);
  }
}
