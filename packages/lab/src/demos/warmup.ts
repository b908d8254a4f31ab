/**
 * `npm run demo:warmup` (tutorial step 6, monitoring): one fixed read workload, three times —
 *
 *   1. cold      against empty caches, second by second as they warm up;
 *   2. flushed   after emptying Redis and every instance's L1 (and checking that they are empty);
 *   3. no cache  against the same instances restarted with CACHE_STRATEGY=none.
 *
 * Per second: hit ratio and p50/p99 latency. Prints the tables, writes warmup.svg and warmup.json.
 */
import { Option } from '@commander-js/extra-typings';
import { decimal, duration, integer, redisUrl, urlList, usageError } from '../cli/program.ts';
import type { Target } from '../lab/client.ts';
import { createClock } from '../lab/client.ts';
import { formatTable } from '../lab/report-text.ts';
import { createZipf } from '../lab/zipf.ts';
import { createDemoProgram, outDir, targetsOf } from './args.ts';
import {
  clusterTotals,
  type DemoCluster,
  existingCluster,
  fetchStats,
  startOwnCluster,
} from './cluster.ts';
import { flushCaches } from './flush.ts';
import { perSecond, type ReadSummary, runLoad, summarizeReads } from './load.ts';
import { millis, percent, saveDemo } from './output.ts';
import { lineChart } from './svg-chart.ts';

const DEMO = 'demo:warmup';
const program = createDemoProgram(
  DEMO,
  `Starts a cluster of its own (redis-server on a free port, embedded database, 3 instances) unless --urls is given, runs a fixed Zipf read workload against cold caches, flushes every tier and runs it again, then runs it with caching disabled; prints hit ratio and p50/p99 latency per second.`,
)
  .addOption(
    new Option('--phase <duration>', 'length of each phase (default 15s; --quick 3s)').argParser(
      duration({ minMs: 1000, maxMs: 600_000 }),
    ),
  )
  .addOption(
    new Option(
      '--users <n>',
      'users 1…N the workload reads, Zipf-distributed (default 10000; --quick 2000)',
    ).argParser(integer(1, 1_000_000)),
  )
  .addOption(
    new Option('--skew <s>', 'Zipf exponent: rank r is read with weight 1/r^S')
      .argParser(decimal(0, 5))
      .default(1),
  )
  .addOption(
    new Option(
      '--concurrency <n>',
      'clients, one request at a time each (default 16; --quick 8)',
    ).argParser(integer(1, 1000)),
  )
  .addOption(
    new Option('--db-latency <duration>', 'simulated database latency of an own cluster')
      .argParser(duration({ maxMs: 10_000 }))
      .default(50, '50ms, as npm start'),
  )
  .addOption(
    new Option(
      '--urls <url,...>',
      'use running instances instead (e.g. the URLs your npm start printed)',
    ).argParser(urlList),
  )
  .addOption(
    new Option(
      '--redis-url <url>',
      'with --urls: their Redis, which the demo flushes (FLUSHDB, and CLIENT KILL TYPE pubsub so that every instance empties its L1)',
    ).argParser(redisUrl),
  )
  .addOption(
    new Option(
      '--uncached-urls <url,...>',
      'with --urls: instances started with CACHE_STRATEGY=none, for phase 3 (skipped without it)',
    ).argParser(urlList),
  )
  .parse();

const options = program.opts();
const quick = options.quick === true;
const settings = {
  phaseMs: options.phase ?? (quick ? 3000 : 15_000),
  users: options.users ?? (quick ? 2000 : 10_000),
  skew: options.skew,
  concurrency: options.concurrency ?? (quick ? 8 : 16),
  dbLatencyMs: options.dbLatency,
  seed: options.seed,
};
if (options.urls && !options.redisUrl) {
  usageError(program, '--urls needs --redis-url: the demo flushes that Redis between phases');
}

/** One phase of the demo, measured. */
interface PhaseResult {
  name: string;
  note: string;
  seconds: ReadSummary[];
  summary: ReadSummary;
  readsPerSecond: number;
  databaseQueries: number;
}

const zipf = createZipf(settings.users, settings.skew);
const now = createClock();

async function runPhase(name: string, note: string, targets: Target[]): Promise<PhaseResult> {
  console.log(`${name}: ${settings.phaseMs / 1000} s of reads (${note})…`);
  const before = await clusterTotals(targets);
  const { operations, startMs } = await runLoad({
    ...settings,
    durationMs: settings.phaseMs,
    targets,
    zipf,
    now,
  });
  const summary = summarizeReads(operations);
  return {
    name,
    note,
    seconds: perSecond(operations, startMs, Math.ceil(settings.phaseMs / 1000)),
    summary,
    readsPerSecond: summary.reads / (settings.phaseMs / 1000),
    databaseQueries: (await clusterTotals(targets)).databaseQueries - before.databaseQueries,
  };
}

async function flush(cluster: DemoCluster): Promise<void> {
  const report = await flushCaches(cluster.redisUrl as string, cluster.targets);
  const l1 = report.instances.map((i) => `${i.name} ${i.l1Size}`).join(', ');
  console.log(
    `flushed: Redis keys ${report.redisKeys}, subscribers killed ${report.subscribersKilled}, L1 entries after: ${l1}`,
  );
}

