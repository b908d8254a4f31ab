/**
 * `npm run demo:consistency`: the consistency lab's strategy comparison in its shortest form. It
 * runs `npm run consistency -- history --compare …` (scripts/consistency.ts, unchanged) with short
 * settings, prints the lab's comparison table and draws it: stale-read rate, longest staleness
 * window and stuck keys per strategy. With `--urls` it runs the lab's `history` against that
 * cluster instead (one strategy, whatever it runs).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { formatDuration } from '../cli/duration.ts';
import {
  duration,
  integer,
  listOf,
  redisUrl,
  sentence,
  urlList,
  usageError,
} from '../cli/program.ts';
import { type CheckResult, summarize } from '../lab/checker.ts';
import { parseFaultSpec } from '../lab/faults.ts';
import { formatMs, formatPercent } from '../lab/report-data.ts';
import { type ComparisonRow, formatComparison } from '../lab/report-text.ts';
import { createDemoProgram, outDir, targetsOf } from './args.ts';
import { fetchStats } from './cluster.ts';
import { saveDemo } from './output.ts';
import { barChart } from './svg-chart.ts';

const DEMO = 'demo:consistency';
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const STRATEGIES = ['ttl-only', 'delete', 'versioned', 'none'];

const program = createDemoProgram(
  DEMO,
  `Runs the consistency lab's strategy comparison (docs/lab.md) with short settings: for each strategy a cluster of its own, the same seeded workload, the stale-set race provoked on app-1 and a subscriber kill; then one table and a chart.`,
)
  .addOption(
    new Option('--strategies <strategy,...>', 'strategies to compare')
      .argParser(listOf(STRATEGIES))
      .default(['ttl-only', 'delete', 'versioned'], 'ttl-only,delete,versioned'),
  )
  .addOption(
    new Option(
      '--duration <duration>',
      'workload per strategy (default 5s; --quick 1.5s)',
    ).argParser(duration({ minMs: 500, maxMs: 600_000 })),
  )
  .addOption(
    new Option('--races <n>', 'stale-set races per strategy (default 10; --quick 4)').argParser(
      integer(1, 500),
    ),
  )
  .addOption(
    new Option(
      '--fault <spec>',
      'a lab fault (default kill-pubsub@2s; --quick kill-pubsub@500ms; none: no fault)',
    ).argParser(faultOrNone),
  )
  .addOption(
    new Option(
      '--urls <url,...>',
      "run the lab's history against these instances instead (no comparison)",
    ).argParser(urlList),
  )
  .addOption(
    new Option('--redis-url <url>', 'with --urls: their Redis, for the fault').argParser(redisUrl),
  )
  .addOption(new Option('--lab-out <dir>', "where the lab's own reports go").default('lab-results'))
  .parse();

/** `--fault`: a lab fault spec (checked as the lab will), or `none`. */
function faultOrNone(text: string): string | undefined {
  if (text === 'none') return undefined;
  try {
    return parseFaultSpec(text).spec;
  } catch (error) {
    throw new InvalidArgumentError(sentence((error as Error).message));
  }
}

const options = program.opts();
const quick = options.quick === true;
const settings = {
  strategies: options.urls ? [] : options.strategies,
  durationMs: options.duration ?? (quick ? 1500 : 5000),
  races: options.races ?? (quick ? 4 : 10),
  fault:
    program.getOptionValueSource('fault') === 'cli'
      ? options.fault
      : quick
        ? 'kill-pubsub@500ms'
        : 'kill-pubsub@2s',
  seed: options.seed,
  // The lab's defaults (8 sessions, 50 keys, 2 s quiet period) unless --quick.
  sessions: quick ? 4 : 8,
  keys: quick ? 20 : 50,
  quietMs: quick ? 1000 : 2000,
};
if (settings.fault && parseFaultSpec(settings.fault).atMs >= settings.durationMs) {
  usageError(
    program,
    `option '--fault <spec>' argument '${settings.fault}' starts after the run ends (--duration ${formatDuration(settings.durationMs)}); a bare number means seconds, write 500ms for milliseconds`,
  );
}

