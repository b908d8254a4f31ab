/**
 * The session guarantees of the lab's checker: monotonic reads and read-your-writes, checked one
 * (session, key) pair at a time with a single forward scan, plus helpers the other passes share.
 */
import type { SessionCheck } from './checker-types.ts';
import type { Operation } from './history.ts';

/** An absent version (e.g. a 404) orders below every real version. */
export const versionOf = (op: Operation): number => op.version ?? Number.NEGATIVE_INFINITY;

/** Whether a read sent `X-Min-Version` (the client sends no header for a missing or zero token). */
export const carriesToken = (op: Operation): boolean => (op.token ?? 0) > 0;

/** Indexes `operations` by predicate into groups keyed by `keyOf`. */
export function groupIndexes(
  ops: Operation[],
  keep: (op: Operation) => boolean,
  keyOf: (op: Operation) => string,
) {
  const groups = new Map<string, number[]>();
  ops.forEach((op, i) => {
    if (!keep(op)) return;
    const k = keyOf(op);
    const list = groups.get(k);
    if (list) list.push(i);
    else groups.set(k, [i]);
  });
  return groups;
}

/** Records reads returning less than the highest of `earlier` completed before they started. */
function scanSession(ops: Operation[], reads: number[], earlier: number[], check: SessionCheck) {
  let next = 0;
  let best = -1;
  let bestVersion = Number.NEGATIVE_INFINITY;
  for (const i of reads) {
    const read = ops[i] as Operation;
    // `earlier` is sorted by completion, so one forward pointer admits each candidate once.
    for (; next < earlier.length; next++) {
      const candidate = ops[earlier[next] as number] as Operation;
      if (candidate.completeMs >= read.invokeMs) break;
      if (versionOf(candidate) > bestVersion) {
        bestVersion = versionOf(candidate);
        best = earlier[next] as number;
      }
    }
    if (!(versionOf(read) < bestVersion)) continue;
    const withToken = carriesToken(read);
    if (withToken) check.withTokens++;
    else check.withoutTokens++;
    const { session, key, instance, invokeMs, version } = read;
    const expectedAtLeast = bestVersion;
    check.violations.push({
      index: i,
      session,
      key,
      instance,
      invokeMs,
      version,
      expectedAtLeast,
      causeIndex: best,
      withToken,
    });
  }
}

/** Finds monotonic-read and read-your-writes violations, one (session, key) pair at a time. */
export function checkSessions(ops: Operation[], okReads: number[]) {
  const withTokens = okReads.filter((i) => carriesToken(ops[i] as Operation)).length;
  const empty = (): SessionCheck => ({
    withTokens: 0,
    withoutTokens: 0,
    readsWithTokens: withTokens,
    readsWithoutTokens: okReads.length - withTokens,
    violations: [],
  });
  const monotonic = empty();
  const readYourWrites = empty();
  const at = (i: number) => ops[i] as Operation;
  const byInvoke = (a: number, b: number) => at(a).invokeMs - at(b).invokeMs;
  const byComplete = (a: number, b: number) => at(a).completeMs - at(b).completeMs;
  const groups = groupIndexes(
    ops,
    (op) => op.ok,
    (op) => `${op.session}\u0000${op.key}`,
  );
  for (const idx of groups.values()) {
    const reads = idx.filter((i) => at(i).kind === 'read').sort(byInvoke);
    if (reads.length === 0) continue;
    const writes = idx.filter((i) => at(i).kind === 'write' && at(i).version !== undefined);
    scanSession(ops, reads, [...reads].sort(byComplete), monotonic);
    scanSession(ops, reads, writes.sort(byComplete), readYourWrites);
  }
  for (const check of [monotonic, readYourWrites])
    check.violations.sort((a, b) => a.index - b.index);
  return { monotonic, readYourWrites };
}
