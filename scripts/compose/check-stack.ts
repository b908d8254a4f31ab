/**
 * The checks of `npm run test:compose`, run by scripts/compose-test.sh once the engine and the
 * images are ready: brings docker-compose.yml up with its `languages` profile (the three Node
 * instances, app-python and app-go on one Redis and one PostgreSQL) on the host ports given in the
 * environment (`REDIS_HOST_PORT`, `APP_1_HOST_PORT`, …, `APP_PYTHON_HOST_PORT`,
 * `APP_GO_HOST_PORT`), waits until every service is healthy, then checks
 *
 *   - a write through app-1 is read at its new version on every other instance, Python and Go
 *     included, and a write through app-python or app-go on every other, Node included;
 *   - each instance names itself in `X-Instance` and says where a read came from in `X-Cache`:
 *     MISS for a user no instance has read, then L1 once its L1 holds it;
 *   - every bad request of the lab's list gets the status and error code app-1 gives from the
 *     Python and Go instances too;
 *   - the lab's `write-then-read`, and its `history` with a `kill-pubsub` fault against the
 *     stack's Redis, over all five instances, end with every write seen everywhere: no timed-out
 *     write, no stuck key;
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
import {
  type Instance,
  labRun,
  type ReadyStatus,
  readyStatus,
  refusalDifferences,
  tierHeaders,
  writeAndConverge,
} from './probes.ts';

const measuredFile = process.argv[2];
if (!measuredFile) throw new Error('usage: check-stack.ts MEASURED_FILE');

const port = (name: string) => {
  const value = process.env[name];
  if (!value || !/^\d+$/.test(value)) throw new Error(`${name} must be set to a port`);
  return value;
};
const instance = (name: string, language: string, variable: string): Instance => ({
  name,
  language,
  url: `http://127.0.0.1:${port(variable)}`,
});
const instances = [
  instance('app-1', 'node', 'APP_1_HOST_PORT'),
  instance('app-2', 'node', 'APP_2_HOST_PORT'),
  instance('app-3', 'node', 'APP_3_HOST_PORT'),
  instance('app-python', 'python', 'APP_PYTHON_HOST_PORT'),
  instance('app-go', 'go', 'APP_GO_HOST_PORT'),
];
const urls = instances.map((each) => each.url);
const redisUrl = `redis://127.0.0.1:${port('REDIS_HOST_PORT')}`;
/** Redis, PostgreSQL and the five instances. */
const SERVICES = 2 + instances.length;
const profile = ['--profile', 'languages'];
/** `urls` with the instance named `name` first: the writer of {@link writeAndConverge}. */
const writingThrough = (name: string) => [
  ...instances.filter((each) => each.name === name),
  ...instances.filter((each) => each.name !== name),
];

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
  await compose([...profile, 'up', '-d', '--no-build'], 180_000);
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

  // 2. Where a read came from, and who answered: X-Cache and X-Instance on every instance.
  const tiers = [];
  for (const [i, each] of instances.entries()) tiers.push(await tierHeaders(each, `${9001 + i}`));
  measure(`X-Instance and X-Cache: ${tiers.join(', ')}`);

  // 3. A write through each language, read at its new version on every other instance.
  for (const writer of ['app-1', 'app-python', 'app-go']) {
    const order = writingThrough(writer).map((each) => each.url);
    const writes = [];
    for (let i = 0; i < 20; i++) {
      writes.push(await writeAndConverge(order, `compose-${writer}-${i % 5}`));
    }
    const convergence = distribution(writes.flatMap((write) => write.convergenceMs));
    const staleFirst = writes.reduce((sum, write) => sum + write.staleFirstReads, 0);
    measure(
      `${writer} writes read on the 4 others: ${writes.length} writes, convergence p50 ${fmtMs(convergence.p50)} max ${fmtMs(convergence.max)}, ${staleFirst}/${convergence.count} first reads stale`,
    );
  }

  // 4. Bad requests: the status and error code of app-1 from the Python and Go instances too.
  const refusals = await refusalDifferences(instances[0] as Instance, instances.slice(3));
  measure(
    `bad requests: ${refusals.requests} each to app-1, app-python and app-go, ${refusals.differences.length} answered differently`,
  );
  if (refusals.differences.length > 0) throw new Error(refusals.differences.join('\n'));

  // 5. The lab against the stack: write-then-read, then history with a subscriber kill.
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

  // 6. Redis stopped: every instance degraded (still serving); started: ready again by itself.
  const stoppedAt = Date.now();
  await compose(['stop', 'redis'], 60_000);
  const degradedEach = await untilEvery('degraded', 30_000, stoppedAt);
  const degradedMs = Date.now() - stoppedAt;
  const startedAt = Date.now();
  await compose(['start', 'redis'], 60_000);
  const readyEach = await untilEvery('ready', 60_000, startedAt);
  const recoveredMs = Date.now() - startedAt;
  const after = await writeAndConverge(urls, 'compose-after-restart');
  measure(
    `Redis stop → /readyz degraded in ${seconds(degradedMs)} (${degradedEach}), start → ready in ${seconds(recoveredMs)} (${readyEach}), then a write converged in ${fmtMs(Math.max(...after.convergenceMs))}`,
  );

  // 7. Down, and nothing of the project left.
  await compose([...profile, 'down', '-v', '--timeout', '5'], 120_000);
  const left = await leftovers();
  if (left.length > 0) throw new Error(`down -v left ${left.join(', ')}`);
  measure(`down -v left no container, network or volume of ${PROJECT}`);
  console.log(`[compose-test] stack checks took ${seconds(Date.now() - started)}`);
} catch (error) {
  console.error(`compose-test: ${(error as Error).message}`);
  await printDiagnostics();
  process.exit(1);
}

/** Polls every /readyz until all say `status` at once; when each first did, ms after `since`. */
async function untilEvery(status: ReadyStatus, timeoutMs: number, since = Date.now()) {
  const first = new Map<string, number>();
  await until(`every /readyz to say ${status}`, timeoutMs, async () => {
    const statuses = await Promise.all(instances.map((each) => readyStatus(each.url)));
    statuses.forEach((s, i) => {
      const name = instances[i]?.name;
      if (s === status && name !== undefined && !first.has(name))
        first.set(name, Date.now() - since);
    });
    return statuses.every((s) => s === status) ? true : undefined;
  });
  return [...first].map(([name, ms]) => `${name} ${seconds(ms)}`).join(', ');
}

async function printDiagnostics(): Promise<void> {
  try {
    console.error(await compose([...profile, 'ps'], 30_000));
    console.error(
      (await compose([...profile, 'logs', '--no-color', '--tail', '30'], 30_000)).trimEnd(),
    );
  } catch (error) {
    console.error(`(no diagnostics: ${(error as Error).message})`);
  }
}
