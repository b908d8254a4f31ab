/**
 * `npm run consistency -- <command> [options]`: the consistency lab (docs/lab.md).
 *
 *   write-then-read   write a marker through one instance, read it back on every instance
 *   history           a randomized concurrent workload, optionally with faults, checked afterwards
 *
 * Against `--urls` (default: the local cluster of `npm start`), or, with `--start` or
 * `--compare a,b,c`, against clusters the lab starts for itself (one per strategy).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkHistory, summarize } from './lab/checker.ts';
import type { Target } from './lab/client.ts';
import { type LabCluster, startLabCluster } from './lab/cluster.ts';
import { FAULT_HELP, parseFaults } from './lab/faults.ts';
import { checkSameRedis } from './lab/redis-identity.ts';
import { formatConvergence } from './lab/report-convergence.ts';
import { renderHtml } from './lab/report-html.ts';
import { comparisonMarkdown, formatComparison, formatReport } from './lab/report-text.ts';
import { runHistory } from './lab/workload.ts';
import { writeThenRead } from './lab/write-then-read.ts';

const USAGE = `usage: npm run consistency -- <write-then-read|history> [options]

  --urls URL,URL,...     instances to test (default http://127.0.0.1:3001-3003, as npm start runs)
  --start                start a cluster of the lab's own instead (own redis-server, embedded DB)
  --compare S,S,...      history only: one own cluster per strategy (ttl-only, delete, versioned)
  --strategy S           strategy of a --start cluster (default versioned)
  --instances N          instances of a lab cluster (default 3)
  --iterations N         write-then-read: writes (default 200)
  --sessions N --keys N --write-ratio R --duration T --token-sessions N --quiet T --seed N
                         history workload (defaults 8, 50, 0.2, 10s, 4, 2s, 42)
  --stale-set            provoke the stale-set race: app-1 holds its cache fills (--fill-delay,
                         default 400ms) while other instances write the keys it is loading
                         (--races times, default 20, on cold keys 500, 501, …)
  --fault SPEC           repeatable; see below
  --redis-url URL        Redis to inject faults into when testing --urls
  --out DIR              where JSON and HTML reports go (default lab-results)

faults:
  ${FAULT_HELP.join('\n  ')}`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    urls: { type: 'string' },
    start: { type: 'boolean', default: false },
    compare: { type: 'string' },
    strategy: { type: 'string', default: 'versioned' },
    instances: { type: 'string', default: '3' },
    iterations: { type: 'string', default: '200' },
    sessions: { type: 'string', default: '8' },
    keys: { type: 'string', default: '50' },
    'write-ratio': { type: 'string', default: '0.2' },
    duration: { type: 'string', default: '10s' },
    'token-sessions': { type: 'string', default: '4' },
    quiet: { type: 'string', default: '2s' },
    seed: { type: 'string', default: '42' },
    'stale-set': { type: 'boolean', default: false },
    'fill-delay': { type: 'string', default: '400' },
    races: { type: 'string', default: '20' },
    fault: { type: 'string', multiple: true, default: [] },
    'redis-url': { type: 'string' },
    out: { type: 'string', default: 'lab-results' },
    'db-latency': { type: 'string', default: '5' },
    help: { type: 'boolean', default: false },
  },
});

const command = positionals[0];
if (values.help || (command !== 'write-then-read' && command !== 'history')) {
  console.log(USAGE);
  process.exit(values.help ? 0 : 1);
}

/** A duration option: milliseconds, or seconds with an `s`. */
function ms(name: string, text: string): number {
  const value = text.endsWith('s') ? Number(text.slice(0, -1)) * 1000 : Number(text);
  if (!Number.isFinite(value) || value < 0) fail(`--${name} must be a duration (ms, or 2s)`);
  return Math.round(value);
}

function count(name: string, text: string, min = 0): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) fail(`--${name} must be an integer ≥ ${min}`);
  return value;
}

