/**
 * Per key, the highest version announced on the bus (or written here). Taking the max makes
 * duplicates and reordering harmless. Bounded: past `maxEntries`, the oldest marks are forgotten —
 * they only matter while a fill that started before them is still in flight.
 */
export interface HighWaterMarks {
  /** The mark of `key`, `0` when none is known. */
  get(key: string): number;
  /** Raises the mark of `key` to `version`; returns true when it rose. */
  raise(key: string, version: number): boolean;
  /** Forgets every mark. */
  clear(): void;
  /** Marks held now. */
  readonly size: number;
}

/** Creates the high-water marks, holding at most `maxEntries` keys. */
export function createHighWaterMarks(maxEntries: number): HighWaterMarks {
  const marks = new Map<string, number>();
  return {
    get: (key) => marks.get(key) ?? 0,
    raise(key, version) {
      const current = marks.get(key);
      if (current !== undefined && current >= version) return false;
      if (current === undefined && marks.size >= maxEntries) {
        const oldest = marks.keys().next().value;
        if (oldest !== undefined) marks.delete(oldest);
      }
      marks.set(key, version);
      return true;
    },
    clear: () => marks.clear(),
    get size() {
      return marks.size;
    },
  };
}
