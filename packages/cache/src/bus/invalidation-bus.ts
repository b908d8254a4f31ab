import { withTimeout } from '../timeout.ts';
import type { RedisLike, SubscriberLike } from '../types.ts';
import {
  type HeartbeatMessage,
  type InvalidationMessage,
  type MessageCodec,
  wallClockMs,
} from './messages.ts';
import type { RejectReason } from './signing.ts';

/** Options of {@link createInvalidationBus}. */
export interface BusOptions {
  /** Publishes heartbeats. */
  publisher: RedisLike;
  /** A dedicated connection in subscriber mode. */
  subscriber: SubscriberLike;
  channel: string;
  /** Encodes heartbeats and decodes (and, with secrets, verifies) everything received. */
  codec: MessageCodec;
  /** This instance's id; messages from it are its own. */
  origin: string;
  heartbeatIntervalMs: number;
  /** Without an own heartbeat seen for this long, the subscription is presumed dead. */
  heartbeatTimeoutMs: number;
  /** Bound on each PUBLISH of a heartbeat. */
  timeoutMs: number;
  /** An invalidation from another instance. */
  onInvalidation(message: InvalidationMessage): void;
  /** Trust was lost (`false`) or regained after a flush (`true`). */
  onTrustChange(trusted: boolean): void;
  /** A message was dropped: malformed, or (with secrets) unsigned or forged. */
  onRejected(reason: RejectReason): void;
}

/** The invalidation channel as seen by one instance. */
export interface InvalidationBus {
  /**
   * Subscribes and starts the heartbeat; never throws (a failed SUBSCRIBE is retried on every
   * heartbeat). Trust comes once the first own heartbeat returns.
   */
  start(): Promise<void>;
  /** True while every message sent on the channel is known to reach this instance. */
  readonly trusted: boolean;
  /** Changes whenever trust is lost or regained: a fill that started in another epoch is void. */
  readonly epoch: number;
  /** Stops the heartbeat and unsubscribes. */
  close(): Promise<void>;
}

/**
 * Creates the bus. Trust is lost at once when the subscriber connection errors, reconnects or
 * ends, and when no own heartbeat came back within `heartbeatTimeoutMs` (a silently dead
 * connection). It is regained only when an own heartbeat is seen again on a working connection;
 * the caller then flushes everything it learnt to trust while the channel was deaf.
 */
export function createInvalidationBus(options: BusOptions): InvalidationBus {
  const { subscriber, publisher, channel, codec, origin } = options;
  let trusted = false;
  let epoch = 0;
  let connected = false;
  let lastHeartbeatSeenAt = 0;
  let heartbeatSeq = 0;
  let subscribed = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;

  function setTrust(next: boolean): void {
    if (trusted === next) return;
    trusted = next;
    epoch++;
    options.onTrustChange(next);
  }

  const onMessage = (raw: string) => {
    if (closed) return;
    const message = codec.decode(raw);
    // Verified before the origin is looked at: an unsigned heartbeat cannot restore trust.
    if (typeof message === 'string') return options.onRejected(message);
    if (message.origin !== origin) {
      if (message.type === 'inv') options.onInvalidation(message);
      return;
    }
    if (message.type !== 'hb') return;
    lastHeartbeatSeenAt = Date.now();
    if (connected) setTrust(true);
  };
  const onDown = () => {
    connected = false;
    // Every drop starts a new epoch, even while already untrusted: a fill that began before it
    // may carry a value whose invalidation was lost.
    if (trusted) setTrust(false);
    else epoch++;
  };
  const onReady = () => {
    connected = true;
    void heartbeat();
  };

  // Once SUBSCRIBE succeeded the client re-subscribes by itself after reconnects; until then
  // (Redis was down at start) every heartbeat tries again. Bounded, like every Redis call.
  async function ensureSubscribed(): Promise<void> {
    if (subscribed) return;
    await withTimeout(subscriber.subscribe(channel, onMessage), options.timeoutMs, 'SUBSCRIBE');
    subscribed = true;
  }

  async function heartbeat(): Promise<void> {
    if (closed) return;
    if (trusted && Date.now() - lastHeartbeatSeenAt > options.heartbeatTimeoutMs) setTrust(false);
    const message = { type: 'hb', origin, seq: heartbeatSeq++, ts: wallClockMs() } as const;
    try {
      await ensureSubscribed();
      const payload = codec.encode(message satisfies HeartbeatMessage);
      await withTimeout(publisher.publish(channel, payload), options.timeoutMs, 'heartbeat');
    } catch {
      // A failed SUBSCRIBE is retried next time; a lost heartbeat is what the check above catches.
    }
  }

  return {
    async start() {
      // Listeners first, so that no state change between SUBSCRIBE and them goes unseen.
      subscriber.on('error', onDown);
      subscriber.on('reconnecting', onDown);
      subscriber.on('end', onDown);
      subscriber.on('ready', onReady);
      connected = subscriber.isReady;
      timer = setInterval(() => void heartbeat(), options.heartbeatIntervalMs);
      timer.unref();
      await heartbeat();
    },
    get trusted() {
      return trusted;
    },
    get epoch() {
      return epoch;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      subscriber.off('error', onDown);
      subscriber.off('reconnecting', onDown);
      subscriber.off('end', onDown);
      subscriber.off('ready', onReady);
      setTrust(false);
      if (subscribed) {
        await withTimeout(
          subscriber.unsubscribe(channel, onMessage),
          options.timeoutMs,
          'UNSUBSCRIBE',
        ).catch(() => {});
      }
    },
  };
}
