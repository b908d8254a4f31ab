/**
 * The result types of the lab's consistency checker and the metric definitions it implements
 * (`METRIC_DEFINITIONS`, also in docs/lab.md). Kept apart from `checker.ts` so the reports can
 * import them without the algorithms.
 */
import type { FaultMark } from './history.ts';

/** The metric definitions the checker implements, printed verbatim by the reports. */
export const METRIC_DEFINITIONS = [
  {
    term: 'Stale read',
    text: 'an ok read returning a version lower than the latest version whose ok write to the same key completed before the read started. Stale-read rate = stale reads / ok reads.',
  },
  {
    term: 'Staleness window',
    text: 'read start − completion time of the first write (by completion) that made the read stale. Percentiles are nearest-rank.',
  },
  {
    term: 'Stuck key',
    text: 'a key that some final-sweep read (after writes stopped and the quiet period) served with a version lower than its latest ok-written version, or failed to serve.',
  },
  {
    term: 'Monotonic-read violation',
    text: 'an ok read returning a lower version than an earlier (completed before it started) ok read of the same session and key.',
  },
  {
    term: 'Read-your-writes violation',
    text: "an ok read returning a lower version than the session's own latest ok write to that key completed before the read started.",
  },
  {
    term: 'Value/version mismatch',
    text: 'an ok read whose value differs from the value an ok write produced with the same version.',
  },
  { term: 'Hit ratio', text: '(L1 hits + L2 hits) / ok reads.' },
] as const;

/** How long after a fault ends stale reads are still attributed to it, by default. */
export const DEFAULT_FAULT_WINDOW_AFTER_MS = 2_000;

/** Options of `checkHistory`. */
export interface CheckOptions {
  /** When set, non-final reads starting ≥ 2× this after writes stopped also count for stuck keys. */
  propagationBoundMs?: number;
  /** @default 2000 */
  faultWindowAfterMs?: number;
}

/** p50/p99/max of a set of durations (ms); all 0 when empty. */
export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** Stale reads among a group of ok reads (one instance, one tier, or all). */
export interface StaleGroup {
  reads: number;
  staleReads: number;
  staleReadRate: number;
  windowMs: Distribution;
}

/** One stale read; `index` points into `history.operations`. */
export interface StaleRead {
  index: number;
  key: string;
  instance: string;
  tier?: string;
  invokeMs: number;
  version?: number;
  /** The latest version written before the read started. */
  latestVersion: number;
  windowMs: number;
  final: boolean;
}

/** A monotonic-read or read-your-writes violation. */
export interface SessionViolation {
  index: number;
  session: number;
  key: string;
  instance: string;
  invokeMs: number;
  version?: number;
  /** The version the read should have returned at least. */
  expectedAtLeast: number;
  /** The earlier read (monotonic) or own write (RYW) that set `expectedAtLeast`. */
  causeIndex: number;
  withToken: boolean;
}

/** Violations of one session guarantee, split by whether the read carried a token. */
export interface SessionCheck {
  withTokens: number;
  withoutTokens: number;
  /** Ok reads that carried / did not carry `X-Min-Version`, for rates. */
  readsWithTokens: number;
  readsWithoutTokens: number;
  violations: SessionViolation[];
}

/** A read whose value contradicts the write that produced its version. */
export interface Mismatch {
  index: number;
  key: string;
  instance: string;
  version: number;
  value?: string;
  writtenValue?: string;
  writeIndex: number;
}

/** A key some instance still served stale (or failed to serve) after writes stopped. */
export interface StuckKey {
  key: string;
  latestVersion?: number;
  instances: string[];
  observations: { index: number; instance: string; version?: number; failed: boolean }[];
}

/** Stale reads attributed to one injected fault. */
export interface FaultStaleness {
  fault: FaultMark;
  fromMs: number;
  toMs: number;
  reads: number;
  staleReads: number;
  maxWindowMs: number;
  /**
   * Failed operations (reads and writes) that started in the window: requests to an instance the
   * fault stopped or restarted (`kill`, `freeze`, `crash-after-commit`), or that timed out on a
   * stalled Redis or database.
   */
  errors: number;
}

/** Counts of failed operations. */
export interface ErrorCounts {
  total: number;
  byKind: { read: number; write: number };
  byInstance: Record<string, { read: number; write: number }>;
  /** Of `total`, those that started within some fault's window (see {@link FaultStaleness}). */
  inFaultWindows: number;
}

/** Everything the checker found in one history. */
export interface CheckResult {
  options: { propagationBoundMs?: number; faultWindowAfterMs: number; stuckFromMs?: number };
  reads: { total: number; ok: number; final: number };
  writes: { total: number; ok: number };
  /** Ok reads by `X-Cache`; `none` when the header was missing. */
  tiers: Record<'L1' | 'L2' | 'MISS' | 'none', number>;
  hitRatio: number;
  stale: StaleGroup & {
    byInstance: Record<string, StaleGroup>;
    byTier: Record<string, StaleGroup>;
    list: StaleRead[];
  };
  mismatches: Mismatch[];
  stuckKeys: StuckKey[];
  monotonic: SessionCheck;
  readYourWrites: SessionCheck;
  errors: ErrorCounts;
  faults: FaultStaleness[];
  warnings: string[];
}

/** The headline numbers of a run, for comparison tables. */
export interface Summary {
  reads: number;
  staleReads: number;
  staleReadRate: number;
  p99StalenessMs: number;
  maxStalenessMs: number;
  stuckKeys: number;
  mismatches: number;
  monotonicViolations: number;
  rywViolations: number;
  errors: number;
  hitRatio: number;
}
