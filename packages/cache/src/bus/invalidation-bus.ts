import type { PubSubMode } from '../options.ts';
import type { RedisCall } from '../redis/health-gate.ts';
import { withTimeout } from '../timeout.ts';
import type {
  RedisLike,
  ShardedRedisLike,
  ShardedSubscriberLike,
  SubscriberEvent,
  SubscriberLike,
} from '../types.ts';
import {
  type BusMessage,
  type ClearMessage,
  type HeartbeatMessage,
  type InvalidationMessage,
  type MessageCodec,
  wallClockMs,
} from './messages.ts';
import { createSenderSequences } from './sender-sequences.ts';
import type { RejectReason } from './signing.ts';

/** Options of {@link createInvalidationBus}. */
export interface BusOptions {
  /** Publishes heartbeats (with `pubsub: 'sharded'`, a `ShardedRedisLike`). */
  publisher: RedisLike;
  /** A dedicated connection in subscriber mode (`sharded`: a `ShardedSubscriberLike`). */
  subscriber: SubscriberLike | ShardedSubscriberLike;
  /**
   * `global`: `channels` is one channel, `SUBSCRIBE`d and `PUBLISH`ed to. `sharded`: every
   * channel is `SSUBSCRIBE`d, and each carries its own heartbeat.
   */
  pubsub: PubSubMode;
  channels: readonly string[];
  /** Encodes heartbeats and decodes (and, with secrets, verifies) everything received. */
  codec: MessageCodec;
  /** This instance's id; messages from it are its own. */
  origin: string;
  heartbeatIntervalMs: number;
  /** Without an own heartbeat seen for this long, the subscription is presumed dead. */
  heartbeatTimeoutMs: number;
  /** Bound on each SUBSCRIBE and UNSUBSCRIBE of the subscriber connection. */
  timeoutMs: number;
  /** Runs each PUBLISH of a heartbeat on the command connection (bounded, gated). */
  redisCall: RedisCall;
  /** An invalidation from another instance. */
  onInvalidation(message: InvalidationMessage): void;
  /** A clear of the namespace by another instance. */
  onClear(message: ClearMessage): void;
  /** Trust was lost (`false`) or regained after a flush (`true`). */
  onTrustChange(trusted: boolean): void;
  /** The event loop stalled (its tick came late): trust is suspended until a heartbeat returns. */
  onStall(): void;
  /** Messages may have been lost (the subscription dropped, or a gap): told at every one. */
  onLost?(): void;
  /**
   * Whether trust may be regained now, besides the own heartbeat (the restart fence: not before
   * Redis was checked for a restored snapshot). Asked at each own heartbeat that comes back.
   */
  mayTrust?(): boolean;
  /** The subscriber is connected again (Redis is reachable). */
  onReconnect?(): void;
  /** A message was dropped: malformed, or (with secrets) unsigned or forged. */
  onRejected(reason: RejectReason): void;
  /** A SUBSCRIBE failed or timed out (retried at the next heartbeat; no trust until it works). */
  onSubscribeFailed(error: unknown): void;
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
  /**
   * {@link trusted}, and the event loop has run its liveness tick within
   * {@link stallThresholdMs} of `now` (ms, `performance.now()`: monotonic, so that a step of
   * the wall clock neither hides a stall nor invents one). A tick that is overdue means the process
   * stalled (SIGSTOP, GC, a long synchronous task): whatever reached the subscriber meanwhile
   * (a close, an invalidation) may still wait unread in its socket, so trust is suspended until
   * a heartbeat sent after the stall comes back. The read path calls this before every L1 hit.
   */
  trustedAt(now: number): boolean;
  /** Changes whenever trust is lost or regained: a fill that started in another epoch is void. */
  readonly epoch: number;
  /**
   * Publishes an announcement on `channel` (sharded Pub/Sub: `SPUBLISH`, through `redisCall`),
   * numbered with the channel's next `cseq` when the command is sent.
   */
  publish(channel: string, message: InvalidationMessage | ClearMessage): Promise<unknown>;
  /** Stops the heartbeat and unsubscribes. */
  close(): Promise<void>;
}

