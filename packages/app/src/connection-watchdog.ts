import { setTimeout as delay } from 'node:timers/promises';
import { TimeoutError } from '@redis/client';

/** The part of a node-redis client (command or subscriber connection) that the watchdog uses. */
export interface WatchedConnection {
  /** True while the connection is up and usable. */
  readonly isReady: boolean;
  /** `PING` (allowed on a subscriber connection too). */
  ping(): Promise<unknown>;
  /** Drops the connection at once, rejecting whatever waits for an answer on it. */
  destroy(): void;
  /** Opens a new connection (retrying by the client's own reconnect strategy). */
  connect(): Promise<unknown>;
}

/** Options of {@link watchConnection}. */
export interface WatchdogOptions {
  /** How often a PING is sent while the connection is ready, in ms. */
  intervalMs: number;
  /** A PING unanswered for this long means the connection died silently, in ms. */
  timeoutMs: number;
  /** Told each time the connection is replaced. */
  onReplace(reason: string): void;
}

/**
 * Replaces a connection that died silently (no FIN, no RST: a black-holed path, a peer host gone).
 * The client notices only a closed connection by itself; a dead one that still accepts writes
 * would stay forever, every command on it timing out. So a PING goes out every `intervalMs`
 * while the client is ready; if one has no answer after `timeoutMs`, the connection is destroyed
 * and a new one opened (a subscriber re-subscribes by itself). Replaced within `intervalMs +
 * timeoutMs` of its death, plus the time to connect. A PING that fails because the connection
 * closed counts as an answer (the client reconnects by itself then), and so does an error reply;
 * the client's own command timeout does not. Returns a function that stops it.
 */
export function watchConnection(client: WatchedConnection, options: WatchdogOptions): () => void {
  const { intervalMs, timeoutMs } = options;
  let probing = false;
  let stopped = false;

  async function probe(): Promise<void> {
    probing = true;
    const cancel = new AbortController();
    try {
      // node-redis's own command timeout is no answer; an error reply or a closed connection is.
      const answered = client.ping().then(
        () => true,
        (error: unknown) => !(error instanceof TimeoutError),
      );
      const late = delay(timeoutMs, false, { ref: false, signal: cancel.signal }).catch(() => true);
      if ((await Promise.race([answered, late])) || stopped || !client.isReady) return;
      options.onReplace(`no answer to PING within ${timeoutMs} ms`);
      client.destroy();
      // connect() resolves once ready; its failures are the client's own 'error' events.
      client.connect().catch(() => {});
    } finally {
      cancel.abort();
      probing = false;
    }
  }

  const timer = setInterval(() => {
    if (!probing && !stopped && client.isReady) void probe();
  }, intervalMs);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
