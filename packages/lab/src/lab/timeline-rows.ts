/**
 * Which keys the lab's timeline shows, and why: a run has more keys than rows, and the rows must
 * include what the reader looks for (stuck keys, the provoked races, the faults) even when other
 * keys have more stale reads.
 */
import type { CheckResult } from './checker-types.ts';
import type { History } from './history.ts';

/** How many keys the timeline shows at most. */
export const TIMELINE_MAX_KEYS = 30;
/** Stuck keys shown at most, so that rows remain for the race and fault keys. */
export const TIMELINE_STUCK_KEYS = 12;
/** Stale-set race keys shown at most, so that a run's race keys appear even with no stale read. */
export const TIMELINE_RACE_KEYS = 6;
/** Keys shown at most per fault: those with the most stale reads, then operations, in its window. */
export const TIMELINE_KEYS_PER_FAULT = 3;

/** Why a key has a row on the timeline (shown as a tag beside the key). */
export type TimelineReason = 'stuck' | 'race' | 'fault' | 'stale' | 'writes';

/** One row of the timeline. */
export interface TimelineRow {
  key: string;
  reason: TimelineReason;
}

/**
 * The keys the timeline shows, at most `TIMELINE_MAX_KEYS`, in this order: up to
 * `TIMELINE_STUCK_KEYS` stuck keys; up to
 * `TIMELINE_RACE_KEYS` stale-set race keys; up to `TIMELINE_KEYS_PER_FAULT` keys per fault (the
 * most stale reads, then the most operations, in its window); then the most stale reads; then the
 * most writes. Race and fault keys have rows of their own so that a clean run still shows them.
 */
export function timelineRows(history: History, result: CheckResult): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const shown = new Set<string>();
  const add = (keys: Iterable<string>, reason: TimelineReason, max = Infinity) => {
    let added = 0;
    for (const key of keys) {
      if (rows.length >= TIMELINE_MAX_KEYS || added >= max) return;
      if (shown.has(key)) continue;
      shown.add(key);
      rows.push({ key, reason });
      added++;
    }
  };
  const stale = countBy(result.stale.list.map((s) => s.key));
  const writes = countBy(
    history.operations.filter((op) => op.kind === 'write').map((op) => op.key),
  );
  const byStale = (a: string, b: string) =>
    (stale.get(b) ?? 0) - (stale.get(a) ?? 0) || a.localeCompare(b, 'en', { numeric: true });
  add(
    result.stuckKeys.map((s) => s.key),
    'stuck',
    TIMELINE_STUCK_KEYS,
  );
  add([...raceKeys(history)].sort(byStale), 'race', TIMELINE_RACE_KEYS);
  for (const fault of result.faults)
    add(faultKeys(history, result, fault), 'fault', TIMELINE_KEYS_PER_FAULT);
  add([...stale.keys()].sort(byStale), 'stale');
  add(
    [...new Set(history.operations.map((op) => op.key))].sort(
      (a, b) => (writes.get(b) ?? 0) - (writes.get(a) ?? 0) || byStale(a, b),
    ),
    'writes',
  );
  return rows;
}

/** The keys of the provoked stale-set races: those of the two sessions after the workload's. */
function raceKeys(history: History): Set<string> {
  if (!history.settings.staleSetRaces) return new Set();
  const first = history.settings.sessions;
  return new Set(
    history.operations
      .filter((op) => !op.final && (op.session === first || op.session === first + 1))
      .map((op) => op.key),
  );
}

/** Keys operated on in a fault's window, the most stale reads first, then the most operations. */
function faultKeys(
  history: History,
  result: CheckResult,
  window: CheckResult['faults'][number],
): string[] {
  const inWindow = (ms: number) => ms >= window.fromMs && ms <= window.toMs;
  const operations = countBy(
    history.operations.filter((op) => !op.final && inWindow(op.invokeMs)).map((op) => op.key),
  );
  const stale = countBy(
    result.stale.list
      .filter((s) => inWindow(history.operations[s.index]?.invokeMs ?? -1))
      .map((s) => s.key),
  );
  return [...operations.keys()].sort(
    (a, b) =>
      (stale.get(b) ?? 0) - (stale.get(a) ?? 0) ||
      (operations.get(b) ?? 0) - (operations.get(a) ?? 0) ||
      a.localeCompare(b, 'en', { numeric: true }),
  );
}

function countBy(keys: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
