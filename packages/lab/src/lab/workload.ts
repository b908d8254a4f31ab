import { setTimeout as delay } from 'node:timers/promises';
import { nanoid } from 'nanoid';
import { createClock, readUser, type Target, writeUser } from './client.ts';
import type { ScheduledFault } from './faults.ts';
import type { FaultMark, History, Operation, RunSettings } from './history.ts';
import { createRandom, type Random } from './random.ts';

/** What one history run does. */
export interface WorkloadOptions {
  targets: Target[];
  strategy: string;
  seed: number;
  sessions: number;
  /** Keys `1`…`keys` (seeded users) take the random workload. */
  keys: number;
  writeRatio: number;
  durationMs: number;
  /** How many of the sessions send `X-Min-Version` tokens. */
  tokenSessions: number;
  quietMs: number;
  faults: ScheduledFault[];
  /**
   * The stale-set scenario: `count` times, a read of a cold key on `slow` (whose fills are held)
   * is overtaken by a write of that key on another instance `gapMs` later.
   */
  staleSet?: { slow: Target; count: number; gapMs: number; firstKey: number };
}

/** Runs the workload, the faults and the final sweep; returns the complete history. */
export async function runHistory(options: WorkloadOptions): Promise<History> {
  const now = createClock();
  const operations: Operation[] = [];
  const faults: FaultMark[] = [];
  const stopAt = options.durationMs;
  const timers = options.faults.map((fault) => scheduleFault(fault, now, faults, operations));

  const sessions = Array.from({ length: options.sessions }, (_, session) =>
    runSession(session, createRandom(options.seed + session), options, now, stopAt, operations),
  );
  if (options.staleSet) sessions.push(runStaleSetRaces(options, now, operations));
  await Promise.all(sessions);
  await Promise.all(timers);

  const writes = operations.filter((op) => op.kind === 'write');
  const writesStoppedMs = Math.max(0, ...writes.map((op) => op.completeMs));
  await delay(Math.max(0, writesStoppedMs + options.quietMs - now()));
  await finalSweep(options, [...new Set(writes.map((op) => op.key))], now, operations);
  return { settings: settingsOf(options), operations, faults, writesStoppedMs };
}

async function runSession(
  session: number,
  random: Random,
  options: WorkloadOptions,
  now: () => number,
  stopAt: number,
  operations: Operation[],
): Promise<void> {
  const usesTokens = session < options.tokenSessions;
  const seen = new Map<string, number>();
  while (now() < stopAt) {
    const key = String(1 + random.int(options.keys));
    const target = random.pick(options.targets);
    const op =
      random.next() < options.writeRatio
        ? await writeUser(target, { session, key }, now, `m-${nanoid(10)}`)
        : await readUser(target, { session, key }, now, usesTokens ? seen.get(key) : undefined);
    operations.push(op);
    if (op.ok && op.version !== undefined) seen.set(key, Math.max(seen.get(key) ?? 0, op.version));
  }
}

/** The stale-set race, provoked on purpose: a held reader of a cold key, overtaken by a write. */
async function runStaleSetRaces(
  options: WorkloadOptions,
  now: () => number,
  operations: Operation[],
): Promise<void> {
  const race = options.staleSet;
  if (!race) return;
  const others = options.targets.filter((target) => target.name !== race.slow.name);
  const session = options.sessions;
  for (let i = 0; i < race.count; i++) {
    const key = String(race.firstKey + i);
    const read = readUser(race.slow, { session, key }, now);
    await delay(race.gapMs);
    const writer = others[i % others.length] ?? race.slow;
    const write = writeUser(writer, { session: session + 1, key }, now, `race-${nanoid(8)}`);
    operations.push(...(await Promise.all([read, write])));
  }
}

/** After the quiet period: every written key, read once on every instance. */
async function finalSweep(
  options: WorkloadOptions,
  keys: string[],
  now: () => number,
  operations: Operation[],
): Promise<void> {
  const session = options.sessions + 2;
  for (const key of keys) {
    const reads = options.targets.map((target) => readUser(target, { session, key }, now));
    for (const op of await Promise.all(reads)) operations.push({ ...op, final: true });
  }
}

/**
 * Runs `fault` at its time and records it in `marks`; the writes a fault committed (`sql-write`,
 * `bulk-write`, `crash-after-commit`) go into `operations`, counted like the workload's. Never
 * rejects: a fault that fails (a restarted Redis resets the connection of a CLIENT KILL under way:
 * `read ECONNRESET`) is recorded with its error and the run goes on. Its promise is awaited only
 * once the sessions are over, so a rejection here would be unhandled meanwhile and end the lab.
 */
function scheduleFault(
  fault: ScheduledFault,
  now: () => number,
  marks: FaultMark[],
  operations: Operation[],
) {
  return (async () => {
    await delay(fault.atMs);
    const mark: FaultMark = { kind: fault.kind, atMs: now(), detail: fault.detail };
    marks.push(mark);
    try {
      const done = await fault.start({ now });
      if (Array.isArray(done)) operations.push(...(done as Operation[]));
      if (fault.durationMs !== undefined) {
        await delay(fault.durationMs);
        await fault.stop?.();
        mark.endMs = now();
      } else if (typeof done === 'string') {
        // A fault that took time (a failover): it ends when it is over.
        mark.endMs = now();
        mark.detail = done;
      }
    } catch (error) {
      mark.endMs = now();
      mark.error = (error as Error).message;
      mark.detail = [mark.detail, `failed: ${mark.error}`].filter(Boolean).join(', ');
    }
  })();
}

function settingsOf(options: WorkloadOptions): RunSettings {
  return {
    strategy: options.strategy,
    seed: options.seed,
    sessions: options.sessions,
    keys: options.keys,
    writeRatio: options.writeRatio,
    durationMs: options.durationMs,
    tokenSessions: options.tokenSessions,
    instances: options.targets.map((target) => target.name),
    quietMs: options.quietMs,
    startedAt: new Date().toISOString(),
    faults: options.faults.map((fault) => fault.spec),
    staleSetRaces: options.staleSet?.count ?? 0,
  };
}