/**
 * How late the bus's tick (due every `heartbeatIntervalMs`) may be before the event loop counts as
 * stalled, in ms: half an interval, and at least 200 ms, so that the ordinary lateness of timers
 * on a busy machine is no stall. 750 ms with the default interval of 500 ms.
 */
export function stallThresholdMs(heartbeatIntervalMs: number): number {
  return heartbeatIntervalMs + Math.max(Math.ceil(heartbeatIntervalMs / 2), 200);
}

export { MAX_ORIGINS_PER_CHANNEL } from './sender-sequences.ts';

/** Subscribing, unsubscribing and publishing on one channel, by Pub/Sub flavour. */
interface Transport {
  subscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>;
  unsubscribe(channel: string, listener: (message: string, channel: string) => void): Promise<void>;
  publish(channel: string, payload: string): Promise<unknown>;
  /** The subscriber's events that mean a subscription may have lost messages. */
  downEvents: SubscriberEvent[];
}

function transportOf(options: BusOptions): Transport {
  if (options.pubsub === 'sharded') {
    const subscriber = options.subscriber as ShardedSubscriberLike;
    const publisher = options.publisher as ShardedRedisLike;
    return {
      subscribe: (channel, listener) => subscriber.sSubscribe(channel, listener),
      unsubscribe: (channel, listener) => subscriber.sUnsubscribe(channel, listener),
      publish: (channel, payload) => publisher.sPublish(channel, payload),
      // A cluster client reports each node connection's trouble as `node-*`.
      downEvents: ['error', 'node-error', 'node-reconnecting', 'node-disconnect'],
    };
  }
  const subscriber = options.subscriber as SubscriberLike;
  return {
    subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
    unsubscribe: (channel, listener) => subscriber.unsubscribe(channel, listener),
    publish: (channel, payload) => options.publisher.publish(channel, payload),
    downEvents: ['error', 'reconnecting', 'end'],
  };
}

/**
 * Creates the bus. Trust is lost at once when the subscriber connection errors, reconnects or
 * ends, and when no own heartbeat came back within `heartbeatTimeoutMs` (a silently dead
 * connection). It is regained only when an own heartbeat sent after the last such event is seen
 * again on every channel, over a working connection; the caller then flushes everything it learnt
 * to trust while the channel was deaf. With `sharded` Pub/Sub, trust is withdrawn for every key
 * when any channel's subscription breaks, and when a channel's own heartbeats skip a number
 * (its slot moved to another master, or a heartbeat was lost): messages may have been lost.
 */
