/**
 * `npm run bench:l1`: what an L1 hit costs in process, in ns per `getOrLoad`, next to a plain
 * `Map.get` and an awaited one. Needs a Redis (REDIS_URL, default 127.0.0.1:6379) only to bring
 * the bus to trust; the measured loop never leaves the process.
 */
import { createCache } from '@cachelab/cache';
import { createClient } from 'redis';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

async function nsPerOp(run: () => Promise<unknown> | unknown, awaited: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  if (awaited) for (let i = 0; i < ITERATIONS; i++) await run();
  else for (let i = 0; i < ITERATIONS; i++) run();
  return Number(process.hrtime.bigint() - started) / ITERATIONS;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const redis = createClient({ url });
const subscriber = redis.duplicate();
for (const client of [redis, subscriber]) client.on('error', () => {});
try {
  await redis.connect();
  await subscriber.connect();
} catch (error) {
  console.error(`bench:l1 needs a Redis at ${url} (set REDIS_URL): ${(error as Error).message}`);
  process.exit(1);
}

const cache = createCache<{ name: string }>({
  redis,
  subscriber,
  namespace: `bench-${process.pid}`,
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 60_000,
});
const deadline = Date.now() + 5000;
while (!cache.stats().trusted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
if (!cache.stats().trusted) throw new Error('the invalidation bus never became trusted');

const loader = async () => ({ value: { name: 'Ada' }, version: 1 });
await cache.getOrLoad('user:1', loader);
const map = new Map([['user:1', { name: 'Ada' }]]);

const rows: [string, () => Promise<unknown> | unknown, boolean][] = [
  ['Map.get', () => map.get('user:1'), false],
  ['await Map.get', () => map.get('user:1'), true],
  ['await cache.getOrLoad (L1 hit)', () => cache.getOrLoad('user:1', loader), true],
];
const results = new Map<string, number[]>();
for (let run = 0; run < RUNS; run++) {
  for (const [name, fn, awaited] of rows) {
    const samples = results.get(name) ?? [];
    samples.push(await nsPerOp(fn, awaited));
    results.set(name, samples);
  }
}
const stats = cache.stats();
if (stats.l1Hits < ITERATIONS * RUNS)
  throw new Error(`expected only L1 hits, got ${JSON.stringify(stats)}`);

console.log(
  `L1 hit cost, ${ITERATIONS.toLocaleString('en')} ops x ${RUNS} runs, Node ${process.version}`,
);
console.log('| operation | median ns/op | min | max |');
console.log('| --- | ---: | ---: | ---: |');
for (const [name, samples] of results) {
  const fmt = (n: number) => n.toFixed(1);
  console.log(
    `| ${name} | ${fmt(median(samples))} | ${fmt(Math.min(...samples))} | ${fmt(Math.max(...samples))} |`,
  );
}
await cache.close();
await Promise.all([redis.close(), subscriber.close()]);
