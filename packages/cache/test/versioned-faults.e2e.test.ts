import {
  startRedisServer,
  startTcpProxy,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { type CacheOptions, createCache } from '../src/index.ts';
import { cacheFixture, mapLoader, redisClient } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

// These tests kill connections and restart Redis: they run against a redis-server of their own.
let server: TestRedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

const HEARTBEAT = { heartbeatIntervalMs: 50, heartbeatTimeoutMs: 300 };

/** Instances on the fault-test Redis, sharing a namespace, all trusting their bus. */
async function instances(
  count: number,
  options: Partial<CacheOptions> & { subscriberUrl?: string } = {},
) {
  const namespace = uniqueName();
  const list: Awaited<ReturnType<typeof cacheFixture<User>>>[] = [];
  for (let i = 0; i < count; i++) {
    list.push(
      await cacheFixture<User>({
        url: server.url,
        namespace,
        origin: `f${i}`,
        ...HEARTBEAT,
        ...options,
      }),
    );
  }
  await waitFor(() => list.every(({ cache }) => cache.stats().trusted), {
    timeoutMs: 3000,
    what: 'every instance to trust its bus',
  });
  return list;
}

/** A writer and a reader instance on a redis-server of their own (to be shut down and restarted). */
async function pairOnOwnRedis() {
  const own = await startRedisServer();
  onTestFinished(() => own.stop());
  const namespace = uniqueName();
  const make = (origin: string) =>
    cacheFixture<User>({ url: own.url, namespace, origin, ...HEARTBEAT });
  const writer = await make('w');
  const reader = await make('r');
  await waitFor(() => writer.cache.stats().trusted && reader.cache.stats().trusted);
  return { own, writer, reader };
}

describe('versioned strategy under faults', () => {
  it('rejects an L1 fill whose load began before the bus lost and regained trust', async () => {
    const [a] = await instances(1);
    if (!a) throw new Error('no instance');
    const source = mapLoader<User>({ k: v(1) });
    const release = source.hold();
    const read = a.cache.getOrLoad('k', source.load);
    await waitFor(() => source.calls.length === 1);
    // The subscriber connection drops while the load is in flight: messages may have been lost,
    // so what the load read may already be stale when trust comes back.
    await a.redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    await waitFor(() => a.cache.stats().trustLost === 1, { what: 'trust to be lost' });
    await waitFor(() => a.cache.stats().trusted, { timeoutMs: 3000, what: 'trust to return' });
    release();
    expect(await read).toMatchObject({ version: 1, tier: 'MISS' });
    expect(a.cache.stats().fillsRejected.epoch).toBe(1);
    expect(a.cache.stats().l1Size).toBe(0);
    expect(a.cache.stats()).toMatchObject({ subscriberReconnects: 1, l1Flushes: 2 });
  });

  it("withdraws trust when a sender's channel sequence (cseq) skips a number, and only then", async () => {
    const [reader] = await instances(1);
    const { cache, redis, keys } = reader as NonNullable<typeof reader>;
    const send = async (cseq: number, origin = 'x') => {
      const received = cache.stats().invalidationsReceived;
      const message = {
        type: 'inv',
        key: 'k',
        version: cseq + 1,
        origin,
        seq: 0,
        ts: 0,
        cseq,
      };
      await redis.publish(keys.channel(), JSON.stringify(message));
      await waitFor(() => cache.stats().invalidationsReceived > received, { what: `cseq ${cseq}` });
    };
    // A sender's first number (0), the next two, a resend, an older one, then a restart (same
    // origin, from 0) and its next: no gap.
    for (const cseq of [0, 1, 2, 2, 1, 0, 1]) await send(cseq);
    expect(cache.stats().trustLost).toBe(0);
    // 2 was lost.
    await send(3);
    expect(cache.stats().trustLost).toBe(1);
    await waitFor(() => cache.stats().trusted, { timeoutMs: 3000, what: 'trust regained' });
    // Another sender heard first above 0: this subscriber missed its earlier messages.
    await send(7, 'y');
    expect(cache.stats().trustLost).toBe(2);
    // Trusted again (after a flush) once an own heartbeat sent after the gap comes back.
    await waitFor(() => cache.stats().trusted, { timeoutMs: 3000, what: 'trust regained' });
    expect(cache.stats().l1Flushes).toBeGreaterThan(0);
  });

  it('subscriber killed while a write happens: no stale L1 read, flush on resubscribe', async () => {
    const [writer, reader] = await instances(2);
    if (!writer || !reader) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    await reader.cache.getOrLoad('k', source.load);
    expect((await reader.cache.getOrLoad('k', source.load)).tier).toBe('L1');

    await writer.redis.sendCommand(['CLIENT', 'KILL', 'TYPE', 'pubsub']);
    // The drop is seen at once (FIN); a drop that is not is the next test's heartbeat case.
    await waitFor(() => reader.cache.stats().trustLost === 1, {
      what: 'the reader to see the drop',
    });
    source.entries.k = v(2);
    await writer.cache.set('k', v(2));

    const seen: number[] = [];
    await waitFor(
      async () => {
        seen.push((await reader.cache.getOrLoad('k', source.load)).version);
        return reader.cache.stats().subscriberReconnects === 1;
      },
      { timeoutMs: 3000, intervalMs: 5, what: 'the reader to resubscribe' },
    );
    seen.push((await reader.cache.getOrLoad('k', source.load)).version);
    expect(seen.filter((version) => version < 2)).toEqual([]);
    expect(reader.cache.stats().l1Flushes).toBe(2);
    expect(await reader.cache.getOrLoad('k', source.load)).toMatchObject({
      version: 2,
      tier: 'L1',
    });
  });

  it('silently dead subscriber: detected by heartbeat within the bound, L1 untrusted meanwhile', async () => {
    const proxy = await startTcpProxy({ port: server.port });
    onTestFinished(() => proxy.close());
    const [writer] = await instances(1);
    const [reader] = await instances(1, {
      namespace: writer?.namespace,
      origin: 'behind-proxy',
      subscriberUrl: `redis://127.0.0.1:${proxy.port}`,
    });
    if (!writer || !reader) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    await reader.cache.getOrLoad('k', source.load);
    expect((await reader.cache.getOrLoad('k', source.load)).tier).toBe('L1');

    // The path to the subscriber stops carrying bytes, without FIN or RST.
    proxy.blackhole();
    const cut = performance.now();
    source.entries.k = v(2);
    await writer.cache.set('k', v(2));
    const stale: number[] = [];
    await waitFor(
      async () => {
        const read = await reader.cache.getOrLoad('k', source.load);
        if (read.version < 2) stale.push(performance.now() - cut);
        return !reader.cache.stats().trusted;
      },
      { timeoutMs: 2000, intervalMs: 5, what: 'the dead subscription to be detected' },
    );
    const detectedAfter = performance.now() - cut;
    // Configured bound: heartbeatTimeoutMs + heartbeatIntervalMs = 350 ms; the assertion leaves
    // room for a busy machine but stays below the socketTimeout (1.5 s) that would otherwise act.
    expect(detectedAfter).toBeLessThan(1000);
    // Until detection L1 may serve the old value; never after it.
    expect(Math.max(0, ...stale)).toBeLessThan(1000);
    expect(await reader.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2 });

    // When bytes flow again the connection is recycled, L1 flushed, and trust comes back.
    proxy.forward();
    await waitFor(() => reader.cache.stats().trusted, {
      timeoutMs: 5000,
      what: 'trust to return after the path heals',
    });
    expect(reader.cache.stats().subscriberReconnects).toBe(1);
    expect(await reader.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2 });
  });
});

