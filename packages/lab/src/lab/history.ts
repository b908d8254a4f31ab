/**
 * The record of one lab run: every operation with its invoke and completion time, the faults
 * injected, and the settings. Produced by the workload runner, read by the checker and the reports.
 * Times are milliseconds since the run started (fractional), on one clock.
 */

/** A read or a write as a client saw it. */
export interface Operation {
  /** The client session that issued it (sessions are sequential: one operation at a time). */
  session: number;
  kind: 'read' | 'write';
  /** The user id. */
  key: string;
  /** The instance it was sent to (its name, e.g. `app-2`). */
  instance: string;
  invokeMs: number;
  completeMs: number;
  /** False when the request failed (network error, timeout, 5xx). */
  ok: boolean;
  status?: number;
  /** The version read, or the version the write produced. */
  version?: number;
  /** The marker read (the user's `name`), or the one written. */
  value?: string;
  /** `X-Cache` of a read. */
  tier?: 'L1' | 'L2' | 'MISS';
  /** The `X-Min-Version` a read sent, if the session uses tokens. */
  token?: number;
  /** True when this operation belongs to the final sweep after the quiet period. */
  final?: boolean;
  error?: string;
}

/** A fault injected during the run. */
export interface FaultMark {
  /** e.g. `kill-pubsub`, `pause-writes`, `restart-redis`, `freeze-instance`, `kill-instance`, `slow-db`. */
  kind: string;
  atMs: number;
  /** When it was undone, for faults that last. */
  endMs?: number;
  /** What it acted on or did; ends with `failed: <error>` when it failed. */
  detail?: string;
  /**
   * Why the fault failed (e.g. `read ECONNRESET`), when starting or undoing it threw: the run goes
   * on, `endMs` is when it failed, and the fault may have taken effect only in part.
   */
  error?: string;
}

/** Settings the run used, printed in reports. */
export interface RunSettings {
  strategy: string;
  seed: number;
  sessions: number;
  keys: number;
  /** Share of operations that are writes, 0-1. */
  writeRatio: number;
  durationMs: number;
  /** Sessions that send read-your-writes tokens (`X-Min-Version`). */
  tokenSessions: number;
  instances: string[];
  /** Quiet period after the last write before the final sweep. */
  quietMs: number;
  startedAt: string;
  [extra: string]: unknown;
}

/** One complete run. */
export interface History {
  settings: RunSettings;
  operations: Operation[];
  faults: FaultMark[];
  /** When the last write completed; the final sweep starts `quietMs` later. */
  writesStoppedMs: number;
}
