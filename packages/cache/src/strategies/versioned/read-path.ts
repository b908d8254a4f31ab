import { checkKey } from '../../keys.ts';
import { createSingleFlight } from '../../single-flight.ts';
import type { CacheRead, Loaded, Loader, ReadOptions } from '../../types.ts';
import { fillL1, type VersionedState } from './state.ts';

/**
 * The read path: L1 (when the bus is trusted) → one round trip to Redis for pointer and data →
 * one database load per key per instance, which fills Redis (the pointer only moves forward)
 * and, if still valid, L1.
 */
export function createReadPath<V>(state: VersionedState<V>) {
  const { context, l1, marks, bus, store } = state;
  const { counters, config } = context;
  const loadOnce = createSingleFlight<Loaded<V>>();

  async function load(key: string, loader: Loader<V>): Promise<Loaded<V>> {
    // The epoch is taken before the database read: a fill is void if trust changed after it.
    const epoch = bus.epoch;
    counters.loads++;
    const entry = await loader(key);
    await config.hooks.beforeFill?.(key, entry);
    const ttlMs = entry.value === null ? config.negativeTtlMs : config.ttlMs;
    await store.fill(key, entry, ttlMs).catch(context.redisFailed);
    fillL1(state, key, entry, epoch);
    return entry;
  }

  /** An L1 entry that may be served, or `undefined`. */
  async function fromL1(key: string, options: ReadOptions): Promise<CacheRead<V> | undefined> {
    if (!bus.trusted) return undefined;
    const entry = l1.get(key);
    if (entry === undefined || entry.version < (options.minVersion ?? 0)) return undefined;
    if (options.consistency !== 'strict') return entry.read;
    const current = await store.pointer(key).catch(context.redisFailed);
    if (current === entry.version) {
      counters.strictConfirmed++;
      return entry.read;
    }
    counters.strictRefuted++;
    return undefined;
  }

  /** The Redis entry, if it is at least as new as everything announced and asked for. */
  async function fromL2(key: string, minVersion: number): Promise<Loaded<V> | undefined> {
    const epoch = bus.epoch;
    const found = await store.read<V>(key).catch(context.redisFailed);
    const entry = found?.entry;
    if (!entry) return undefined;
    if (entry.version < marks.get(key) || entry.version < minVersion) {
      counters.l2Stale++;
      return undefined;
    }
    fillL1(state, key, entry, epoch);
    return entry;
  }

  return async function getOrLoad(
    key: string,
    loader: Loader<V>,
    options: ReadOptions = {},
  ): Promise<CacheRead<V>> {
    checkKey(key);
    counters.reads++;
    const local = await fromL1(key, options);
    if (local) {
      counters.l1Hits++;
      if (local.value === null) counters.negativeHits++;
      return local;
    }
    const minVersion = options.minVersion ?? 0;
    const remote = await fromL2(key, minVersion);
    if (remote) {
      counters.l2Hits++;
      if (remote.value === null) counters.negativeHits++;
      return { ...remote, tier: 'L2' };
    }
    counters.misses++;
    let loaded = await loadOnce(key, () => load(key, loader));
    // A shared load may have read the database before the write the token stands for.
    if (loaded.version < minVersion) loaded = await load(key, loader);
    return { ...loaded, tier: 'MISS' };
  };
}
