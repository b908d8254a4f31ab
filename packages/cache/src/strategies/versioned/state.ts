import type { InvalidationBus } from '../../bus/invalidation-bus.ts';
import type { HighWaterMarks } from '../../local/high-water-marks.ts';
import type { L1Store } from '../../local/l1-store.ts';
import type { Announcement, VersionedStore } from '../../redis/versioned-store.ts';
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
  /** Builds the invalidation of `key` at `version`, published with a fill as `when` says. */
  announcement(key: string, version: number, when: Announcement['when']): Announcement;
  /** Data TTL of an entry, and the longer TTL of its pointer. */
  ttlOf(entry: Loaded<V>): { ttlMs: number; pointerTtlMs: number };
}

/** What a fill must still match when it lands: taken before the read it fills from. */
export interface FillToken {
  epoch: number;
  markEvictions: number;
}

/** Takes the token of a read that is about to start. */
export function fillToken<V>(state: VersionedState<V>): FillToken {
  return { epoch: state.bus.epoch, markEvictions: state.marks.evictions };
}

/**
 * Puts an entry into L1 unless that could make L1 serve something older than the protocol allows:
 * the bus is not trusted, trust changed since the read began (`epoch`), a newer version was
 * announced meanwhile, or this key's mark may have been forgotten meanwhile.
 */
// #region tutorial:fill-l1
export function fillL1<V>(
  state: VersionedState<V>,
  key: string,
  entry: Loaded<V>,
  token: FillToken,
) {
  const { bus, marks, l1, context } = state;
  const rejected = context.counters.fillsRejected;
  if (!bus.trusted) return;
  if (bus.epoch !== token.epoch) {
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
  l1.set(key, entry);
}
// #endregion tutorial:fill-l1
