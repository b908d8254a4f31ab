/**
 * `npm run stats -- [options]`: a live view of the cluster. Every interval it reads `GET /stats`
 * of each instance and shows requests, hit ratio by tier, L1 size, invalidations and the last
 * propagation delay. On a terminal it redraws in place; otherwise (piped, in CI) it prints plain
 * lines, one table per round. An instance that does not answer shows as down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Option } from '@commander-js/extra-typings';
import { createProgram, duration, integer, urlList } from './cli/program.ts';
import { type InstanceSnapshot, readInstance } from './stats/snapshot.ts';
import { formatTable } from './stats/table.ts';

const DEFAULT_URLS = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002', 'http://127.0.0.1:3003'];

const program = createProgram('stats')
  .description("A live view of the cluster: every instance's /stats, one line each.")
  .addOption(
    new Option(
      '--urls <url,...>',
      'instances to watch (default http://127.0.0.1:3001-3003, as npm start runs)',
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

function parseOptions() {
  const options = program.opts();
  return {
    urls: options.urls ?? DEFAULT_URLS,
    interval: options.interval,
    count: options.once ? 1 : (options.count ?? Number.POSITIVE_INFINITY),
  };
}

const { urls, interval, count } = parseOptions();
const live = process.stdout.isTTY === true && count > 1;
const timeoutMs = Math.min(interval, 2000);
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
