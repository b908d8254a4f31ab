import { isValidKey, MAX_KEY_LENGTH } from '../keys.ts';
import { createSigner, isSigned, type RejectReason } from './signing.ts';

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
  /** Sharded Pub/Sub: the sender's channel sequence number (see {@link HeartbeatMessage.cseq}). */
  cseq?: number;
}

/** Published by each instance to itself: seeing it come back proves the subscription works. */
export interface HeartbeatMessage {
  type: 'hb';
  origin: string;
  seq: number;
  ts: number;
  /**
   * Sharded Pub/Sub only: how many messages (announcements and heartbeats) the sender published
   * on this channel before this one, since it started. A receiver that sees it skip a number has
   * lost a message on that channel. Absent with global Pub/Sub.
   */
  cseq?: number;
}

/**
 * Sent by an instance that cleared the namespace (`clear()`), before and after it deleted the
 * Redis entries: every receiver drops its whole L1, and refuses the fills of loads it started
 * before it heard this.
 */
export interface ClearMessage {
  type: 'clr';
  origin: string;
  /** The sender's sequence number, shared with its invalidations. */
  seq: number;
  ts: number;
  /** Sharded Pub/Sub: the sender's channel sequence number (see {@link HeartbeatMessage.cseq}). */
  cseq?: number;
}

/** Anything that travels on the invalidation channel. */
export type BusMessage = InvalidationMessage | HeartbeatMessage | ClearMessage;

/**
 * Messages longer than this are not ours. Every valid key fits: JSON escapes at most `"` and `\`
 * in one (two characters each; control characters and unpaired surrogates are not valid in keys),
 * and the rest of a message (type, a 64-character origin, three numbers) is well under 1,024.
 */
export const MAX_MESSAGE_LENGTH = 2 * MAX_KEY_LENGTH + 1024;
/** A signed message: the MAC and its dot in front of the JSON. */
const MAX_SIGNED_LENGTH = MAX_MESSAGE_LENGTH + 44;
const ORIGIN = /^[A-Za-z0-9_.:/-]{1,64}$/;

/** Turns messages into what travels on the channel and back, signed when secrets are given. */
export interface MessageCodec {
  /** The string to PUBLISH. */
  encode(message: BusMessage): string;
  /** The validated message, or why it is dropped. Never throws. */
  decode(raw: unknown): BusMessage | RejectReason;
}

/**
 * Creates the codec of `channel`. Without secrets messages are plain JSON, as they always were.
 * With secrets every message is signed (HMAC-SHA256, see {@link createSigner}), and one that is
 * unsigned or signed with none of them is refused before it is even parsed.
 */
export function createMessageCodec(channel: string, secrets: readonly string[] = []): MessageCodec {
  if (secrets.length === 0) {
    return {
      encode: (message) => JSON.stringify(message),
      decode: (raw) => decodeMessage(raw) ?? 'malformed',
    };
  }
  const signer = createSigner(secrets, channel);
  return {
    encode: (message) => signer.sign(JSON.stringify(message)),
    decode(raw) {
      // Checked first, so that no MAC is ever computed over a huge string.
      if (typeof raw !== 'string' || raw.length > MAX_SIGNED_LENGTH) return 'malformed';
      if (!isSigned(raw)) return 'unsigned';
      const payload = signer.open(raw);
      if (payload === undefined) return 'forged';
      return decodeMessage(payload) ?? 'malformed';
    },
  };
}

/** Parses and validates a received JSON message; `undefined` for anything malformed. */
function decodeMessage(raw: unknown): BusMessage | undefined {
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
  if (m.cseq !== undefined && !isCount(m.cseq)) return undefined;
  const cseq = m.cseq === undefined ? {} : { cseq: m.cseq };
  if (m.type === 'hb') {
    return {
      type: 'hb',
      origin: m.origin,
      seq: m.seq,
      ts: m.ts,
      ...cseq,
    } satisfies HeartbeatMessage;
  }
  if (m.type === 'clr') {
    return { type: 'clr', origin: m.origin, seq: m.seq, ts: m.ts, ...cseq } satisfies ClearMessage;
  }
  if (m.type !== 'inv' || !isValidKey(m.key) || !isCount(m.version)) return undefined;
  return {
    type: 'inv',
    key: m.key,
    version: m.version,
    origin: m.origin,
    seq: m.seq,
    ts: m.ts,
    ...cseq,
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