function fail(message: string): never {
  console.error(`consistency: ${message}`);
  process.exit(1);
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

async function startCluster(strategy: string): Promise<LabCluster> {
  console.log(`starting a lab cluster: ${values.instances} instances, strategy ${strategy}…`);
  const cluster = await startLabCluster({
    instances: count('instances', values.instances, 1),
    strategy,
    dbLatencyMs: ms('db-latency', values['db-latency']),
    seedUsers: 1000,
    slowFill: values['stale-set']
      ? { instances: [1], delayMs: ms('fill-delay', values['fill-delay']) }
      : undefined,
  });
  clusters.push(cluster);
  return cluster;
}

function targetsOf(cluster: LabCluster | undefined): Target[] {
  if (cluster) return cluster.instances.map(({ name, url }) => ({ name, url }));
  const urls = values.urls?.split(',') ?? [3001, 3002, 3003].map((p) => `http://127.0.0.1:${p}`);
  return urls.map((url, i) => ({ name: `app-${i + 1}`, url: url.replace(/\/$/, '') }));
}

async function dbQueries(targets: Target[]): Promise<number | undefined> {
  try {
    const stats = await Promise.all(
      targets.map(
        async (t) =>
          (await (await fetch(`${t.url}/stats`)).json()) as { database: { queries: number } },
      ),
    );
    return stats.reduce((sum, s) => sum + s.database.queries, 0);
  } catch {
    return undefined;
  }
}

async function history(strategy: string, cluster: LabCluster | undefined) {
  const targets = targetsOf(cluster);
  // Faults go to --redis-url: never to a Redis other than the one the instances use.
  const redisUrl = values['redis-url'];
  if (!cluster && redisUrl) await checkSameRedis(targets, redisUrl).catch((e) => fail(e.message));
  const queriesBefore = await dbQueries(targets);
  const staleSet = values['stale-set']
    ? {
        slow: targets[0] as Target,
        count: count('races', values.races, 1),
        gapMs: 100,
        firstKey: 500,
      }
    : undefined;
  const result = await runHistory({
    targets,
    strategy: cluster ? strategy : `${strategy} (as configured at ${targets[0]?.url})`,
    seed: count('seed', values.seed),
    sessions: count('sessions', values.sessions, 1),
    keys: count('keys', values.keys, 1),
    writeRatio: Number(values['write-ratio']),
    durationMs: ms('duration', values.duration),
    tokenSessions: count('token-sessions', values['token-sessions']),
    quietMs: ms('quiet', values.quiet),
    faults: parseFaults(values.fault, { cluster, redisUrl: values['redis-url'] }),
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

async function save(name: string, files: Record<string, string>): Promise<string[]> {
  await mkdir(values.out, { recursive: true });
  const written = [];
  for (const [ext, content] of Object.entries(files)) {
    const path = join(values.out, `${name}.${ext}`);
    await writeFile(path, content);
    written.push(path);
  }
  return written;
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
try {
  if (command === 'write-then-read') {
    const cluster = values.start ? await startCluster(values.strategy) : undefined;
    const results = await writeThenRead(targetsOf(cluster), {
      iterations: count('iterations', values.iterations, 1),
      keys: count('keys', values.keys, 1),
      seed: count('seed', values.seed),
      deadlineMs: 5000,
    });
    console.log(formatConvergence(results));
    await save(`${stamp}-write-then-read`, { json: JSON.stringify(results, null, 2) });
  } else if (values.compare) {
    const rows = [];
    for (const strategy of values.compare.split(',')) {
      const cluster = await startCluster(strategy);
      const run = await history(strategy, cluster);
      await cluster.stop();
      clusters.splice(clusters.indexOf(cluster), 1);
      console.log(formatReport(run.history, run.checked));
      const files = await save(`${stamp}-${strategy}`, {
        json: JSON.stringify({ history: run.history, result: run.checked }, null, 2),
        html: renderHtml(run.history, run.checked),
      });
      console.log(`wrote ${files.join(', ')}\n`);
      rows.push({ strategy, summary: summarize(run.checked), dbQueries: run.queries });
    }
    console.log(formatComparison(rows));
    const files = await save(`${stamp}-compare`, {
      md: comparisonMarkdown(rows),
      json: JSON.stringify(rows, null, 2),
    });
    console.log(`wrote ${files.join(', ')}`);
  } else {
    const cluster = values.start ? await startCluster(values.strategy) : undefined;
    const run = await history(values.strategy, cluster);
    console.log(formatReport(run.history, run.checked));
    const files = await save(`${stamp}-history`, {
      json: JSON.stringify({ history: run.history, result: run.checked }, null, 2),
      html: renderHtml(run.history, run.checked),
    });
    console.log(`wrote ${files.join(', ')}`);
  }
} finally {
  for (const cluster of clusters.splice(0)) await cluster.stop();
}