/** Phase 3's instances: the own cluster restarted without caching, or `--uncached-urls`. */
async function uncachedTargets(cluster: DemoCluster): Promise<Target[] | undefined> {
  if (cluster.own) {
    console.log('restarting every instance with CACHE_STRATEGY=none…');
    await Promise.all(cluster.own.instances.map((i) => i.restart({ CACHE_STRATEGY: 'none' })));
    return cluster.targets;
  }
  return options.uncachedUrls && targetsOf(options.uncachedUrls);
}

async function main(): Promise<PhaseResult[]> {
  const cluster = options.urls
    ? existingCluster(targetsOf(options.urls), options.redisUrl)
    : await startOwn();
  try {
    const phases: PhaseResult[] = [];
    await flush(cluster);
    phases.push(await runPhase('cold', 'empty L1s and Redis', cluster.targets));
    await flush(cluster);
    phases.push(await runPhase('flushed', 'after FLUSHDB and every L1 emptied', cluster.targets));
    const uncached = await uncachedTargets(cluster);
    if (uncached) {
      const strategies = await Promise.all(uncached.map(async (t) => (await fetchStats(t)).cache));
      if (strategies.some((s) => s.strategy !== 'none')) {
        throw new Error('phase 3 instances must run with CACHE_STRATEGY=none');
      }
      phases.push(await runPhase('no cache', 'CACHE_STRATEGY=none', uncached));
    } else {
      console.log('no cache: skipped (give --uncached-urls to run it against --urls)');
    }
    return phases;
  } finally {
    await cluster.stop();
  }
}

async function startOwn(): Promise<DemoCluster> {
  console.log(
    `starting a cluster: 3 instances, ${settings.users} users, database latency ${settings.dbLatencyMs} ms…`,
  );
  return startOwnCluster({
    instances: 3,
    strategy: 'versioned',
    dbLatencyMs: settings.dbLatencyMs,
    seedUsers: settings.users,
  });
}

function tables(phases: PhaseResult[]): string {
  const perSecondRows = phases.flatMap((phase) =>
    phase.seconds.map((s, i) => [
      phase.name,
      String(i + 1),
      String(s.reads),
      percent(s.hitRatio),
      percent(s.reads ? s.l1 / s.reads : null),
      millis(s.p50Ms),
      millis(s.p99Ms),
    ]),
  );
  const summaryRows = phases.map((p) => [
    p.name,
    String(p.summary.reads),
    p.readsPerSecond.toFixed(0),
    percent(p.summary.hitRatio),
    millis(p.summary.p50Ms),
    millis(p.summary.p99Ms),
    String(p.databaseQueries),
    String(p.summary.errors),
  ]);
  return [
    'Per second',
    formatTable(['phase', 'second', 'reads', 'hit ratio', 'L1 share', 'p50', 'p99'], perSecondRows),
    '',
    'Per phase',
    formatTable(
      ['phase', 'reads', 'reads/s', 'hit ratio', 'p50', 'p99', 'database queries', 'errors'],
      summaryRows,
    ),
  ].join('\n');
}

function chart(phases: PhaseResult[]): string {
  const length = settings.phaseMs / 1000;
  const points = (pick: (s: ReadSummary) => number | null) =>
    phases.flatMap((phase, p): [number, number | null][] => [
      ...phase.seconds.map((s, i): [number, number | null] => [p * length + i + 0.5, pick(s)]),
      [(p + 1) * length, null], // no line across the flush or restart between phases
    ]);
  return lineChart({
    title: 'Cache warm-up: a cold cache, a flushed cache, no cache',
    subtitle:
      `${settings.concurrency} clients reading ${settings.users} users (Zipf s=${settings.skew}) ` +
      `over 3 instances; database latency ${settings.dbLatencyMs} ms; one point per second`,
    xLabel:
      'seconds of workload (phases back to back; the flush and restart between them not shown)',
    bands: phases.map((phase, p) => ({
      from: p * length,
      to: (p + 1) * length,
      label: phase.name,
    })),
    panels: [
      {
        yLabel: 'share of reads',
        yMax: 1,
        format: (y) => `${Math.round(y * 100)}%`,
        series: [
          { name: 'hit ratio (L1 + L2)', color: '#2e7d32', points: points((s) => s.hitRatio) },
          {
            name: 'L1 hits',
            color: '#81c784',
            dashed: true,
            points: points((s) => (s.reads ? s.l1 / s.reads : null)),
          },
        ],
      },
      {
        yLabel: 'latency (ms, log scale)',
        log: true,
        format: (y) => (y < 1 ? String(y) : y.toFixed(0)),
        series: [
          { name: 'p50', color: '#1565c0', points: points((s) => s.p50Ms) },
          { name: 'p99', color: '#c62828', points: points((s) => s.p99Ms) },
        ],
      },
    ],
  });
}

try {
  const startedAt = Date.now();
  const phases = await main();
  console.log(`\n${tables(phases)}\n`);
  const files = await saveDemo(outDir(options), 'warmup', {
    svg: chart(phases),
    json: { demo: 'warmup', settings, measuredAt: new Date().toISOString(), phases },
  });
  console.log(`wrote ${files.join(', ')} (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`);
  process.exit(0);
} catch (error) {
  console.error(`${DEMO}: ${(error as Error).message}`);
  process.exit(1);
}
