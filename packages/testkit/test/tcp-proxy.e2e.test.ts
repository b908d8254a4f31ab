import { once } from 'node:events';
import { connect } from 'node:net';
import {
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
  type TestRedisServer,
  waitFor,
} from '@cachelab/testkit';
import { createClient } from 'redis';
import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  it,
  onTestFinished,
  vi,
} from 'vitest';

/** How long "does not answer" is watched for: the bounded wait is the assertion itself. */
const SILENCE_MS = 300;

let redis: TestRedisServer;
let proxy: TcpProxy;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
beforeEach(async () => {
  proxy = await startTcpProxy({ port: redis.port });
});
afterEach(async () => {
  vi.useRealTimers();
  await proxy.close();
});

/** A node-redis client connected through the proxy, destroyed after the test. */
async function proxiedClient() {
  const client = createClient({
    url: `redis://127.0.0.1:${proxy.port}`,
    socket: { reconnectStrategy: false },
  });
  const errors: Error[] = [];
  client.on('error', (error: Error) => errors.push(error));
  onTestFinished(() => client.destroy());
  await client.connect();
  return { client, errors };
}

/** A raw socket connected through the proxy that records what it receives and whether it closed. */
async function proxiedSocket() {
  const socket = connect({ host: '127.0.0.1', port: proxy.port });
  onTestFinished(() => {
    socket.destroy();
  });
  let received = '';
  let closed = false;
  let errorCode: string | undefined;
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code;
  });
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString();
  });
  socket.on('close', () => {
    closed = true;
  });
  await once(socket, 'connect');
  return { socket, received: () => received, closed: () => closed, errorCode: () => errorCode };
}

/** 'pending' when `promise` has not settled after `ms`, 'settled' otherwise. */
function stateAfter(promise: Promise<unknown>, ms: number): Promise<'pending' | 'settled'> {
  let timer: NodeJS.Timeout | undefined;
  const settled = promise.then(
    () => 'settled' as const,
    () => 'settled' as const,
  );
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  return Promise.race([settled, pending]).finally(() => clearTimeout(timer));
}

/**
 * Has the target close every connection but the one asking; resolves with how many it closed
 * (possibly including a previous test's, if redis has not processed their close yet).
 */
async function killProxiedConnections(): Promise<number> {
  const direct = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
  direct.on('error', () => {});
  await direct.connect();
  try {
    return Number(await direct.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']));
  } finally {
    direct.destroy();
  }
}

describe('a TCP proxy', () => {
  it('forwards commands to the target by default', async () => {
    const { client } = await proxiedClient();
    expect(await client.ping()).toBe('PONG');
    expect(proxy.connections()).toBe(1);
  });

  it('black-holes current and new connections without closing any socket', async () => {
    const { client, errors } = await proxiedClient();
    expect(await client.ping()).toBe('PONG');

    proxy.blackhole();
    const ping = client.ping();
    ping.catch(() => {});
    const raw = await proxiedSocket();
    raw.socket.write('PING\r\n');
    // The target hangs up on both; in a black hole that goes unnoticed as well.
    await waitFor(() => proxy.connections() === 2, { what: 'the raw socket to be proxied' });
    expect(await killProxiedConnections()).toBeGreaterThanOrEqual(2);

    expect(await stateAfter(ping, SILENCE_MS)).toBe('pending');
    expect(raw.received()).toBe('');
    expect(raw.closed()).toBe(false);
    expect(client.isOpen).toBe(true);
    expect(errors).toEqual([]);
    expect(proxy.connections()).toBe(2);
  });

  it('black-holes only the selected open connection; the others and new ones are forwarded', async () => {
    const holed = await proxiedClient();
    const spared = await proxiedClient();
    expect(await holed.client.ping()).toBe('PONG');
    expect(await spared.client.ping()).toBe('PONG');
    const direct = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
    direct.on('error', () => {});
    await direct.connect();
    const id = Number(await holed.client.sendCommand(['CLIENT', 'ID']));
    const list = String(await direct.sendCommand(['CLIENT', 'LIST', 'ID', String(id)]));
    direct.destroy();
    const port = Number(/addr=[\d.]+:(\d+)/.exec(list)?.[1]);

    expect(proxy.blackholeOpen((targetSide) => targetSide === port)).toBe(1);

    const ping = holed.client.ping();
    ping.catch(() => {});
    expect(await stateAfter(ping, SILENCE_MS)).toBe('pending');
    expect(await spared.client.ping()).toBe('PONG');
    const later = await proxiedClient();
    expect(await later.client.ping()).toBe('PONG');
  });

  it('passes the target closing a connection on to the client', async () => {
    const { client } = await proxiedClient();
    expect(await client.ping()).toBe('PONG');

    expect(await killProxiedConnections()).toBeGreaterThanOrEqual(1);

    await waitFor(() => !client.isOpen, { timeoutMs: 2000, what: 'the client to close' });
    await waitFor(() => proxy.connections() === 0, { timeoutMs: 2000, what: 'no connections' });
  });

  it('forwards on new connections again after forward()', async () => {
    proxy.blackhole();
    proxy.forward();
    const { client } = await proxiedClient();
    expect(await client.ping()).toBe('PONG');
  });

  it('delays every chunk in both directions, keeping their order', async () => {
    const { client } = await proxiedClient();
    proxy.delay(100);

    const start = performance.now();
    expect(await client.ping()).toBe('PONG');
    // 100 ms on the way there and 100 ms back, less the rounding of millisecond timers.
    expect(performance.now() - start).toBeGreaterThanOrEqual(195);

    // Replies are matched to commands in order, so any reordering would show up here.
    // This file's own redis-server: no other test shares the key.
    const key = 'tcp-proxy:order';
    const replies = await Promise.all([
      client.set(key, '1'),
      client.get(key),
      client.incr(key),
      client.get(key),
    ]);
    expect(replies).toEqual(['OK', '1', 2, '2']);
  });

  it('resets every current connection and keeps accepting new ones', async () => {
    const first = await proxiedClient();
    expect(await first.client.ping()).toBe('PONG');
    const raw = await proxiedSocket();
    await waitFor(() => proxy.connections() === 2, { what: 'the raw socket to be proxied' });

    proxy.resetConnections();

    await waitFor(() => !first.client.isOpen, { timeoutMs: 2000, what: 'the client to close' });
    expect(first.errors.length).toBeGreaterThan(0);
    await waitFor(raw.closed, { timeoutMs: 2000, what: 'the raw socket to close' });
    expect(raw.errorCode()).toBe('ECONNRESET');
    await waitFor(() => proxy.connections() === 0, { timeoutMs: 2000, what: 'no connections' });
    const second = await proxiedClient();
    expect(await second.client.ping()).toBe('PONG');
  });

  it('stops listening on close() and leaves no timer running', async () => {
    const { client } = await proxiedClient();
    // Only the proxy's timers are faked (and counted) from here on; sockets stay real.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    proxy.delay(60_000);
    const ping = client.ping();
    ping.catch(() => {});
    await waitFor(() => vi.getTimerCount() === 1, { what: 'the proxy to hold the PING' });

    await proxy.close();

    expect(vi.getTimerCount()).toBe(0);
    const refused = connect({ host: '127.0.0.1', port: proxy.port });
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(error.code).toBe('ECONNREFUSED');
    await expect(ping).rejects.toThrow();
  });
});
