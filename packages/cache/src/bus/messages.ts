import { isValidKey } from '../keys.ts';

/** Sent after every write: `key` now has `version`. Never carries the value. */
export interface InvalidationMessage {
  type: 'inv';
  key: string;
  version: number;
  /** The sending instance; receivers ignore their own messages. */
  origin: string;
  /** Per-origin sequence number, for tracing. */
  seq: number;
  /** The sender's clock when it published ({@link wallClockMs}), for propagation delay. */
  ts: number;
}

/** Published by each instance to itself: seeing it come back proves the subscription works. */
export interface HeartbeatMessage {
  type: 'hb';
  origin: string;
  seq: number;
  ts: number;
}

/** Anything that travels on the invalidation channel. */
export type BusMessage = InvalidationMessage | HeartbeatMessage;

/** Messages longer than this are not ours (a key is at most 512 characters). */
const MAX_MESSAGE_LENGTH = 2048;
const ORIGIN = /^[A-Za-z0-9_.:/-]{1,64}$/;

/** Serialises a message for PUBLISH. */
export function encodeMessage(message: BusMessage): string {
  return JSON.stringify(message);
}

/** Parses and validates a received message; `undefined` for anything malformed. Never throws. */
export function decodeMessage(raw: unknown): BusMessage | undefined {
  if (typeof raw !== 'string' || raw.length > MAX_MESSAGE_LENGTH) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const m = parsed as Record<string, unknown>;
  if (typeof m.origin !== 'string' || !ORIGIN.test(m.origin)) return undefined;
  if (!isCount(m.seq) || typeof m.ts !== 'number' || !Number.isFinite(m.ts)) return undefined;
  if (m.type === 'hb') {
    return { type: 'hb', origin: m.origin, seq: m.seq, ts: m.ts } satisfies HeartbeatMessage;
  }
  if (m.type !== 'inv' || !isValidKey(m.key) || !isCount(m.version)) return undefined;
  return {
    type: 'inv',
    key: m.key,
    version: m.version,
    origin: m.origin,
    seq: m.seq,
    ts: m.ts,
  } satisfies InvalidationMessage;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Milliseconds since the epoch with sub-millisecond precision: the clock that senders stamp and
 * receivers compare with (processes on one machine share it), so that a propagation delay well
 * under 1 ms is still measured.
 */
export function wallClockMs(): number {
  return performance.timeOrigin + performance.now();
}
