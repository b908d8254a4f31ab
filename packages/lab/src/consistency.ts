/**
 * `npm run consistency -- <command> [options]`: the consistency lab (docs/lab.md).
 *
 *   write-then-read   write a marker through one instance, read it back on every instance
 *   history           a randomized concurrent workload, optionally with faults, checked afterwards
 *
 * Against `--urls` (default: this checkout's running `npm start` cluster, found through its run
 * file, see cluster/run-file.ts), or, with `--start` or
 * `--compare a,b,c`, against clusters the lab starts for itself (one per strategy). Command-line
 * errors are one line and exit 2; a cluster that does not answer is one line and exits 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StatsResponse } from '@cachelab/app';
import type { Command } from '@commander-js/extra-typings';
import { formatDuration } from './cli/duration.ts';
import { usageError } from './cli/program.ts';
import { findOwnCluster } from './cluster/run-file.ts';
import type { InstanceLanguage } from './instance-languages.ts';
import { checkHistory, summarize } from './lab/checker.ts';
import { findUnreachable, type Target } from './lab/client.ts';
import { type LabCluster, startLabCluster } from './lab/cluster.ts';
import { createLabProgram } from './lab/command-line.ts';
import { faultNeeds, scheduleFaults } from './lab/faults.ts';
import { checkSameRedis } from './lab/redis-identity.ts';
import { formatConvergence } from './lab/report-convergence.ts';
import { renderHtml } from './lab/report-html.ts';
import { comparisonMarkdown, formatComparison, formatReport } from './lab/report-text.ts';
import { runHistory } from './lab/workload.ts';
import { writeThenRead } from './lab/write-then-read.ts';

const {
  program,
  writeThenRead: writeThenReadCommand,
  history: historyCommand,
} = createLabProgram();

writeThenReadCommand.action(async (options, command) => {
  matchLanguages(options, command);
  if (options.cluster && !options.start) {
    usageError(command, "option '--cluster' starts a Redis Cluster of the lab's own: add --start");
  }
  if (!options.start) options.urls = await urlsOf(options.urls, command);
  const cluster = options.start
    ? await startCluster(options.strategy, options)
    : await checkReachable(options.urls ?? [], command);
  const results = await writeThenRead(targetsOf(cluster, options.urls), {
    iterations: options.iterations,
    keys: options.keys,
    seed: options.seed,
    deadlineMs: 5000,
  });
  console.log(formatConvergence(results, options.iterations));
  const files = await save(options.out, `${stamp}-write-then-read`, {
    json: JSON.stringify(results, null, 2),
  });
  console.log(`\nwrote ${files.join(', ')}`);
});

historyCommand.action(async (options, command) => {
  matchLanguages(options, command);
  const ownCluster = options.start || options.compare !== undefined;
  if (options.cluster && !ownCluster) {
    usageError(
      command,
      "option '--cluster' starts a Redis Cluster of the lab's own: add --start or --compare",
    );
  }
  // The spec's own mistake first: a fault after the run's end is wrong whatever the cluster.
  for (const fault of options.fault) {
    if (fault.atMs >= options.duration) {
      usageError(
        command,
        `option '--fault <spec>' argument '${fault.spec}' starts at ${formatDuration(fault.atMs)}, after the run ends (--duration ${formatDuration(options.duration)}); a bare number means seconds, write 500ms for milliseconds`,
      );
    }
  }
  for (const fault of options.fault) {
    const needs = faultNeeds(fault, {
      ownCluster,
      redisCluster: options.cluster,
      redisUrl: options.redisUrl,
      instances: options.instances,
    });
    if (needs) usageError(command, `option '--fault <spec>' argument '${fault.spec}' ${needs}`);
  }
  if (options.compare) {
    await compare(options.compare, options, command);
    return;
  }
  if (!options.start) options.urls = await urlsOf(options.urls, command);
  const cluster = options.start
    ? await startCluster(options.strategy, options)
    : await checkReachable(options.urls ?? [], command);
  const run = await history(options.strategy, cluster, options, command);
  console.log(formatReport(run.history, run.checked));
  const files = await save(options.out, `${stamp}-history`, {
    json: JSON.stringify({ history: run.history, result: run.checked }, null, 2),
    html: renderHtml(run.history, run.checked),
  });
  console.log(`wrote ${files.join(', ')}`);
});

type HistoryOptions = ReturnType<typeof historyCommand.opts>;

/** What reports an error: a command (commander's `error` prints one line and exits). */
interface ErrorSink {
  error(message: string, options: { exitCode: number }): never;
}