export function createInvalidationBus(options: BusOptions): InvalidationBus {
  const { subscriber, channels, codec, origin } = options;
  const transport = transportOf(options);
  const sharded = options.pubsub === 'sharded';
  let trusted = false;
  let epoch = 0;
  // A cluster client has no single connection state: its node events (above) stand for it.
  let connected = sharded;
  let lastHeartbeatSeenAt = 0;
  let heartbeatSeq = 0;
  // Trust needs an own heartbeat of at least this seq on every channel (one sent after the last
  // drop: with several connections, a channel that never dropped may still deliver older ones).
  let neededSeq = 0;
  const seen = new Map(channels.map((channel) => [channel, { seq: -1, at: 0 }]));
  const subscribed = new Set<string>();
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  // Liveness of the event loop itself: the tick every interval, and, after a stall, the first
  // heartbeat seq that proves the subscription delivered everything sent before it (-1: none).
  const stallMs = stallThresholdMs(options.heartbeatIntervalMs);
  /** Sharded: when this instance was first subscribed on every channel. */
  let listeningSince: number | undefined;
  // Every interval here is on the monotonic clock (performance.now()), never the wall clock.
  let lastTickAt = performance.now();
  let resumeSeq = -1;
  // The SUBSCRIBE in flight, if any, and whether one was ever sent: close() must undo it even if
  // it completes afterwards (or failed, yet left the client re-subscribing on reconnect).
  let subscribing: Promise<void> | undefined;
  let subscribeSent = false;
  // Sharded: the next cseq this instance sends on each channel, and the last one heard from each
  // origin on each channel (least recently heard first).
  const sent = new Map(channels.map((channel) => [channel, 0]));
  const heard = new Map(channels.map((channel) => [channel, createSenderSequences()]));

  /** `message` as sent on `channel`: numbered there with sharded Pub/Sub. Call as it is sent. */
  function encodeFor(channel: string, message: BusMessage): string {
    if (!sharded) return codec.encode(message);
    const cseq = sent.get(channel) ?? 0;
    sent.set(channel, cseq + 1);
    return codec.encode({ ...message, cseq });
  }

  /**
   * Sharded: whether this instance has listened on every channel for a stall threshold since it
   * first subscribed, time for every running sender (beating at the same interval) to have been
   * heard on each, so that its first message, numbered above 0 (MUST-TRUST-8), is seen before
   * L1 is first trusted rather than as a gap afterwards.
   */
  function heardEveryone(): boolean {
    if (!sharded) return true;
    return listeningSince !== undefined && performance.now() - listeningSince >= stallMs;
  }

  function setTrust(next: boolean): void {
    if (trusted === next) return;
    trusted = next;
    epoch++;
    options.onTrustChange(next);
  }

  const onMessage = (raw: string, channel: string) => {
    if (closed) return;
    const message = codec.decode(raw);
    // Verified before the origin is looked at: an unsigned heartbeat cannot restore trust.
    if (typeof message === 'string') return options.onRejected(message);
    // A skipped number from any sender, this one included: a message on this channel was lost
    // (its slot moved while this subscriber was paused, say), whatever the connection says.
    if (
      message.cseq !== undefined &&
      heard.get(channel)?.follows(message.origin, message.cseq) === false
    ) {
      lost();
    }
    if (message.origin !== origin) {
      if (message.type === 'inv') options.onInvalidation(message);
      else if (message.type === 'clr') options.onClear(message);
      return;
    }
    if (message.type !== 'hb') return;
    const record = seen.get(channel);
    if (!record) return;
    // Heartbeats of one channel arrive in order: a skipped seq means lost messages.
    if (sharded && record.seq >= 0 && message.seq > record.seq + 1) lost();
    record.seq = Math.max(record.seq, message.seq);
    record.at = performance.now();
    let floor = Number.POSITIVE_INFINITY;
    lastHeartbeatSeenAt = record.at;
    for (const other of seen.values()) {
      floor = Math.min(floor, other.seq);
      lastHeartbeatSeenAt = Math.min(lastHeartbeatSeenAt, other.at);
    }
    // A heartbeat sent before a stall may have waited in the socket: only a later one resumes.
    if (resumeSeq >= 0 && floor >= resumeSeq) {
      resumeSeq = -1;
      lastTickAt = record.at;
    }
    if (connected && floor >= neededSeq && heardEveryone() && (options.mayTrust?.() ?? true)) {
      setTrust(true);
    }
  };

  /** The loop did not tick for longer than `stallMs`: suspend trust until a new heartbeat returns. */
  function suspend(now: number): void {
    if (resumeSeq < 0) {
      resumeSeq = heartbeatSeq;
      options.onStall();
    }
    lastTickAt = now;
  }

  function tick(): void {
    const now = performance.now();
    if (now - lastTickAt > stallMs) suspend(now);
    lastTickAt = now;
    void heartbeat();
  }
  const onDown = () => {
    connected = sharded;
    lost();
  };
  /** Messages may have been lost: untrusted until an own heartbeat sent from now on returns. */
  function lost(): void {
    options.onLost?.();
    neededSeq = heartbeatSeq;
    // Every drop starts a new epoch, even while already untrusted: a fill that began before it
    // may carry a value whose invalidation was lost.
    if (trusted) setTrust(false);
    else epoch++;
  }
  const onReady = () => {
    connected = true;
    options.onReconnect?.();
    void heartbeat();
  };
  // No Pub/Sub command goes to a subscriber that is down: node-redis queues SUBSCRIBE and
  // UNSUBSCRIBE until it reconnects even with `disableOfflineQueue` (which covers the other
  // commands only), and its close() waits for every queued command's reply, so one queued there
  // keeps the owner's close() from returning while Redis is down. A cluster subscriber has no
  // single connection state, and is left to its own client.
  const subscriberUp = () => sharded || (subscriber as SubscriberLike).isReady;

  // Once SUBSCRIBE succeeded the client re-subscribes by itself after reconnects; until then
  // (Redis was down at start) every heartbeat, and the subscriber's 'ready', tries again. Bounded,
  // like every Redis call; one at a time, and remembered, because a SUBSCRIBE that times out may
  // still complete later.
  async function ensureSubscribed(): Promise<void> {
    if (subscribed.size === channels.length) return;
    if (!subscriberUp()) throw new Error('the subscriber connection is not ready');
    subscribeSent = true;
    const missing = channels.filter((channel) => !subscribed.has(channel));
    subscribing ??= Promise.all(
      missing.map((channel) =>
        transport.subscribe(channel, onMessage).then(() => {
          subscribed.add(channel);
          if (subscribed.size === channels.length) listeningSince ??= performance.now();
        }),
      ),
    ).then(
      () => {
        subscribing = undefined;
      },
      (error: unknown) => {
        subscribing = undefined;
        throw error;
      },
    );
    await withTimeout(subscribing, options.timeoutMs, 'SUBSCRIBE');
  }

  async function heartbeat(): Promise<void> {
    if (closed) return;
    if (trusted && performance.now() - lastHeartbeatSeenAt > options.heartbeatTimeoutMs)
      setTrust(false);
    const message = { type: 'hb', origin, seq: heartbeatSeq++, ts: wallClockMs() } as const;
    try {
      await ensureSubscribed();
    } catch (error) {
      // Retried next time; said every time, since without it this instance never trusts L1.
      if (!closed) options.onSubscribeFailed(error);
      return;
    }
    try {
      if (closed) return;
      await Promise.all(
        channels.map((channel) =>
          options.redisCall('heartbeat', () =>
            transport.publish(channel, encodeFor(channel, message satisfies HeartbeatMessage)),
          ),
        ),
      );
    } catch {
      // A lost heartbeat is what the check above catches.
    }
  }

  return {
    async start() {
      // Listeners first, so that no state change between SUBSCRIBE and them goes unseen.
      for (const event of transport.downEvents) subscriber.on(event, onDown);
      subscriber.on(sharded ? 'node-ready' : 'ready', onReady);
      connected = sharded || (subscriber as SubscriberLike).isReady;
      lastTickAt = performance.now();
      timer = setInterval(tick, options.heartbeatIntervalMs);
      timer.unref();
      await heartbeat();
    },
    get trusted() {
      return trusted && resumeSeq < 0;
    },
    trustedAt(now) {
      if (!trusted || resumeSeq >= 0) return false;
      if (now - lastTickAt <= stallMs) return true;
      // Seen here first: after a wake, I/O (this read) can run before the timers phase.
      suspend(now);
      void heartbeat();
      return false;
    },
    get epoch() {
      return epoch;
    },
    publish(channel, message) {
      // Numbered inside the call: a call the health gate skips sends nothing and takes no number.
      return options.redisCall('SPUBLISH', () =>
        transport.publish(channel, encodeFor(channel, message)),
      );
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const event of transport.downEvents) subscriber.off(event, onDown);
      subscriber.off(sharded ? 'node-ready' : 'ready', onReady);
      setTrust(false);
      if (!subscribeSent) return;
      // A SUBSCRIBE still in flight is undone once it has settled, however late that is.
      const unsubscribe = () =>
        withTimeout(
          Promise.all(channels.map((channel) => transport.unsubscribe(channel, onMessage))),
          options.timeoutMs,
          'UNSUBSCRIBE',
        );
      if (!subscriberUp()) {
        // Redis holds no subscription of a connection that is down; the client re-subscribes
        // when it is back (if its owner keeps it open), so the UNSUBSCRIBE waits for that.
        const later = () => {
          subscriber.off('ready', later);
          unsubscribe().catch(() => {});
        };
        subscriber.on('ready', later);
        return;
      }
      const settled = (subscribing ?? Promise.resolve()).catch(() => {});
      const undone = settled.then(unsubscribe).catch(() => {});
      await withTimeout(undone, 2 * options.timeoutMs, 'UNSUBSCRIBE').catch(() => {});
    },
  };
}
