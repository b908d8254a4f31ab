import { nanoid } from 'nanoid';
import { createClock, readUser, type Target, writeUser } from './client.ts';
import { createRandom } from './random.ts';

/** What one instance showed over the run. */
export interface InstanceConvergence {
  instance: string;
  writes: number;
  /** Writes whose first read on this instance (right after the write returned) was stale. */
  firstReadStale: number;
  /** Write completion → start of the first read here that returned it, in ms. */
  convergenceMs: number[];
  /** Writes never seen here before the deadline. */
  timedOut: number;
}

/**
 * For each iteration: write a unique marker through one instance (round robin), then read the key
 * on every instance in parallel, repeatedly, until each returns the marker or `deadlineMs` passes.
 */
export async function writeThenRead(
  targets: Target[],
  options: { iterations: number; keys: number; seed: number; deadlineMs: number },
): Promise<InstanceConvergence[]> {
  const now = createClock();
  const random = createRandom(options.seed);
  const results = targets.map((target) => ({
    instance: target.name,
    writes: 0,
    firstReadStale: 0,
    convergenceMs: [] as number[],
    timedOut: 0,
  }));
  for (let i = 0; i < options.iterations; i++) {
    const key = String(1 + random.int(options.keys));
    const marker = `wtr-${nanoid(10)}`;
    const writer = targets[i % targets.length] as Target;
    const write = await writeUser(writer, { session: 0, key }, now, marker);
    if (!write.ok)
      throw new Error(`write through ${writer.name} failed: ${write.error ?? write.status}`);
    await Promise.all(
      targets.map(async (target, t) => {
        const result = results[t] as InstanceConvergence;
        result.writes++;
        for (let attempt = 0; now() - write.completeMs < options.deadlineMs; attempt++) {
          const read = await readUser(target, { session: 1, key }, now);
          if (read.ok && read.value === marker) {
            result.convergenceMs.push(read.invokeMs - write.completeMs);
            return;
          }
          if (attempt === 0) result.firstReadStale++;
        }
        result.timedOut++;
      }),
    );
  }
  return results;
}
