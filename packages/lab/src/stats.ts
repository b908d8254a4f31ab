/**
 * `npm run stats -- [options]`: a live view of the cluster. Every interval it reads `GET /stats`
 * of each instance and shows requests, hit ratio by tier, L1 size, invalidations and the last
 * propagation delay. On a terminal it redraws in place; otherwise (piped, in CI) it prints plain
 * lines, one table per round. An instance that does not answer shows as down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Option } from '@commander-js/extra-typings';
import { createProgram, duration, integer, urlList } from './cli/program.ts';
import { findOwnCluster } from './cluster/run-file.ts';
import { type InstanceSnapshot, readInstance } from './stats/snapshot.ts';
import { formatTable } from './stats/table.ts';

/** The per-fetch timeout's floor, whatever the interval: a busy machine answers slower than 100 ms. */
const MIN_TIMEOUT_MS = 1000;
/** The per-fetch timeout's ceiling, so that a slow instance does not stall a long interval. */
const MAX_TIMEOUT_MS = 2000;

const program = createProgram('stats')
  .description("A live view of the cluster: every instance's /stats, one line each.")
  .addOption(
    new Option(
      '--urls <url,...>',
      'instances to watch (default: the cluster npm start of this checkout runs on BASE_PORT, INSTANCES)',
    ).argParser(urlList),
  )
  .addOption(
    new Option('--interval <duration>', 'time between refreshes')
      .argParser(duration({ minMs: 100, maxMs: 60_000 }))
      .default(1000, '1s'),
  )
  .addOption(new Option('--once', 'print one table and exit (same as --count 1)'))
  .addOption(
    new Option('--count <n>', 'print N tables, then exit (default: until Ctrl-C)').argParser(
      integer(1),
    ),
  )
  .addHelpText(
    'after',
    '\nDurations: 500ms, 2.5s, 1m, or a bare number of seconds. Command-line errors exit 2.',
  )
  .parse();

/** This checkout's own `npm start` cluster; none running there: one line, exit 1. */
async function ownClusterUrls(): Promise<string[]> {
  try {
    return (await findOwnCluster(process.env)).urls;
  } catch (error) {
    program.error((error as Error).message, { exitCode: 1 });
    // `error` exits; this line only satisfies the type checker.
    throw error;
  }
}

async function parseOptions() {
  const options = program.opts();
  return {
    urls: options.urls ?? (await ownClusterUrls()),
    interval: options.interval,
    count: options.once ? 1 : (options.count ?? Number.POSITIVE_INFINITY),
  };
}

const { urls, interval, count } = await parseOptions();
const live = process.stdout.isTTY === true && count > 1;
const timeoutMs = Math.max(MIN_TIMEOUT_MS, Math.min(interval, MAX_TIMEOUT_MS));
const previous = new Map<string, InstanceSnapshot>();

for (let round = 1; round <= count; round++) {
  const started = performance.now();
  const snapshots = await Promise.all(urls.map((url) => readInstance(url, timeoutMs)));
  const table = formatTable(snapshots, previous);
  for (const snapshot of snapshots) if (!snapshot.down) previous.set(snapshot.url, snapshot);
  const time = new Date().toISOString().slice(11, 19);
  if (live) {
    // Home the cursor and clear the screen, then draw: the table stays in place.
    process.stdout.write(
      `\x1b[H\x1b[2J${time}  cachelab stats, every ${interval} ms (Ctrl-C to quit)\n\n${table.join('\n')}\n`,
    );
  } else {
    console.log([`# ${time}`, ...table].join('\n'));
  }
  if (round < count) await sleep(Math.max(0, interval - (performance.now() - started)));
}
