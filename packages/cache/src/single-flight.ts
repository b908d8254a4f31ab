import { CacheError, cacheErrorCodes } from './errors.ts';

/** Joins concurrent calls per key; see {@link createSingleFlight}. */
export interface SingleFlight<T> {
  /** The call in flight for `key`, or a new one made with `run`. */
  run(key: string, run: () => Promise<T>): Promise<T>;
  /**
   * One call for many keys, none of them in flight: `run` answers them in order, and each key's
   * promise is joined by later `run`s of it until the whole call settles. Counts as one call
   * against `maxInFlight` (refused, every key, only if that many are in flight already).
   */
  runMany(keys: readonly string[], run: () => Promise<readonly T[]>): Promise<T>[];
  /** The call in flight for `key`, if any. */
  joined(key: string): Promise<T> | undefined;
  /** True while a call for `key` is in flight (a `run` now would join it). */
  has(key: string): boolean;
  /** Keys with a call in flight now. */
  readonly size: number;
}

/**
 * Joins concurrent calls for the same key into one: while a call for `key` is in flight, later
 * callers get the same promise. Nothing is remembered once it settles. With `maxInFlight`, a call
 * for a new key while that many are in flight fails at once with `E_OVERLOADED` (joining an
 * existing call is always allowed; `onShed` is told): a flood of distinct keys cannot pile up behind the loader.
 */
export function createSingleFlight<T>(
  options: { maxInFlight?: number; onShed?: () => void } = {},
): SingleFlight<T> {
  const maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
  const inFlight = new Map<string, Promise<T>>();
  return {
    run(key, run) {
      const pending = inFlight.get(key);
      if (pending) return pending;
      if (inFlight.size >= maxInFlight) {
        options.onShed?.();
        const message = `${inFlight.size} loads in flight already (maxConcurrentLoads)`;
        return Promise.reject(new CacheError(cacheErrorCodes.overloaded, message));
      }
      const started = run().finally(() => inFlight.delete(key));
      inFlight.set(key, started);
      return started;
    },
    runMany(keys, run) {
      if (inFlight.size >= maxInFlight) {
        options.onShed?.();
        const message = `${inFlight.size} loads in flight already (maxConcurrentLoads)`;
        return keys.map(() => Promise.reject(new CacheError(cacheErrorCodes.overloaded, message)));
      }
      const started = run();
      return keys.map((key, i) => {
        const one = started.then((answers) => answers[i] as T);
        const settled = one.finally(() => inFlight.delete(key));
        inFlight.set(key, settled);
        return settled;
      });
    },
    joined: (key) => inFlight.get(key),
    has: (key) => inFlight.has(key),
    get size() {
      return inFlight.size;
    },
  };
}
