import { uniqueName, waitFor } from '@cachelab/testkit';
import { afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { createCache, type RedisLike, type SubscriberLike } from '../src/index.ts';
import { cacheFixture, gate, mapLoader, redisClient } from './fixture.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

/** How long "nothing more happens" is watched for: several retry intervals of 50 ms. */
const SILENCE_MS = 400;

/** Blocks the event loop for `ms`, as a long synchronous task or a GC pause would. */
function stallLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spinning on purpose: no timer, no I/O callback runs meanwhile.
  }
}

/**
 * A real Redis client whose script calls (the fills that move pointers and announce) can be
 * refused or held open by the test; everything else goes straight through.
 */
function scriptGate(real: RedisLike) {
  let mode: 'pass' | 'refuse' | 'hold' = 'pass';
  const held: (() => void)[] = [];
  let calls = 0;
  const script = <T>(run: () => Promise<T>): Promise<T> => {
    calls++;
    if (mode === 'refuse') return Promise.reject(new Error('refused by the test'));
    if (mode === 'hold') {
      return new Promise<T>((_, reject) => {
        held.push(() => reject(new Error('refused by the test, late')));
      });
    }
    return run();
  };
  const redis: RedisLike = {
    get: (key) => real.get(key),
    set: (key, value, options) => real.set(key, value, options),
    del: (key) => real.del(key),
    publish: (channel, message) => real.publish(channel, message),
    evalSha: (sha, options) => script(() => real.evalSha(sha, options)),
    eval: (text, options) => script(() => real.eval(text, options)),
  };
  return {
    redis,
    set: (next: typeof mode) => {
      mode = next;
    },
    held: () => held.length,
    releaseHeld: () => {
      for (const release of held.splice(0)) release();
    },
    calls: () => calls,
  };
}

describe('versioned strategy: liveness of the event loop', () => {
  it('serves no L1 entry after the loop stalled longer than the heartbeat interval, until a heartbeat sent after it returns', async () => {
    const { cache } = await cacheFixture<User>({
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 2000,
    });
    await waitFor(() => cache.stats().trusted, { what: 'trust' });
    const source = mapLoader<User>({ k: v(1) });
    await cache.getOrLoad('k', source.load);
    expect((await cache.getOrLoad('k', source.load)).tier).toBe('L1');

    // 400 ms without a tick: more than the stall threshold (250 ms), less than the heartbeat timeout.
    stallLoop(400);
    expect((await cache.getOrLoad('k', source.load)).tier).toBe('L2');

    // A stall alone loses no message: trust resumes without flushing L1.
    await waitFor(() => cache.stats().trusted, { timeoutMs: 2000, what: 'trust to resume' });
    expect((await cache.getOrLoad('k', source.load)).tier).toBe('L1');
    expect(cache.stats()).toMatchObject({ trustLost: 0, l1Flushes: 1 });
    expect(cache.stats().stalls).toBeGreaterThanOrEqual(1);
  });
});

describe('versioned strategy: liveness on the monotonic clock', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('still sees a stall while the wall clock stands still or steps back, and invents none when it jumps ahead', async () => {
    // Stall threshold 750 ms: only a pause that long on a loaded machine would count as a stall.
    const { cache } = await cacheFixture<User>({
      heartbeatIntervalMs: 500,
      heartbeatTimeoutMs: 3000,
    });
    await waitFor(() => cache.stats().trusted, { what: 'trust' });
    const source = mapLoader<User>({ k: v(1) });
    await cache.getOrLoad('k', source.load);
    // The wall clock jumps an hour ahead (NTP, an operator): no stall, L1 still served.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3_600_000 });
    expect((await cache.getOrLoad('k', source.load)).tier).toBe('L1');
    expect(cache.stats().stalls).toBe(0);
    // Now it steps back and stands still while the loop stalls for 1 s: still a stall.
    vi.setSystemTime(Date.now() - 7_200_000);
    stallLoop(1000);
    expect((await cache.getOrLoad('k', source.load)).tier).toBe('L2');
    expect(cache.stats().stalls).toBeGreaterThanOrEqual(1);
  });
});

describe('versioned strategy: close()', () => {
  it('undoes a SUBSCRIBE that was still in flight when close() was called', async () => {
    const redis = await redisClient();
    const real = await redisClient(undefined, { subscriber: true });
    const subscribeGate = gate();
    let subscribed: Promise<void> | undefined;
    const subscriber: SubscriberLike = {
      subscribe(channel, listener) {
        // The SUBSCRIBE is held on its way to Redis, as on a slow connection.
        subscribed = subscribeGate.opened.then(() => real.subscribe(channel, listener));
        return subscribed;
      },
      unsubscribe: (channel, listener) => real.unsubscribe(channel, listener),
      on: (event, listener) => real.on(event, listener),
      off: (event, listener) => real.off(event, listener),
      get isReady() {
        return real.isReady;
      },
    };
    const namespace = uniqueName();
    const channel = `${namespace}:invalidations`;
    const cache = createCache<User>({
      redis,
      subscriber,
      namespace,
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 300,
      redisTimeoutMs: 100,
    });
    await waitFor(() => subscribed !== undefined, { what: 'the SUBSCRIBE to be sent' });
    await cache.close();

    subscribeGate.open();
    await subscribed;
    const subscribers = async () => {
      const reply = (await redis.sendCommand(['PUBSUB', 'NUMSUB', channel])) as unknown[];
      return Number(reply[1]);
    };
    await waitFor(async () => (await subscribers()) === 0, {
      timeoutMs: 2000,
      what: 'the late subscription to be undone',
    });
  });

  it('stops a pending-announcement retry that was in flight from re-arming its timer', async () => {
    const real = await redisClient();
    const scripts = scriptGate(real);
    const namespace = uniqueName();
    const subscriber = await redisClient(undefined, { subscriber: true });
    const cache = createCache<User>({
      redis: scripts.redis,
      subscriber,
      namespace,
      heartbeatIntervalMs: 50,
      heartbeatTimeoutMs: 300,
    });
    onTestFinished(async () => {
      scripts.releaseHeld();
      await cache.close();
    });
    // Redis refuses the write's announcement: it waits for a background retry.
    scripts.set('refuse');
    await cache.set('k', v(2));
    expect(cache.stats().pendingInvalidations).toBe(1);
    // The next retry is held in flight while the cache closes.
    scripts.set('hold');
    await waitFor(() => scripts.held() === 1, { what: 'a retry to be in flight' });
    await cache.close();

    scripts.set('refuse');
    const callsAtClose = scripts.calls();
    scripts.releaseHeld();
    await waitFor(() => cache.stats().publishFailures === 4, { what: 'the held retry to fail' });
    await expect(
      waitFor(() => scripts.calls() > callsAtClose, { timeoutMs: SILENCE_MS }),
    ).rejects.toThrow(/timed out/);
  });
});