describe('versioned strategy when Redis restarts empty', () => {
  it('never serves a pre-restart value afterwards', async () => {
    const { own, writer, reader } = await pairOnOwnRedis();
    const source = mapLoader<User>({ k: v(1) });
    await reader.cache.getOrLoad('k', source.load);
    expect((await reader.cache.getOrLoad('k', source.load)).tier).toBe('L1');

    await writer.redis.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    await waitFor(() => !reader.cache.stats().trusted, { what: 'the reader to notice' });
    const restarted = await startRedisServer({ port: own.port });
    onTestFinished(() => restarted.stop());
    await waitFor(() => writer.redis.isReady, { timeoutMs: 5000, what: 'the writer to reconnect' });

    source.entries.k = v(2);
    await writer.cache.set('k', v(2));
    const seen: number[] = [];
    await waitFor(
      async () => {
        seen.push((await reader.cache.getOrLoad('k', source.load)).version);
        return reader.cache.stats().trusted;
      },
      { timeoutMs: 5000, intervalMs: 5, what: 'the reader to trust again' },
    );
    for (let i = 0; i < 20; i++)
      seen.push((await reader.cache.getOrLoad('k', source.load)).version);
    expect(seen.filter((version) => version < 2)).toEqual([]);
  });

  it('starts untrusted while Redis is down and subscribes once it is back', async () => {
    const own = await startRedisServer();
    onTestFinished(() => own.stop());
    const source = mapLoader<User>({ k: v(1) });
    const [redis, subscriber] = [await redisClient(own.url), await redisClient(own.url)];
    await redis.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    await waitFor(() => !subscriber.isReady, { what: 'the connections to drop' });

    const cache = createCache<User>({
      redis,
      subscriber,
      namespace: uniqueName(),
      ...HEARTBEAT,
    });
    onTestFinished(() => cache.close());
    expect(await cache.getOrLoad('k', source.load)).toMatchObject({ version: 1, tier: 'MISS' });
    expect(cache.stats().trusted).toBe(false);

    const restarted = await startRedisServer({ port: own.port });
    onTestFinished(() => restarted.stop());
    await waitFor(() => cache.stats().trusted, {
      timeoutMs: 5000,
      what: 'trust after Redis returns',
    });
    await cache.getOrLoad('k', source.load);
    expect(await cache.getOrLoad('k', source.load)).toMatchObject({ version: 1, tier: 'L1' });
  });

  it('reports each failed background retry of an announcement to onError and the Redis error counters', async () => {
    const own = await startRedisServer();
    onTestFinished(() => own.stop());
    const reported: string[] = [];
    const { cache, redis } = await cacheFixture<User>({
      url: own.url,
      ...HEARTBEAT,
      onError: (error) => reported.push((error as { code: string }).code),
    });
    await waitFor(() => cache.stats().trusted, { what: 'trust' });
    // Redis refuses writes (out of memory) while the subscription stays up.
    await redis.sendCommand(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
    await redis.sendCommand(['CONFIG', 'SET', 'maxmemory', '1']);
    await cache.set('k', v(2));
    expect(cache.stats().pendingInvalidations).toBe(1);
    const inline = { reported: reported.length, redisErrors: cache.stats().redisErrors };
    // The retries in the background fail too, every heartbeat interval: each is reported.
    await waitFor(() => cache.stats().publishFailures > 3 + 1, { what: 'a failed retry' });
    await waitFor(() => reported.length > inline.reported, { what: 'the retry reported' });
    expect(cache.stats().redisErrors).toBeGreaterThan(inline.redisErrors);
    expect(reported.slice(inline.reported)).toContain('E_REDIS_FAILED');
    await redis.sendCommand(['CONFIG', 'SET', 'maxmemory', '0']);
    await waitFor(() => cache.stats().pendingInvalidations === 0, { what: 'the retry to land' });
  });

  it('retries an announcement Redis refused until it lands, so a late stale fill cannot stick', async () => {
    const { own, writer, reader } = await pairOnOwnRedis();

    // Redis goes away: the write commits in the database but cannot be announced.
    await writer.redis.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    await waitFor(() => !writer.redis.isReady, { what: 'the writer to lose Redis' });
    await writer.cache.set('k', v(2));
    expect(writer.cache.stats().pendingInvalidations).toBe(1);

    // Redis is back; a reader that read v1 long before fills it first.
    const restarted = await startRedisServer({ port: own.port });
    onTestFinished(() => restarted.stop());
    await waitFor(() => reader.redis.isReady, { timeoutMs: 5000, what: 'the reader to reconnect' });
    await reader.cache.getOrLoad('k', async () => v(1));

    await waitFor(async () => (await reader.redis.get(reader.keys.pointer('k'))) === '2', {
      timeoutMs: 5000,
      what: 'the pending announcement to move the pointer forward',
    });
    expect(writer.cache.stats()).toMatchObject({
      pendingInvalidations: 0,
      invalidationsRetried: 1,
    });
    await waitFor(async () => (await reader.cache.getOrLoad('k', async () => v(2))).version === 2, {
      timeoutMs: 3000,
      what: 'the reader to serve v2',
    });
  });

  it('keeps a load that spanned a Redis restart out of Redis, so the forgotten version cannot regress', async () => {
    const { own, writer, reader } = await pairOnOwnRedis();

    const source = mapLoader<User>({ k: v(1) });
    const release = source.hold();
    const read = reader.cache.getOrLoad('k', source.load);
    await waitFor(() => source.calls.length === 1);
    await writer.cache.set('k', v(2));
    // Redis restarts empty: the pointer to v2 is gone, and so are the marks once trust returns.
    await writer.redis.sendCommand(['SHUTDOWN', 'NOSAVE']).catch(() => {});
    const restarted = await startRedisServer({ port: own.port });
    onTestFinished(() => restarted.stop());
    await waitFor(() => reader.cache.stats().trusted && reader.redis.isReady, {
      timeoutMs: 5000,
      what: 'the reader to recover',
    });
    release();
    expect((await read).version).toBe(1);
    expect(await reader.redis.get(reader.keys.pointer('k'))).toBeNull();
    source.entries.k = v(2);
    expect((await reader.cache.getOrLoad('k', source.load)).version).toBe(2);
  });
});
