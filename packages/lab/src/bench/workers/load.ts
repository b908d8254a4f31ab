/**
 * Load generator, run in its own process (one for the whole bench, taking one `load` command at a
 * time) so that it does not share an event loop with what it measures: autocannon against one or more URLs (keep-alive, loopback), printing a JSON summary.
 * Paths: one fixed path, ids cycling through 1…N (every request a different id), or ids drawn
 * from a Zipf distribution over 1…N with a seed.
 */
import autocannon from 'autocannon';
import { createRandom } from '../../lab/random.ts';
import { createZipf } from '../../lab/zipf.ts';
import { serveCommands } from '../child.ts';
import { type Percentiles, percentiles } from '../stats.ts';

/** What the bench asks for. */
export interface LoadInput {
  urls: string[];
  connections: number;
  /** Run for this long… */
  durationSeconds?: number;
  /** …or until this many requests were answered. */
  amount?: number;
  path:
    | { kind: 'fixed'; path: string }
    | { kind: 'cycle'; ids: number }
    | { kind: 'zipf'; ids: number; exponent: number; seed: number };
}

/** What it prints. */
export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: Percentiles;
  non2xx: number;
  errors: number;
  timeouts: number;
}

function pathSource(path: LoadInput['path']): () => string {
  if (path.kind === 'fixed') return () => path.path;
  if (path.kind === 'cycle') {
    let next = 0;
    return () => `/users/${(next++ % path.ids) + 1}`;
  }
  const zipf = createZipf(path.ids, path.exponent);
  const random = createRandom(path.seed);
  return () => `/users/${zipf.draw(random)}`;
}

async function load(input: LoadInput): Promise<LoadResult> {
  const nextPath = pathSource(input.path);
  const fixed = input.path.kind === 'fixed' ? input.path.path : undefined;
  const options: autocannon.Options = {
    // autocannon spreads connections over several URLs (its typings only know one).
    url: (input.urls.length === 1 ? input.urls[0] : input.urls) as string,
    connections: input.connections,
    duration: input.durationSeconds ?? 10,
    amount: input.amount,
    timeout: 10,
    // A fixed path needs no per-request hook (the cheapest load generator for the hit rows).
    ...(fixed
      ? { requests: [{ method: 'GET', path: fixed }] }
      : { requests: [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }] }),
  };
  // autocannon's own histogram has 1 ms resolution; an L1 hit takes a fraction of that. Every 2xx
  // response time (hrtime, ms with decimals) is kept instead, and the percentiles taken from them.
  const latencies: number[] = [];
  // autocannon reports whole seconds; a run bounded by `amount` needs the real elapsed time.
  const started = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const run = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    run.on('response', (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const elapsed = (performance.now() - started) / 1000;
  return {
    requests: result.requests.total,
    durationSeconds: elapsed,
    requestsPerSecond: result.requests.total / elapsed,
    latencyMs: percentiles(latencies),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

serveCommands<{ id: number; input: LoadInput }>(({ input }) => load(input));