const clusters: LabCluster[] = [];
// Whatever happens, the lab's own processes do not outlive it.
process.on('exit', () => {
  for (const cluster of clusters) {
    for (const instance of cluster.instances) instance.process().kill('SIGKILL');
    cluster.database().kill('SIGKILL');
  }
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

const stamp = new Date().toISOString().replace(/[:.]/g, '-');

/**
 * `--languages` (or `INSTANCE_LANGUAGES`) sets how many instances a lab cluster has; an
 * `--instances` that disagrees is a usage error.
 */
function matchLanguages(
  options: { instances: number; languages?: InstanceLanguage[] },
  command: Command,
): void {
  if (!options.languages) return;
  if (
    command.getOptionValueSource('instances') === 'cli' &&
    options.instances !== options.languages.length
  ) {
    usageError(
      command,
      `option '--instances ${options.instances}' disagrees with the ${options.languages.length} languages of --languages (INSTANCE_LANGUAGES)`,
    );
  }
  options.instances = options.languages.length;
}

async function startCluster(
  strategy: string,
  options: {
    instances: number;
    languages?: InstanceLanguage[];
    dbLatency: number;
    cluster?: boolean;
    staleSet?: boolean;
    fillDelay?: number;
  },
): Promise<LabCluster> {
  const on = options.cluster ? ', on a Redis Cluster of 3 masters and 3 replicas' : '';
  console.log(`starting a lab cluster: ${options.instances} instances, strategy ${strategy}${on}…`);
  const cluster = await startLabCluster({
    redisCluster: options.cluster,
    instances: options.instances,
    languages: options.languages,
    strategy,
    dbLatencyMs: options.dbLatency,
    seedUsers: 1000,
    slowFill:
      options.staleSet && options.fillDelay !== undefined
        ? { instances: [1], delayMs: options.fillDelay }
        : undefined,
  });
  clusters.push(cluster);
  return cluster;
}

/**
 * `--urls` when given (the user chose: no check), else the instances of this checkout's own
 * `npm start` cluster (BASE_PORT, INSTANCES from the environment). Stops with one line (exit 1)
 * when none runs there, e.g. when another checkout's cluster holds those ports.
 */
async function urlsOf(urls: string[] | undefined, command: ErrorSink): Promise<string[]> {
  if (urls) return urls;
  try {
    return (await findOwnCluster(process.env)).urls;
  } catch (error) {
    command.error((error as Error).message, { exitCode: 1 });
  }
}

/** Stops with one line (exit 1) when an instance of `urls` does not answer. */
async function checkReachable(urls: string[], command: ErrorSink): Promise<undefined> {
  const targets = targetsOf(undefined, urls);
  const unreachable = await findUnreachable(targets);
  if (unreachable.length === 0) return undefined;
  const down = unreachable.map(({ target, reason }) => `${target.url} (${reason})`).join(', ');
  const what =
    unreachable.length === targets.length ? 'no instance answered' : 'not every instance answered';
  command.error(
    `${what} at ${down}: is a cluster running there? (\`npm start\` prints its URLs; --start runs a cluster of the lab's own)`,
    { exitCode: 1 },
  );
}

function targetsOf(cluster: LabCluster | undefined, urls: string[] | undefined): Target[] {
  if (cluster) return cluster.instances.map(({ name, url }) => ({ name, url }));
  return (urls ?? []).map((url, i) => ({ name: `app-${i + 1}`, url }));
}

async function dbQueries(targets: Target[]): Promise<number | undefined> {
  try {
    const stats = await Promise.all(
      targets.map(async (t) => (await (await fetch(`${t.url}/stats`)).json()) as StatsResponse),
    );
    return stats.reduce((sum, s) => sum + s.database.queries, 0);
  } catch {
    return undefined;
  }
}

async function history(
  strategy: string,
  cluster: LabCluster | undefined,
  options: HistoryOptions,
  command: ErrorSink,
) {
  const targets = targetsOf(cluster, options.urls);
  // Faults go to --redis-url: never to a Redis other than the one the instances use.
  if (!cluster && options.redisUrl) {
    await checkSameRedis(targets, options.redisUrl).catch((error: Error) =>
      command.error(error.message, { exitCode: 1 }),
    );
  }
  let faults: ReturnType<typeof scheduleFaults>;
  try {
    faults = scheduleFaults(options.fault, {
      cluster,
      redisUrl: options.redisUrl,
      keys: options.keys,
    });
  } catch (error) {
    usageError(command, (error as Error).message);
  }
  const queriesBefore = await dbQueries(targets);
  const staleSet = options.staleSet
    ? { slow: targets[0] as Target, count: options.races, gapMs: 100, firstKey: 500 }
    : undefined;
  const result = await runHistory({
    targets,
    strategy: cluster ? strategy : `${strategy} (as configured at ${targets[0]?.url})`,
    seed: options.seed,
    sessions: options.sessions,
    keys: options.keys,
    writeRatio: options.writeRatio,
    durationMs: options.duration,
    tokenSessions: options.tokenSessions,
    quietMs: options.quiet,
    faults,
    staleSet,
  });
  const queriesAfter = await dbQueries(targets);
  const checked = checkHistory(result);
  const queries =
    queriesBefore !== undefined && queriesAfter !== undefined
      ? queriesAfter - queriesBefore
      : undefined;
  return { history: result, checked, queries };
}

async function compare(
  strategies: string[],
  options: HistoryOptions,
  command: ErrorSink,
): Promise<void> {
  const rows = [];
  for (const strategy of strategies) {
    const cluster = await startCluster(strategy, options);
    const run = await history(strategy, cluster, options, command);
    await cluster.stop();
    clusters.splice(clusters.indexOf(cluster), 1);
    console.log(formatReport(run.history, run.checked));
    const files = await save(options.out, `${stamp}-${strategy}`, {
      json: JSON.stringify({ history: run.history, result: run.checked }, null, 2),
      html: renderHtml(run.history, run.checked),
    });
    console.log(`wrote ${files.join(', ')}\n`);
    rows.push({ strategy, summary: summarize(run.checked), dbQueries: run.queries });
  }
  console.log(formatComparison(rows));
  const files = await save(options.out, `${stamp}-compare`, {
    md: comparisonMarkdown(rows),
    json: JSON.stringify(rows, null, 2),
  });
  console.log(`wrote ${files.join(', ')}`);
}

async function save(out: string, name: string, files: Record<string, string>): Promise<string[]> {
  await mkdir(out, { recursive: true });
  const written = [];
  for (const [ext, content] of Object.entries(files)) {
    const path = join(out, `${name}.${ext}`);
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}

try {
  await program.parseAsync();
} finally {
  for (const cluster of clusters.splice(0)) await cluster.stop();
}
