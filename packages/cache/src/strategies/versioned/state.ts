import type { InvalidationBus } from '../../bus/invalidation-bus.ts';
import type { HighWaterMarks } from '../../local/high-water-marks.ts';
import type { L1Store } from '../../local/l1-store.ts';
import type { VersionedStore } from '../../redis/versioned-store.ts';
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
  /** Next sequence number of an own invalidation message. */
  nextSeq(): number;
}

/**
 * Puts a loaded entry into L1 unless that could make L1 serve something older than the protocol
 * allows: the bus is not trusted, trust changed while loading (`epoch`), or a newer version was
 * announced meanwhile.
 */
export function fillL1<V>(state: VersionedState<V>, key: string, entry: Loaded<V>, epoch: number) {
  const { bus, marks, l1, context } = state;
  if (!bus.trusted) return;
  if (bus.epoch !== epoch) {
    context.counters.fillsRejected.epoch++;
    return;
  }
  if (entry.version < marks.get(key)) {
    context.counters.fillsRejected.superseded++;
    return;
  }
  l1.set(key, entry);
}