/** The lab's command line for these settings; `strategy` labels a `--urls` run. */
function labArgs(out: string, strategy?: string): string[] {
  const args = options.urls
    ? ['history', '--urls', options.urls.join(','), '--strategy', strategy ?? 'versioned']
    : ['history', '--compare', settings.strategies.join(','), '--stale-set'];
  if (options.urls && options.redisUrl) args.push('--redis-url', options.redisUrl);
  args.push(
    ...['--races', String(settings.races), '--duration', formatDuration(settings.durationMs)],
    ...['--sessions', String(settings.sessions), '--keys', String(settings.keys)],
    ...['--quiet', formatDuration(settings.quietMs), '--seed', String(settings.seed)],
    ...['--out', out],
  );
  if (settings.fault) args.push('--fault', settings.fault);
  return args;
}

/** Runs the lab; echoes its progress lines, keeps its full output in `<out>/lab-output.txt`. */
async function runLab(args: string[], out: string): Promise<void> {
  console.log(`npm run consistency -- ${args.join(' ')}`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'packages/lab/src/cli.ts', 'consistency', ...args],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk;
    for (const line of chunk.toString().split('\n')) {
      if (line.startsWith('starting a lab cluster')) console.log(`  ${line}`);
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  await writeFile(join(out, 'lab-output.txt'), output);
  if (code !== 0) throw new Error(`the lab exited with ${code}:\n${output.slice(-3000)}`);
}

/** The comparison rows the lab wrote (or, for `--urls`, the one row of its history run). */
async function readRows(out: string): Promise<ComparisonRow[]> {
  const names = await readdir(out);
  const compare = names.find((name) => name.endsWith('-compare.json'));
  if (compare) return JSON.parse(await readFile(join(out, compare), 'utf8')) as ComparisonRow[];
  const history = names.find((name) => name.endsWith('-history.json'));
  if (!history) throw new Error(`the lab wrote no report into ${out}`);
  const run = JSON.parse(await readFile(join(out, history), 'utf8')) as {
    history: { settings: { strategy: string } };
    result: CheckResult;
  };
  return [{ strategy: run.history.settings.strategy, summary: summarize(run.result) }];
}

function chart(rows: ComparisonRow[]): string {
  const groups = (pick: (row: ComparisonRow) => number) =>
    rows.map((row) => ({ label: row.strategy.split(' ')[0] ?? row.strategy, values: [pick(row)] }));
  return barChart({
    title: 'Invalidation strategies compared (consistency lab)',
    subtitle:
      `${settings.sessions} sessions, ${settings.keys} keys, 20% writes, ${settings.durationMs / 1000} s each` +
      `, ${settings.races} stale-set races${settings.fault ? `, fault ${settings.fault}` : ''}, seed ${settings.seed}`,
    panels: [
      {
        title: 'Stale-read rate',
        format: formatPercent,
        series: [{ name: 'stale reads / reads', color: '#c62828' }],
        groups: groups((row) => row.summary.staleReadRate),
      },
      {
        title: 'Longest staleness window',
        format: formatMs,
        series: [{ name: 'read start − first write it missed', color: '#ef6c00' }],
        groups: groups((row) => row.summary.maxStalenessMs),
      },
      {
        title: 'Stuck keys',
        series: [{ name: 'still stale after writes stopped', color: '#6a1b9a' }],
        groups: groups((row) => row.summary.stuckKeys),
      },
    ],
  });
}

try {
  const startedAt = Date.now();
  const labOut = join(
    options.labOut,
    `demo-consistency-${new Date().toISOString().replace(/[:.]/g, '-')}`,
  );
  await mkdir(labOut, { recursive: true });
  // A running cluster says which strategy it runs, so that the report is labelled with it.
  const running = options.urls ? targetsOf(options.urls)[0] : undefined;
  const strategy = running ? (await fetchStats(running)).cache.strategy : undefined;
  await runLab(labArgs(labOut, strategy), labOut);
  const rows = await readRows(labOut);
  console.log(`\n${formatComparison(rows)}`);
  const files = await saveDemo(outDir(options), 'consistency', {
    svg: chart(rows),
    json: { demo: 'consistency', settings, measuredAt: new Date().toISOString(), rows },
  });
  console.log(`lab reports (HTML timelines): ${labOut}`);
  console.log(`wrote ${files.join(', ')} (${((Date.now() - startedAt) / 1000).toFixed(0)} s)`);
} catch (error) {
  console.error(`${DEMO}: ${(error as Error).message}`);
  process.exitCode = 1;
}
