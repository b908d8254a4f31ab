import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { StatsResponse } from '@cachelab/app';
import { type InstanceProcess, type TestRedisServer, uniqueName, waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpClient } from './support/index.ts';
import { killInstances, startWithOwnRedis } from './support/instances.ts';

/** How long instance 3 stays stopped: less than HEARTBEAT_TIMEOUT_MS (2 s), as in the report. */
const PAUSE_MS = 1500;

let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
const prefix = uniqueName('st');
const http = createHttpClient({ maxSockets: 4, timeoutMs: 10_000 });

beforeAll(async () => {
  // Its own redis-server: this test kills its subscriber connections.
  // The defaults of npm start: heartbeat every 500 ms, timeout 2 s.
  ({ redis, instances } = await startWithOwnRedis(['st-1', 'st-2', 'st-3'], {
    SEED_USERS: '100',
    CACHE_NAMESPACE: prefix,
    HEARTBEAT_INTERVAL_MS: '500',
    HEARTBEAT_TIMEOUT_MS: '2000',
  }));
});
afterAll(async () => {
  killInstances(instances);
  http.close();
  await redis?.stop();
});

/** One keep-alive HTTP/1.1 connection whose requests are written byte for byte. */
async function keepAliveConnection(url: string) {
  const socket: Socket = connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
  await once(socket, 'connect');
  let received = '';
  socket.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  return {
    /** Writes a GET; resolves once the bytes are in the kernel (the server need not run). */
    async write(path: string): Promise<void> {
      received = '';
      const raw = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      await new Promise<void>((resolve, reject) =>
        socket.write(raw, (error) => (error ? reject(error) : resolve())),
      );
    },
    /** The answer to the last request: its `X-Cache` and `X-Version` headers. */
    async answer(): Promise<{ cache: string; version: number }> {
      const complete = () => {
        const end = received.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(received)?.[1];
        return end >= 0 && length !== undefined && received.length >= end + 4 + Number(length);
      };
      await waitFor(complete, { timeoutMs: 10_000, intervalMs: 5, what: 'the answer' });
      return {
        cache: /x-cache: (\S+)/i.exec(received)?.[1] ?? '',
        version: Number(/x-version: (\d+)/i.exec(received)?.[1]),
      };
    },
    close: () => socket.destroy(),
  };
}

const body = (n: number) => ({ name: `n${n}`, email: `u${n}@example.com`, age: n });

describe('an instance paused (SIGSTOP) while its subscription dies and a write happens', () => {
  it('serves no L1 entry after it wakes until its bus is proven alive again', async () => {
    const [one, , three] = instances;
    if (!one || !three) throw new Error('no instances');
    const id = `${prefix}-1`;
    expect((await http.send('PUT', `${one.url}/users/${id}`, body(1))).status).toBe(201);
    // Warm: every instance holds version 1 in its L1.
    for (const { url } of instances) {
      await http.send('GET', `${url}/users/${id}`);
      const read = await http.send('GET', `${url}/users/${id}`);
      expect(read.headers['x-cache']).toBe('L1');
    }
    const connection = await keepAliveConnection(three.url);
    await connection.write(`/users/${id}`);
    expect(await connection.answer()).toEqual({ cache: 'L1', version: 1 });

    three.child.kill('SIGSTOP');
    const stoppedAt = Date.now();
    const admin = createClient({ url: redis.url });
    admin.on('error', () => {});
    await admin.connect();
    // This test's own redis-server: every subscriber (instance 3's among them) is dropped.
    await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    admin.destroy();
    const write = await http.send('PUT', `${one.url}/users/${id}`, body(2));
    expect(write.status).toBe(200);
    const writtenAt = Date.now();

    // The request waits in the socket when the process wakes: it is read in the same poll
    // phase as the close of the subscriber connection, before any timer has run.
    await connection.write(`/users/${id}`);
    await delay(Math.max(0, stoppedAt + PAUSE_MS - Date.now()));
    three.child.kill('SIGCONT');
    const wokeAt = Date.now();
    const afterWake = await connection.answer();
    // And a request sent at once after SIGCONT.
    const atOnce = await http.send('GET', `${three.url}/users/${id}`);
    connection.close();
    console.log(
      `stall: paused ${Date.now() - stoppedAt} ms, write ${Date.now() - writtenAt} ms before; ` +
        `first read ${afterWake.cache} v${afterWake.version}, ` +
        `next ${String(atOnce.headers['x-cache'])} v${String(atOnce.headers['x-version'])}`,
    );
    expect(afterWake.version).toBe(2);
    expect(atOnce.status).toBe(200);
    expect(Number(atOnce.headers['x-version'])).toBe(2);

    // Instance 3 trusts its L1 again by itself, and it holds the new version.
    const seen: number[] = [];
    await waitFor(
      async () => {
        const read = await http.send('GET', `${three.url}/users/${id}`);
        seen.push(Number(read.headers['x-version']));
        return read.headers['x-cache'] === 'L1';
      },
      { timeoutMs: 10_000, intervalMs: 20, what: 'instance 3 to serve L1 again' },
    );
    const { cache } = (await http.send('GET', `${three.url}/stats`)).body as StatsResponse;
    console.log(
      `stall: L1 served again ${Date.now() - wokeAt} ms after SIGCONT; stalls ${cache.stalls}, ` +
        `trust lost ${cache.trustLost}, resubscribed ${cache.subscriberReconnects}`,
    );
    expect(cache.stalls).toBeGreaterThanOrEqual(1);
    expect(seen.filter((version) => version !== 2)).toEqual([]);
  });
});
