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

/** The part of a node-redis cluster client that {@link watchCluster} uses. */
export interface WatchedCluster {
  /**
   * The masters as the client knows them now, with their command connection (`client`) and, on a
   * client that holds sharded subscriptions, their sharded Pub/Sub connection (`pubSub.client`),
   * each present once opened.
   */
  readonly masters: readonly {
    address: string;
    client?: WatchedConnection;
    pubSub?: { client: WatchedConnection };
  }[];
}

/**
 * {@link watchConnection} for every connection a cluster client has to its masters: each
 * master's command connection, and each shard's subscriber connection (`SSUBSCRIBE`). The
 * masters are looked up every `intervalMs`, so a node the client meets later (after a failover
 * or a slot migration) is watched from then on, and one it dropped is no longer. `onReplace` is
 * told the node's address and which connection (`command` or `subscriber`). Returns a function
 * that stops every watchdog.
 */
export function watchCluster(
  cluster: WatchedCluster,
  options: Omit<WatchdogOptions, 'onReplace'> & {
    onReplace(node: string, role: 'command' | 'subscriber', reason: string): void;
  },
): () => void {
  const watched = new Map<WatchedConnection, () => void>();
  function sync(): void {
    const now = new Map<WatchedConnection, [string, 'command' | 'subscriber']>();
    for (const master of cluster.masters) {
      if (master.client) now.set(master.client, [master.address, 'command']);
      if (master.pubSub?.client) now.set(master.pubSub.client, [master.address, 'subscriber']);
    }
    for (const [client, stop] of watched) {
      if (now.has(client)) continue;
      stop();
      watched.delete(client);
    }
    for (const [client, [address, role]] of now) {
      if (watched.has(client)) continue;
      const stop = watchConnection(client, {
        intervalMs: options.intervalMs,
        timeoutMs: options.timeoutMs,
        onReplace: (reason) => options.onReplace(address, role, reason),
      });
      watched.set(client, stop);
    }
  }
  sync();
  const timer = setInterval(sync, options.intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    for (const stop of watched.values()) stop();
    watched.clear();
  };
}
