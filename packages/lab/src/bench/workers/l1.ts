/**
 * What an L1 hit costs in process: ns per awaited `cache.getOrLoad` on a warm key, next to a plain
 * and an awaited `Map.get`, measured in alternating runs in one process. Redis is only needed to
 * bring the invalidation bus to trust; the measured loop never leaves the process.
 */
import { createCache } from '@cachelab/cache';
import { createClient } from 'redis';

const input = JSON.parse(process.argv[2] ?? '{}') as {
  redisUrl: string;
  iterations: number;
  runs: number;
};

async function nsPerOp(run: () => unknown, awaited: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  if (awaited) for (let i = 0; i < input.iterations; i++) await run();
  else for (let i = 0; i < input.iterations; i++) run();
  return Number(process.hrtime.bigint() - started) / input.iterations;
}

const redis = createClient({ url: input.redisUrl });
const subscriber = redis.duplicate();
// A connection error fails the commands that meet it; without a listener it would end the worker
// with an unhandled 'error' event.
redis.on('error', () => {});
subscriber.on('error', () => {});
await redis.connect();
await subscriber.connect();
const cache = createCache<{ name: string }>({
  redis,
  subscriber,
  namespace: `bench-l1-${process.pid}`,
  // Long enough that no run (a million hits, microtasks only) outlasts the stall threshold.
  heartbeatIntervalMs: 10_000,
  heartbeatTimeoutMs: 60_000,
});
const deadline = Date.now() + 10_000;
while (!cache.stats().trusted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
if (!cache.stats().trusted) throw new Error('the invalidation bus never became trusted');

const user = { name: 'Ada' };
const loader = async () => ({ value: user, version: 1 });
await cache.getOrLoad('user:1', loader);
const map = new Map([['user:1', user]]);

const rows: [string, () => unknown, boolean][] = [
  ['Map.get', () => map.get('user:1'), false],
  ['await Map.get', () => map.get('user:1'), true],
  ['await cache.getOrLoad (L1 hit)', () => cache.getOrLoad('user:1', loader), true],
];
const samples = new Map<string, number[]>(rows.map(([name]) => [name, []]));
for (let run = 0; run < input.runs; run++) {
  for (const [name, fn, awaited] of rows) {
    samples.get(name)?.push(await nsPerOp(fn, awaited));
    // Let the event loop turn, as it does between requests: a million awaited hits in a row are
    // microtasks only, and a loop starved of its timers for long is what the bus counts as a
    // stall (it then withholds L1 until its heartbeat returns).
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}
const { l1Hits, stalls } = cache.stats();
// On a busy machine one run can still starve the loop past the stall threshold: the read that
// notices it (and the few before the heartbeat is back) go to Redis. Anything more is a bug.
const missed = input.iterations * input.runs - l1Hits;
if (missed > 5 * stalls) {
  throw new Error(`expected only L1 hits, got ${l1Hits} (${missed} others, ${stalls} stalls)`);
}
await cache.close();
await Promise.all([redis.close(), subscriber.close()]);
// `nsPerHit` and `runtime`: the shape every language's L1 harness prints (`../languages.ts`).
console.log(
  JSON.stringify({
    rows: [...samples].map(([name, ns]) => ({ name, ns })),
    l1Hits,
    nsPerHit: samples.get('await cache.getOrLoad (L1 hit)'),
    runtime: `Node.js ${process.version}`,
  }),
);
