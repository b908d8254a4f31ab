import { atLeast, checkEntry, minVersionOf, ttlMsOf } from '../../codec.ts';
import { CacheError, cacheErrorCodes } from '../../errors.ts';
import { checkKey } from '../../keys.ts';
import type { SingleFlight } from '../../single-flight.ts';
import type { BatchLoader, CacheRead, Loaded, ReadOptions } from '../../types.ts';
import { fillToken, storeLoaded, type VersionedState } from './state.ts';

/** What the batch path takes from the read path. */
export interface ReadPathParts<V> {
  /** L1 or Redis's answer at `floor`, counted as a hit; `undefined` when neither has one. */
  cached(key: string, floor: number, options: ReadOptions): Promise<CacheRead<V> | undefined>;
  /** The read path's single-flight: a key loads once whichever call asked for it. */
  flights: SingleFlight<CacheRead<V>>;
}

/**
 * `getMany`: every key through L1, then the rest through Redis in one round trip (each key's
 * `READ` is issued in the same tick, which the client pipelines), then one batched loader call for
 * the keys that missed everywhere and are not loading already, each filled by the rules of a
 * single load (fill token taken before the loader call).
 */
export function createBatchPath<V>(state: VersionedState<V>, read: ReadPathParts<V>) {
  const { context, marks } = state;
  const { counters } = context;
  const { flights } = read;

  /** One loader call for `keys`, each filled as a single load's answer would be. */
  async function loadBatch(keys: readonly string[], loader: BatchLoader<V>, ttlMs?: number) {
    const token = fillToken(state);
    counters.loads++;
    const answers = await loader(keys);
    if (!Array.isArray(answers) || answers.length !== keys.length) {
      throw new CacheError(
        cacheErrorCodes.invalidEntry,
        `the batch loader must give one { value, version } per key, in order (${keys.length})`,
      );
    }
    const entries = answers.map((entry: Loaded<V>) => checkEntry(entry, 'the loader'));
    return Promise.all(
      keys.map(async (key, i) => {
        const stored = await storeLoaded(state, key, entries[i] as Loaded<V>, token, ttlMs);
        return { ...stored, tier: 'MISS' } satisfies CacheRead<V>;
      }),
    );
  }

  /** A joined load's answer, or (below the key's floor) the key's own load. */
  async function reloadIfBelow(
    key: string,
    joined: Promise<CacheRead<V>>,
    loader: BatchLoader<V>,
    floors: Map<string, number>,
    ttlMs: number | undefined,
  ): Promise<CacheRead<V>> {
    const loaded = await joined;
    if (loaded.version >= (floors.get(key) ?? 0)) return loaded;
    // Joins a load of the key started meanwhile, if any, like getOrLoad's reload.
    return flights.run(key, async () => (await loadBatch([key], loader, ttlMs))[0] as CacheRead<V>);
  }

  /** The loads of `missing`: joined where one is in flight, one loader call for the others. */
  async function loadMissing(
    missing: readonly string[],
    loader: BatchLoader<V>,
    floors: Map<string, number>,
    ttlMs: number | undefined,
  ): Promise<CacheRead<V>[]> {
    const started = new Map<string, Promise<CacheRead<V>>>();
    for (const key of missing) {
      const joined = flights.joined(key);
      // Joined a load started before this read: below the floor, load once more (MUST-READ-4).
      if (joined) started.set(key, reloadIfBelow(key, joined, loader, floors, ttlMs));
    }
    const fresh = missing.filter((key) => !started.has(key));
    if (fresh.length > 0) {
      const promises = flights.runMany(fresh, () => loadBatch(fresh, loader, ttlMs));
      for (const [i, key] of fresh.entries()) {
        started.set(key, promises[i] as Promise<CacheRead<V>>);
      }
    }
    return Promise.all(missing.map((key) => started.get(key) as Promise<CacheRead<V>>));
  }

  return async function getMany(
    keys: readonly string[],
    loader: BatchLoader<V>,
    options: ReadOptions = {},
  ): Promise<CacheRead<V>[]> {
    if (!Array.isArray(keys)) throw new TypeError('`keys` must be an array of cache keys');
    for (const key of keys) checkKey(key);
    const minVersion = minVersionOf(options);
    const ttlMs = ttlMsOf(options);
    const unique = [...new Set(keys)];
    counters.reads += unique.length;
    const floors = new Map(unique.map((key) => [key, Math.max(minVersion, marks.get(key))]));
    // Called together: every READ goes out in this tick, one round trip for them all.
    const hits = await Promise.all(
      unique.map((key) => read.cached(key, floors.get(key) ?? minVersion, options)),
    );
    const answers = new Map<string, CacheRead<V>>();
    const missing: string[] = [];
    unique.forEach((key, i) => {
      const hit = hits[i];
      if (hit) answers.set(key, hit);
      else missing.push(key);
    });
    if (missing.length > 0) {
      counters.misses += missing.length;
      const loaded = await loadMissing(missing, loader, floors, ttlMs);
      missing.forEach((key, i) => {
        const entry = loaded[i] as CacheRead<V>;
        // Never below the caller's token, as for one key.
        answers.set(key, { ...atLeast(key, entry, minVersion), tier: entry.tier });
      });
    }
    return keys.map((key) => answers.get(key) as CacheRead<V>);
  };
}
