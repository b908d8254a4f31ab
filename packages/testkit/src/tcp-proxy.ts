import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

/** A fault-injecting TCP proxy on 127.0.0.1 in front of one target (e.g. a `redis-server`). */
export interface TcpProxy {
  /** Port on 127.0.0.1 that clients connect to. */
  port: number;
  /** Forward bytes normally, without delay (the default). */
  forward(): void;
  /**
   * Stop forwarding in both directions on every current and future connection, without closing
   * any socket (a black hole). Bytes, ends and closes received meanwhile are dropped.
   */
  blackhole(): void;
  /**
   * Black-holes only the connections open now whose target-side port (the local port of the
   * proxy's socket to the target: what the target reports as the client's port, e.g. in Redis's
   * `CLIENT LIST`) `select` accepts, every one when `select` is omitted. Other and later
   * connections are forwarded. Returns how many connections were black-holed.
   */
  blackholeOpen(select?: (targetSidePort: number) => boolean): number;
  /** Forward, delaying every chunk (and end/close) by `ms` in both directions, preserving order. */
  delay(ms: number): void;
  /** Destroy every current connection (RST-like) but keep listening. */
  resetConnections(): void;
  /** Number of currently open client connections (half-closed ones included). */
  connections(): number;
  /** Stop listening and destroy everything. */
  close(): Promise<void>;
}

/** What the proxy currently does to traffic; shared by every connection. */
interface Settings {
  blackhole: boolean;
  delayMs: number;
}

/** Something to do to the receiving socket: write a chunk, end it, or destroy it. */
type Item = Buffer | 'end' | 'destroy';

/** One direction of one connection: an ordered queue of items, each released when due. */
interface Lane {
  push(item: Item): void;
  /** Drops everything queued, cancels the timer and ignores later pushes. */
  stop(): void;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  lanes: Lane[];
  /** This connection alone is a black hole. */
  holed: { value: boolean };
}

/** Starts a proxy listening on 127.0.0.1 (a free port) that forwards to `target`. */
export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const settings: Settings = { blackhole: false, delayMs: 0 };
  const pairs = new Set<Pair>();
  let closed = false;

  // allowHalfOpen: a FIN received must not make Node answer with a FIN of its own on that socket;
  // whether (and when) an end goes anywhere is the proxy's decision, and never in a black hole.
  const server = createServer({ allowHalfOpen: true }, (client) => {
    if (closed) {
      client.destroy();
      return;
    }
    const upstream = connect({
      host: target.host ?? '127.0.0.1',
      port: target.port,
      allowHalfOpen: true,
    });
    const holed = { value: false };
    const pair: Pair = { client, upstream, lanes: [], holed };
    pair.lanes = [pipe(client, upstream, settings, holed), pipe(upstream, client, settings, holed)];
    pairs.add(pair);
    const forget = () => {
      if (!client.closed || !upstream.closed) return;
      for (const lane of pair.lanes) lane.stop();
      pairs.delete(pair);
    };
    client.on('close', forget);
    upstream.on('close', forget);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP port');

  return {
    port: address.port,
    forward() {
      settings.blackhole = false;
      settings.delayMs = 0;
    },
    blackhole() {
      settings.blackhole = true;
    },
    blackholeOpen(select = () => true) {
      let count = 0;
      for (const { upstream, holed } of pairs) {
        if (upstream.localPort === undefined || !select(upstream.localPort)) continue;
        holed.value = true;
        count++;
      }
      return count;
    },
    delay(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new TypeError('`ms` must be a non-negative number');
      settings.blackhole = false;
      settings.delayMs = ms;
    },
    resetConnections() {
      for (const { client, upstream } of pairs) {
        reset(client);
        reset(upstream);
      }
    },
    connections() {
      let open = 0;
      for (const { client } of pairs) if (!client.destroyed) open++;
      return open;
    },
    async close() {
      closed = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      const socketsClosed: Promise<unknown>[] = [];
      for (const { client, upstream, lanes } of pairs) {
        for (const lane of lanes) lane.stop();
        for (const socket of [client, upstream]) {
          if (!socket.closed) socketsClosed.push(once(socket, 'close'));
          socket.destroy();
        }
      }
      await Promise.all([serverClosed, ...socketsClosed]);
    },
  };
}

/** Relays what `from` receives to `to`, per chunk, as `settings` say at the time. */
function pipe(from: Socket, to: Socket, settings: Settings, holed: { value: boolean }): Lane {
  const lane = createLane(to, from, settings, holed);
  let ended = false;
  from.setNoDelay(true);
  // Errors are followed by 'close', which is where they are handled.
  from.on('error', () => {});
  from.on('data', (chunk: Buffer) => lane.push(chunk));
  from.on('end', () => {
    ended = true;
    lane.push('end');
  });
  from.on('close', (hadError) => {
    // A clean close follows an 'end' that has already been relayed; anything else is abrupt.
    if (hadError || !ended) lane.push('destroy');
  });
  return lane;
}

function createLane(to: Socket, from: Socket, settings: Settings, holed: { value: boolean }): Lane {
  const queue: { item: Item; due: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const deliver = (item: Item) => {
    // Checked on delivery too, so that what was queued before blackhole() is dropped as well.
    if (settings.blackhole || holed.value || to.destroyed) return;
    if (item === 'destroy') to.destroy();
    else if (item === 'end') to.end();
    else if (!to.write(item) && !from.isPaused()) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  };

  // Releases every due item in order, then waits for the next one. Items never overtake each
  // other, even when the delay is shortened while some are still queued.
  const flush = () => {
    const now = Date.now();
    for (let next = queue[0]; next && next.due <= now; next = queue[0]) {
      queue.shift();
      deliver(next.item);
    }
    if (queue[0] && timer === undefined) {
      timer = setTimeout(() => {
        timer = undefined;
        flush();
      }, queue[0].due - now);
    }
  };

  return {
    push(item) {
      if (stopped || settings.blackhole || holed.value) return;
      queue.push({ item, due: Date.now() + settings.delayMs });
      flush();
    },
    stop() {
      stopped = true;
      queue.length = 0;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/** Destroys `socket` with a TCP RST when it is connected, plainly otherwise. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}
