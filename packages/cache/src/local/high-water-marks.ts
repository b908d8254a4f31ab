/**
 * Per key, the highest version announced on the bus (or written here). Taking the max makes
 * duplicates and reordering harmless. Bounded: past `maxEntries`, the least recently raised mark
 * is forgotten; `evictions` lets a fill that started before such a loss tell that it happened.
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
  /** Marks forgotten to respect the bound since creation. */
  readonly evictions: number;
}

/** Creates the high-water marks, holding at most `maxEntries` keys. */
export function createHighWaterMarks(maxEntries: number): HighWaterMarks {
  const marks = new Map<string, number>();
  let evictions = 0;
  return {
    get: (key) => marks.get(key) ?? 0,
    // #region tutorial:raise
    raise(key, version) {
      const current = marks.get(key);
      if (current !== undefined && current >= version) return false;
      if (current === undefined && marks.size >= maxEntries) {
        const oldest = marks.keys().next().value;
        if (oldest !== undefined) marks.delete(oldest);
        evictions++;
      }
      // Re-inserted, so that the marks raised last are the ones kept longest.
      marks.delete(key);
      marks.set(key, version);
      return true;
    },
    // #endregion tutorial:raise
    clear: () => marks.clear(),
    get size() {
      return marks.size;
    },
    get evictions() {
      return evictions;
    },
  };
}
