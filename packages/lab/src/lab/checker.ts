/**
 * The lab's consistency checker: pure functions from a recorded `History` to the consistency
 * metrics defined in `METRIC_DEFINITIONS` (stale reads, staleness window, convergence time, stuck
 * keys, read-your-writes and monotonic-read violations). No I/O. Every pass is O(n log n): writes are sorted per key by completion time and
 * binary-searched, sessions are scanned once per key.
 */

import { valuesAtPercentiles } from '../percentiles.ts';
import { checkSessions, groupIndexes, versionOf } from './checker-sessions.ts';
import type {
  CheckOptions,
  CheckResult,
  Distribution,
  ErrorCounts,
  FaultStaleness,
  Mismatch,
  StaleGroup,
  StaleRead,
  StuckKey,
  Summary,
} from './checker-types.ts';
import { DEFAULT_FAULT_WINDOW_AFTER_MS } from './checker-types.ts';
import type { History, Operation } from './history.ts';

export * from './checker-types.ts';

/** Ok writes of one key sorted by completion, with the running maximum version. */
interface KeyWrites {
  completeMs: number[];
  prefixMax: number[];
  byVersion: Map<number, number>;
}

/** First index in a sorted array whose value is ≥ (or > when `strict`) `target`. */
export function lowerBound(values: number[], target: number, strict = false): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid] as number;
    if (v < target || (strict && v === target)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** p50, p99 and max of durations (ms), as `../percentiles.ts` defines them; all 0 when empty. */
export function distribution(values: number[]): Distribution {
  if (values.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  const [p50, p99, max] = valuesAtPercentiles(values, [50, 99, 100]) as [number, number, number];
  return { count: values.length, p50, p99, max };
}

/** Builds the per-key write index used by the staleness, mismatch and stuck-key passes. */
function indexWrites(ops: Operation[]): Map<string, KeyWrites> {
  const isOkWrite = (op: Operation) => op.kind === 'write' && op.ok && op.version !== undefined;
  const result = new Map<string, KeyWrites>();
  for (const [key, idx] of groupIndexes(ops, isOkWrite, (op) => op.key)) {
    idx.sort((a, b) => (ops[a] as Operation).completeMs - (ops[b] as Operation).completeMs);
    const entry: KeyWrites = { completeMs: [], prefixMax: [], byVersion: new Map() };
    let max = Number.NEGATIVE_INFINITY;
    for (const i of idx) {
      const op = ops[i] as Operation;
      max = Math.max(max, versionOf(op));
      entry.completeMs.push(op.completeMs);
      entry.prefixMax.push(max);
      if (!entry.byVersion.has(versionOf(op))) entry.byVersion.set(versionOf(op), i);
    }
    result.set(key, entry);
  }
  return result;
}

/** Classifies one ok read against its key's writes; undefined when fresh. */
function staleness(
  ops: Operation[],
  i: number,
  writes: KeyWrites | undefined,
): StaleRead | undefined {
  const op = ops[i] as Operation;
  if (!writes) return undefined;
  // Writes that completed strictly before the read started form a prefix of the sorted list.
  const before = lowerBound(writes.completeMs, op.invokeMs);
  const latest = before > 0 ? (writes.prefixMax[before - 1] as number) : Number.NEGATIVE_INFINITY;
  if (!(versionOf(op) < latest)) return undefined;
  // The running maximum is sorted, so the first write above the read's version is a search away.
  const first = lowerBound(writes.prefixMax, versionOf(op), true);
  return {
    index: i,
    key: op.key,
    instance: op.instance,
    tier: op.tier,
    invokeMs: op.invokeMs,
    version: op.version,
    latestVersion: latest,
    windowMs: op.invokeMs - (writes.completeMs[first] as number),
    final: op.final === true,
  };
}

/** Aggregates stale reads over a group of ok reads. */
function staleGroup(reads: number, stale: StaleRead[]): StaleGroup {
  return {
    reads,
    staleReads: stale.length,
    staleReadRate: reads === 0 ? 0 : stale.length / reads,
    windowMs: distribution(stale.map((s) => s.windowMs)),
  };
}

/** Groups ok reads and their stale reads by a label and aggregates each group. */
function breakdown(
  ops: Operation[],
  okReads: number[],
  stale: StaleRead[],
  label: (op: Operation) => string,
): Record<string, StaleGroup> {
  const reads = new Map<string, number>();
  for (const i of okReads) {
    const name = label(ops[i] as Operation);
    reads.set(name, (reads.get(name) ?? 0) + 1);
  }
  const staleByName = new Map<string, StaleRead[]>();
  for (const s of stale) {
    const name = label(ops[s.index] as Operation);
    const list = staleByName.get(name);
    if (list) list.push(s);
    else staleByName.set(name, [s]);
  }
  const names = [...reads.keys()].sort();
  return Object.fromEntries(
    names.map((name) => [name, staleGroup(reads.get(name) ?? 0, staleByName.get(name) ?? [])]),
  );
}

/** Ok reads whose value differs from the ok write that produced the same version. */
function findMismatches(ops: Operation[], okReads: number[], writes: Map<string, KeyWrites>) {
  const mismatches: Mismatch[] = [];
  for (const i of okReads) {
    const op = ops[i] as Operation;
    if (op.version === undefined) continue;
    const writeIndex = writes.get(op.key)?.byVersion.get(op.version);
    // Seeded versions have no write in the history: nothing to contradict.
    if (writeIndex === undefined) continue;
    const writtenValue = ops[writeIndex]?.value;
    if (writtenValue === op.value) continue;
    const { key, instance, version, value } = op;
    mismatches.push({ index: i, key, instance, version, value, writtenValue, writeIndex });
  }
  return mismatches;
}

/** Keys that a read of the final sweep (or one after `stuckFromMs`) found stale or failed on. */
function findStuckKeys(ops: Operation[], writes: Map<string, KeyWrites>, stuckFromMs?: number) {
  const stuck = new Map<string, StuckKey>();
  let checked = 0;
  ops.forEach((op, index) => {
    const late = stuckFromMs !== undefined && op.invokeMs >= stuckFromMs;
    if (op.kind !== 'read' || !(op.final || late)) return;
    checked++;
    const latestVersion = writes.get(op.key)?.prefixMax.at(-1);
    const stale = latestVersion !== undefined && versionOf(op) < latestVersion;
    if (op.ok && !stale) return;
    const entry = stuck.get(op.key) ?? {
      key: op.key,
      latestVersion,
      instances: [],
      observations: [],
    };
    stuck.set(op.key, entry);
    entry.observations.push({ index, instance: op.instance, version: op.version, failed: !op.ok });
    if (!entry.instances.includes(op.instance)) entry.instances.push(op.instance);
  });
  for (const entry of stuck.values()) entry.instances.sort();
  return { checked, keys: [...stuck.values()].sort((a, b) => a.key.localeCompare(b.key)) };
}

/** Counts failed operations by kind and instance. */
function countErrors(ops: Operation[], windows: { fromMs: number; toMs: number }[]): ErrorCounts {
  const byKind = { read: 0, write: 0 };
  const byInstance = new Map<string, { read: number; write: number }>();
  let inFaultWindows = 0;
  for (const op of ops) {
    if (op.ok) continue;
    if (windows.some((w) => op.invokeMs >= w.fromMs && op.invokeMs <= w.toMs)) inFaultWindows++;
    byKind[op.kind]++;
    const perInstance = byInstance.get(op.instance) ?? { read: 0, write: 0 };
    perInstance[op.kind]++;
    byInstance.set(op.instance, perInstance);
  }
  const total = byKind.read + byKind.write;
  const sorted = Object.fromEntries([...byInstance].sort());
  return { total, byKind, byInstance: sorted, inFaultWindows };
}

/** Stale reads starting within each fault, from its start to `afterMs` after it was undone. */
function faultStaleness(history: History, okReads: number[], stale: StaleRead[], afterMs: number) {
  const failed = history.operations.filter((op) => !op.ok).map((op) => op.invokeMs);
  const invokes = okReads
    .map((i) => (history.operations[i] as Operation).invokeMs)
    .sort((a, b) => a - b);
  const sortedStale = [...stale].sort((a, b) => a.invokeMs - b.invokeMs);
  const staleInvokes = sortedStale.map((s) => s.invokeMs);
  return history.faults.map((fault): FaultStaleness => {
    const fromMs = fault.atMs;
    const toMs = (fault.endMs ?? fault.atMs) + afterMs;
    const inWindow = sortedStale.slice(
      lowerBound(staleInvokes, fromMs),
      lowerBound(staleInvokes, toMs, true),
    );
    return {
      fault,
      fromMs,
      toMs,
      reads: lowerBound(invokes, toMs, true) - lowerBound(invokes, fromMs),
      staleReads: inWindow.length,
      maxWindowMs: inWindow.reduce((max, s) => Math.max(max, s.windowMs), 0),
      errors: failed.filter((ms) => ms >= fromMs && ms <= toMs).length,
    };
  });
}

/** Counts reads, writes and ok reads by tier. */
function countOperations(ops: Operation[], okReads: number[]) {
  const tiers: CheckResult['tiers'] = { L1: 0, L2: 0, MISS: 0, none: 0 };
  for (const i of okReads) {
    const tier = ops[i]?.tier;
    tiers[tier !== undefined && Object.hasOwn(tiers, tier) ? tier : 'none']++;
  }
  const reads = ops.filter((op) => op.kind === 'read');
  const writes = ops.filter((op) => op.kind === 'write');
  return {
    reads: {
      total: reads.length,
      ok: okReads.length,
      final: reads.filter((op) => op.final).length,
    },
    writes: { total: writes.length, ok: writes.filter((op) => op.ok).length },
    tiers,
    hitRatio: okReads.length === 0 ? 0 : (tiers.L1 + tiers.L2) / okReads.length,
  };
}

/** Checks a recorded history against the metric definitions of `METRIC_DEFINITIONS`. */
export function checkHistory(history: History, options: CheckOptions = {}): CheckResult {
  const ops = history.operations;
  const { propagationBoundMs, faultWindowAfterMs = DEFAULT_FAULT_WINDOW_AFTER_MS } = options;
  const stuckFromMs =
    propagationBoundMs === undefined ? undefined : history.writesStoppedMs + 2 * propagationBoundMs;
  const okReads = [...ops.keys()].filter((i) => ops[i]?.kind === 'read' && ops[i]?.ok);
  const writes = indexWrites(ops);
  const list = okReads.flatMap(
    (i) => staleness(ops, i, writes.get((ops[i] as Operation).key)) ?? [],
  );
  const stuck = findStuckKeys(ops, writes, stuckFromMs);
  const faults = faultStaleness(history, okReads, list, faultWindowAfterMs);
  return {
    options: { propagationBoundMs, faultWindowAfterMs, stuckFromMs },
    ...countOperations(ops, okReads),
    stale: {
      ...staleGroup(okReads.length, list),
      byInstance: breakdown(ops, okReads, list, (op) => op.instance),
      byTier: breakdown(ops, okReads, list, (op) => op.tier ?? 'none'),
      list,
    },
    mismatches: findMismatches(ops, okReads, writes),
    stuckKeys: stuck.keys,
    ...checkSessions(ops, okReads),
    errors: countErrors(ops, faults),
    faults,
    warnings: collectWarnings(history, stuck.checked, propagationBoundMs),
  };
}

/** Things that make the numbers less meaningful than they look. */
function collectWarnings(history: History, stuckChecked: number, propagationBoundMs?: number) {
  const warnings: string[] = [];
  if (stuckChecked === 0) warnings.push('no final-sweep reads: stuck keys were not checked');
  const quietMs = history.settings.quietMs;
  if (propagationBoundMs !== undefined && quietMs < 2 * propagationBoundMs) {
    warnings.push(
      `quiet period ${quietMs} ms is shorter than 2× the propagation bound (${propagationBoundMs} ms)`,
    );
  }
  const backwards = history.operations.filter((op) => op.completeMs < op.invokeMs).length;
  if (backwards > 0) warnings.push(`${backwards} operations complete before they were invoked`);
  return warnings;
}

/** The headline numbers of a result, for comparison tables. */
export function summarize(result: CheckResult): Summary {
  return {
    reads: result.reads.ok,
    staleReads: result.stale.staleReads,
    staleReadRate: result.stale.staleReadRate,
    p99StalenessMs: result.stale.windowMs.p99,
    maxStalenessMs: result.stale.windowMs.max,
    stuckKeys: result.stuckKeys.length,
    mismatches: result.mismatches.length,
    monotonicViolations: result.monotonic.withTokens + result.monotonic.withoutTokens,
    rywViolations: result.readYourWrites.withTokens + result.readYourWrites.withoutTokens,
    errors: result.errors.total,
    hitRatio: result.hitRatio,
  };
}
