/**
 * `npm run stats -- [options]`: a live view of the cluster. Every interval it reads `GET /stats`
 * of each instance and shows requests, hit ratio by tier, L1 size, invalidations and the last
 * propagation delay. On a terminal it redraws in place; otherwise (piped, in CI) it prints plain
 * lines, one table per round. An instance that does not answer shows as down.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type InstanceSnapshot, readInstance } from './stats/snapshot.ts';
import { formatTable } from './stats/table.ts';

const USAGE = `usage: npm run stats -- [options]

  --urls URL,URL,...   instances to watch (default http://127.0.0.1:3001-3003, as npm start runs)
  --interval MS        time between refreshes (default 1000)
  --once               print one table and exit (same as --count 1)
  --count N            print N tables, then exit (default: until Ctrl-C)`;

const DEFAULT_URLS = ['http://127.0.0.1:3001', 'http://127.0.0.1:3002', 'http://127.0.0.1:3003'];

function fail(message: string): never {
  console.error(`stats: ${message}\n\n${USAGE}`);
  process.exit(1);
}

function parseOptions() {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      options: {
        urls: { type: 'string' },
        interval: { type: 'string', default: '1000' },
        once: { type: 'boolean', default: false },
        count: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    });
  try {
    parsed = parse();
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const urls = values.urls
    ? values.urls.split(',').map((url) => url.trim().replace(/\/+$/, ''))
    : DEFAULT_URLS;
  for (const url of urls) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      fail(`--urls: ${JSON.stringify(url)} is not an http:// URL`);
    }
  }
  const interval = Number(values.interval);
  if (!Number.isInteger(interval) || interval < 100)
    fail('--interval must be an integer ≥ 100 (ms)');
  const count = values.once ? 1 : values.count === undefined ? Infinity : Number(values.count);
  if (count !== Infinity && (!Number.isInteger(count) || count < 1)) {
    fail('--count must be a positive integer');
  }
  return { urls, interval, count };
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
