import type { InvalidationBus } from '../../bus/invalidation-bus.ts';
import { roundTrip } from '../../codec.ts';
import type { HighWaterMarks } from '../../local/high-water-marks.ts';
import type { L1Store } from '../../local/l1-store.ts';
import type { Announcement, VersionedStore } from '../../redis/versioned-store.ts';
import type { ValueCodec } from '../../serializer.ts';
import type { Loaded } from '../../types.ts';
import type { StrategyContext } from '../context.ts';

/** The parts of one instance's versioned cache, shared by its read and write paths. */
export interface VersionedState<V> {
  context: StrategyContext;
  l1: L1Store<V>;
  marks: HighWaterMarks;
  bus: InvalidationBus;
  store: VersionedStore;
  origin: string;
  /** Encodes values for Redis and decodes (deep-frozen) what Redis and loaders give. */
  codec: ValueCodec<V>;
  /**
   * Clears of the namespace made or heard by this instance: a fill of a load that started before
   * the last one is void (it may hold what the clear was for).
   */
  clears: number;
  /** Builds the invalidation of `key` at `version`, published with a fill as `when` says. */
  announcement(key: string, version: number, when: Announcement['when']): Announcement;
  /** Builds a clear message of the namespace and the channel it goes on (SPEC §5.8). */
  clearAnnouncement(): { channel: string; payload: string; publish?: () => Promise<unknown> };
  /**
   * Data TTL of an entry (a value's: `ttlMs` when given, else the cache's), and the longer TTL of
   * its pointer.
   */
  ttlOf(entry: Loaded<V>, ttlMs?: number): { ttlMs: number; pointerTtlMs: number };
}

/** What a fill must still match when it lands: taken before the read it fills from. */
export interface FillToken {
  epoch: number;
  markEvictions: number;
  clears: number;
}

/** Takes the token of a read that is about to start. */
export function fillToken<V>(state: VersionedState<V>): FillToken {
  return { epoch: state.bus.epoch, markEvictions: state.marks.evictions, clears: state.clears };
}

/**
 * Puts an entry into L1 unless that could make L1 serve something older than the protocol allows:
 * the bus is not trusted, trust changed or the namespace was cleared since the read began
 * (`epoch`), a newer version was announced meanwhile, or this key's mark may have been forgotten
 * meanwhile. `ttlMs`: the entry's TTL in Redis, which its L1 copy does not outlive.
 */
// #region tutorial:fill-l1
export function fillL1<V>(
  state: VersionedState<V>,
  key: string,
  entry: Loaded<V>,
  token: FillToken,
  ttlMs?: number,
) {
  const { bus, marks, l1, context } = state;
  const rejected = context.counters.fillsRejected;
  if (!bus.trusted) return;
  if (bus.epoch !== token.epoch || state.clears !== token.clears) {
    rejected.epoch++;
    return;
  }
  const mark = marks.get(key);
  if (entry.version < mark) {
    rejected.superseded++;
    return;
  }
  if (mark === 0 && marks.evictions !== token.markEvictions) {
    rejected.forgotten++;
    return;
  }
  l1.set(key, entry, ttlMs);
}
// #endregion tutorial:fill-l1

/**
 * Fills Redis and L1 with a loader's `loaded` answer to a read whose fill token is `token`, and
 * returns it as every tier will answer it (round-tripped through the serializer, deep-frozen). If
 * trust changed or the namespace was cleared since the token, nothing is filled, not even Redis
 * (Redis may have restarted empty and forgotten a newer version; a clear may be for this value).
 * If Redis knows a newer version, the answer is kept out of L1.
 */
// #region tutorial:store-loaded
export async function storeLoaded<V>(
  state: VersionedState<V>,
  key: string,
  loaded: Loaded<V>,
  token: FillToken,
  ttlMs?: number,
): Promise<Loaded<V>> {
  const { context, bus, store } = state;
  const { counters, config } = context;
  const { entry, payload } = roundTrip(state.codec, loaded, 'the loader');
  await config.hooks.beforeFill?.(key, entry);
  if (bus.epoch !== token.epoch || state.clears !== token.clears) {
    counters.fillsRejected.epoch++;
    return entry;
  }
  const announcement = state.announcement(key, entry.version, 'advanced');
  const filled = await store
    .fill(key, { version: entry.version, payload }, state.ttlOf(entry, ttlMs), announcement)
    .catch(context.redisFailed);
  if (filled?.published) counters.invalidationsSent++;
  if (filled?.outcome === 'stale') counters.fillsRejected.superseded++;
  else fillL1(state, key, entry, token, ttlMs);
  return entry;
}
// #endregion tutorial:store-loaded
