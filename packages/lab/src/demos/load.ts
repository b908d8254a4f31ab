/**
 * The demos' workload: `concurrency` closed-loop clients, each sending one request at a time for a
 * fixed duration, reading (or with `writeRatio`, writing) Zipf-chosen users round robin over the
 * instances. Every request is recorded as a lab `Operation`, so the lab's checker can judge it.
 */
import { nanoid } from 'nanoid';
import { distribution } from '../lab/checker.ts';
import { readUser, type Target, writeUser } from '../lab/client.ts';
import type { Operation } from '../lab/history.ts';
import { createRandom } from '../lab/random.ts';
import type { Zipf } from '../lab/zipf.ts';

/** What one run of the workload does. */
export interface LoadOptions {
  targets: Target[];
  zipf: Zipf;
  concurrency: number;
  durationMs: number;
  /** Each client draws from its own generator seeded `seed + client`: the same seed, the same keys. */
  seed: number;
  /** The lab clock: every operation is stamped with it. */
  now: () => number;
  /** Share of requests that are writes. @default 0 */
  writeRatio?: number;
  /** Reads send `X-Consistency: strict`. @default false */
  strict?: boolean;
}

/** Every request one run made, in no order, and when the run started (on the lab clock). */
export interface LoadRun {
  operations: Operation[];
  startMs: number;
}

/** Runs the workload until `durationMs` has passed. */
export async function runLoad(options: LoadOptions): Promise<LoadRun> {
  const operations: Operation[] = [];
  const startMs = options.now();
  const stopAt = startMs + options.durationMs;
  const writeRatio = options.writeRatio ?? 0;
  const clients = Array.from({ length: options.concurrency }, async (_, session) => {
    const random = createRandom(options.seed + session);
    for (let i = session; options.now() < stopAt; i++) {
      const key = String(options.zipf.draw(random));
      const target = options.targets[i % options.targets.length] as Target;
      const op =
        writeRatio > 0 && random.next() < writeRatio
          ? await writeUser(target, { session, key }, options.now, `demo-${nanoid(8)}`)
          : await readUser(target, { session, key }, options.now, undefined, options.strict);
      operations.push(op);
    }
  });
  await Promise.all(clients);
  return { operations, startMs };
}

/** Reads of one period: how many, by tier, and their latency. */
export interface ReadSummary {
  reads: number;
  errors: number;
  l1: number;
  l2: number;
  miss: number;
  /** (L1 + L2) / ok reads; `null` without reads. */
  hitRatio: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Summarises the reads among `operations`. */
export function summarizeReads(operations: Operation[]): ReadSummary {
  const reads = operations.filter((op) => op.kind === 'read');
  const ok = reads.filter((op) => op.ok);
  const count = (tier: Operation['tier']) => ok.filter((op) => op.tier === tier).length;
  const latency = distribution(ok.map((op) => op.completeMs - op.invokeMs));
  const [l1, l2, miss] = [count('L1'), count('L2'), count('MISS')];
  return {
    reads: reads.length,
    errors: reads.length - ok.length,
    l1,
    l2,
    miss,
    hitRatio: ok.length === 0 ? null : (l1 + l2) / ok.length,
    p50Ms: ok.length === 0 ? null : latency.p50,
    p99Ms: ok.length === 0 ? null : latency.p99,
  };
}

/**
 * The reads of each of the `count` seconds from `fromMs` (by start time), summarised. A request
 * the clients started just as the run ended counts in the last second.
 */
export function perSecond(operations: Operation[], fromMs: number, count: number): ReadSummary[] {
  const seconds: Operation[][] = Array.from({ length: count }, () => []);
  for (const op of operations) {
    const second = Math.floor((op.invokeMs - fromMs) / 1000);
    if (second >= 0) seconds[Math.min(second, count - 1)]?.push(op);
  }
  return seconds.map(summarizeReads);
}

/**
 * The final sweep: every key in `keys`, read once on every instance (eventual reads), marked
 * `final` so that the lab's checker counts a stale answer as a stuck key.
 */
export async function sweep(
  targets: Target[],
  keys: string[],
  now: () => number,
  session: number,
): Promise<Operation[]> {
  const operations: Operation[] = [];
  for (const key of keys) {
    const reads = targets.map((target) => readUser(target, { session, key }, now));
    for (const op of await Promise.all(reads)) operations.push({ ...op, final: true });
  }
  return operations;
}
