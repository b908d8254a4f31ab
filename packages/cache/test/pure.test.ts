import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeEntry, encodeEntry } from '../src/codec.ts';
import { jitterTtl } from '../src/jitter.ts';
import { deepFreeze } from '../src/local/freeze.ts';
import { createL1Store } from '../src/local/l1-store.ts';
import { resolveOptions, validateCacheOptions } from '../src/options.ts';
import { createHealthGate } from '../src/redis/health-gate.ts';
import { createSingleFlight } from '../src/single-flight.ts';
import { hangingRedis } from './hanging-redis.ts';

describe('entry codec', () => {
  it('round-trips a value with its version, and a "not found"', () => {
    const user = { name: 'Ada', tags: ['x'] };
    expect(decodeEntry(encodeEntry({ value: user, version: 7 }))).toEqual({
      value: user,
      version: 7,
    });
    expect(decodeEntry(encodeEntry({ value: null, version: 3 }))).toEqual({
      value: null,
      version: 3,
    });
  });

  it.each([
    'not json',
    '42',
    'null',
    '{"d":1}',
    '{"v":"7","d":1}',
    '{"v":-1,"d":1}',
    '{"v":1.5,"d":1}',
    '{"v":9007199254740993,"d":1}',
  ])('refuses %s', (raw) => {
    expect(decodeEntry(raw)).toBeUndefined();
  });
});

describe('deepFreeze', () => {
  it('freezes objects, arrays, Maps, Sets and Dates all the way down, and leaves typed arrays', () => {
    const value = deepFreeze({
      list: [{ n: 1 }],
      map: new Map([['k', { deep: [1] }]]),
      set: new Set([{ in: true }]),
      when: new Date(0),
      bytes: new Uint8Array([1, 2]),
    });
    expect(() => value.list.push({ n: 2 })).toThrow(TypeError);
    expect(() => {
      (value.list[0] as { n: number }).n = 2;
    }).toThrow(TypeError);
    expect(() => value.map.get('k')?.deep.push(2)).toThrow(TypeError);
    expect(() => value.map.delete('k')).toThrow(TypeError);
    expect(() => value.set.clear()).toThrow(TypeError);
    expect(() => value.when.setTime(1)).toThrow(TypeError);
    expect(value.when.getTime()).toBe(0);
    expect(value.map.get('k')).toEqual({ deep: [1] });
    value.bytes[0] = 9;
    expect(value.bytes[0]).toBe(9);
  });
});

describe('single flight', () => {
  it('shares one run between concurrent calls for a key and forgets it once settled', async () => {
    const once = createSingleFlight<number>().run;
    let runs = 0;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const run = async () => {
      runs++;
      await gate;
      return runs;
    };
    const all = Promise.all([once('a', run), once('a', run), once('b', run)]);
    release();
    expect(await all).toEqual([2, 2, 2]);
    expect(await once('a', run)).toBe(3);
  });

  it('shares a rejection and lets the next call retry', async () => {
    const once = createSingleFlight<number>().run;
    const failing = () => Promise.reject(new Error('boom'));
    await expect(Promise.all([once('a', failing), once('a', failing)])).rejects.toThrow('boom');
    expect(await once('a', async () => 1)).toBe(1);
  });

  it('sheds a call for a new key past maxInFlight, at once and told, but still joins', async () => {
    let shed = 0;
    const flights = createSingleFlight<number>({ maxInFlight: 1, onShed: () => shed++ });
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const first = flights.run('a', () => gate.then(() => 1));
    await expect(flights.run('b', async () => 2)).rejects.toMatchObject({ code: 'E_OVERLOADED' });
    const joined = flights.run('a', async () => 3);
    expect([shed, flights.size]).toEqual([1, 1]);
    release();
    expect(await Promise.all([first, joined])).toEqual([1, 1]);
    expect(await flights.run('b', async () => 2)).toBe(2);
  });
});

describe('TTL jitter', () => {
  it('shortens a TTL by at most the fraction, never lengthens it, and keeps at least 1 ms', () => {
    expect(jitterTtl(60_000, 0.1, () => 0)).toBe(60_000);
    expect(jitterTtl(60_000, 0.1, () => 0.5)).toBe(57_000);
    expect(jitterTtl(60_000, 0.1, () => 0.999_999)).toBe(54_000);
    expect(jitterTtl(1, 0.9, () => 0.999)).toBe(1);
  });

  it('leaves the TTL exact when the fraction is 0', () => {
    expect(jitterTtl(60_000, 0, () => 0.7)).toBe(60_000);
  });

  it('spreads entries filled in the same instant over the last fraction of the TTL', () => {
    const ttls = Array.from({ length: 1_000 }, () => jitterTtl(10_000, 0.2));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(8_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(10_000);
    expect(new Set(ttls).size).toBeGreaterThan(100);
  });

  it('gives L1 entries filled together different expiry times', () => {
    const l1 = createL1Store<number>(100, 10_000, 0.5);
    const filledAt = performance.now();
    for (let i = 0; i < 50; i++) l1.set(`k${i}`, { value: i, version: 1 });
    const expiries = Array.from({ length: 50 }, (_, i) => l1.get(`k${i}`, filledAt)?.expiresAt);
    expect(new Set(expiries).size).toBeGreaterThan(10);
    for (const at of expiries) expect(at).toBeLessThanOrEqual(performance.now() + 10_000);
  });
});

describe('cache options', () => {
  const redis = hangingRedis();

  it('applies defaults', () => {
    expect(resolveOptions({ redis, strategy: 'delete' })).toMatchObject({
      strategy: 'delete',
      namespace: 'cl',
      ttlMs: 60_000,
      negativeTtlMs: 5_000,
    });
  });

  it.each(['ttlMs', 'negativeTtlMs', 'redisTimeoutMs', 'invalidateAttempts'])(
    'names `%s` when it is not a positive integer',
    (name) => {
      for (const bad of [0, -1, 1.5, Number.NaN, '10']) {
        expect(() => resolveOptions({ redis, strategy: 'delete', [name]: bad })).toThrow(
          `\`${name}\``,
        );
      }
    },
  );

  it('requires a subscriber connection for the versioned strategy, the default', () => {
    expect(() => resolveOptions({ redis })).toThrow('`subscriber`');
  });

  it('rejects an unknown strategy and a heartbeat timeout not above the interval', () => {
    expect(() => resolveOptions({ redis, strategy: 'lru' as never })).toThrow('`strategy`');
    expect(() =>
      resolveOptions({
        redis,
        strategy: 'delete',
        heartbeatIntervalMs: 500,
        heartbeatTimeoutMs: 500,
      }),
    ).toThrow('`heartbeatTimeoutMs`');
  });

  it('lists every invalid setting at once, for configuration readers', () => {
    expect(validateCacheOptions({})).toEqual([]);
    const problems = validateCacheOptions({
      ttlMs: 0,
      namespace: 'a:b',
      origin: 'o'.repeat(65),
      heartbeatIntervalMs: 2_147_483_648,
      signingSecret: 'short',
    });
    expect(problems.map((p) => p.option).sort()).toEqual([
      'heartbeatIntervalMs',
      'heartbeatTimeoutMs',
      'namespace',
      'origin',
      'signingSecret',
      'ttlMs',
    ]);
    expect(JSON.stringify(problems)).not.toContain('short');
    expect(() => resolveOptions({ redis, strategy: 'delete', namespace: 'a:b' })).toThrow(
      '`namespace` must be 1-32 characters',
    );
  });

  it('names `ttlJitter` when it is not a fraction from 0 to 0.9, and defaults it to 0.1', () => {
    expect(resolveOptions({ redis, strategy: 'delete' }).ttlJitter).toBe(0.1);
    expect(validateCacheOptions({ ttlJitter: 0 })).toEqual([]);
    expect(validateCacheOptions({ ttlJitter: 0.9 })).toEqual([]);
    for (const bad of [-0.1, 0.95, 1, Number.NaN, '0.1']) {
      expect(validateCacheOptions({ ttlJitter: bad as number })).toEqual([
        { option: 'ttlJitter', rule: 'must be a number from 0 to 0.9 (a fraction)' },
      ]);
    }
  });

  it('requires a Redis client', () => {
    expect(() => resolveOptions({} as never)).toThrow('`redis`');
  });

  it('refuses an unknown option with a TypeError naming it and the nearest real one', () => {
    const unknown = (options: object) => () =>
      resolveOptions({ redis, strategy: 'delete', ...options } as never);
    expect(unknown({ ttl: 1000 })).toThrow(TypeError);
    expect(unknown({ ttl: 1000 })).toThrow('`ttl` is not an option; did you mean `ttlMs`?');
    expect(unknown({ l1TTLMs: 5 })).toThrow('did you mean `l1TtlMs`?');
    expect(unknown({ onerror: () => {} })).toThrow('`onerror` is not an option');
    expect(unknown({ events: { propagate: () => {} } })).toThrow(
      '`propagate` is not a member of `events`; did you mean `propagated`?',
    );
    expect(unknown({ hooks: { beforeFil: () => {} } })).toThrow('did you mean `beforeFill`?');
    // Every real option is accepted, `undefined` included.
    expect(() =>
      resolveOptions({ redis, strategy: 'delete', origin: undefined, signingSecret: undefined }),
    ).not.toThrow();
  });

  it('takes a serializer `{ encode, decode }` and refuses anything else', () => {
    const serializer = { encode: JSON.stringify, decode: JSON.parse };
    expect(resolveOptions({ redis, strategy: 'delete', serializer }).serializer).toBe(serializer);
    expect(() =>
      resolveOptions({
        redis,
        strategy: 'delete',
        serializer: { encode: JSON.stringify } as never,
      }),
    ).toThrow('`serializer` must be a codec');
  });
});

describe('Redis health gate', () => {
  // The gate's clock (performance.now) moves only when a test moves it, so that a busy machine
  // cannot turn a call "within the interval" into a probe; the calls' own timeouts stay real.
  const clock = () => vi.useFakeTimers({ toFake: ['performance', 'Date'] });
  const elapse = (ms: number) => vi.advanceTimersByTime(ms);
  afterEach(() => {
    vi.useRealTimers();
  });
  const never = () => new Promise<never>(() => {});
  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (error: { code?: string }) => error.code,
    );

  it('skips Redis after a timeout until a probe answers, one probe per interval', async () => {
    clock();
    const call = createHealthGate({ timeoutMs: 20, probeIntervalMs: 60 });
    expect(await call('a', async () => 'ok')).toBe('ok');
    expect(await codeOf(call('frozen', never))).toBe('E_REDIS_TIMEOUT');
    // Within the interval every call fails at once, without being run.
    let ran = 0;
    expect(await codeOf(call('skipped', async () => ran++))).toBe('E_REDIS_SKIPPED');
    expect(ran).toBe(0);
    // After it one call goes through as a probe; while it waits, the others are still skipped.
    elapse(70);
    const probe = codeOf(call('probe', never));
    expect(await codeOf(call('meanwhile', async () => ran++))).toBe('E_REDIS_SKIPPED');
    expect(ran).toBe(0);
    expect(await probe).toBe('E_REDIS_TIMEOUT');
    elapse(70);
    // A probe that answers opens the gate for everyone.
    expect(await call('probe', async () => 'back')).toBe('back');
    expect(await call('next', async () => 'ok')).toBe('ok');
  });

  it('opens the moment a call that timed out gets its answer (a paused Redis resuming), and says so', async () => {
    clock();
    let opened = 0;
    const call = createHealthGate({
      timeoutMs: 20,
      probeIntervalMs: 60_000,
      onOpen: () => opened++,
    });
    let answer = (_value: string) => {};
    const held = new Promise<string>((resolve) => {
      answer = resolve;
    });
    expect(await codeOf(call('paused', () => held))).toBe('E_REDIS_TIMEOUT');
    expect(await codeOf(call('skipped', async () => 'ok'))).toBe('E_REDIS_SKIPPED');
    // Redis runs the queued call when the pause ends: no need to wait a minute for a probe.
    answer('late');
    await held;
    await Promise.resolve();
    expect(opened).toBe(1);
    expect(await call('next', async () => 'ok')).toBe('ok');
    expect(opened).toBe(1);
  });

  it('lets only a timeout or the probe itself push back the next probe, not a call failing fast while skipped', async () => {
    clock();
    const call = createHealthGate({ timeoutMs: 20, probeIntervalMs: 60 });
    let refuse = () => {};
    const frozen = codeOf(call('frozen', never));
    // A call already in flight when Redis froze fails fast (its connection destroyed) 40 ms after
    // the timeout; chained on it, so that it fails before its own timer fires.
    const inFlight = codeOf(
      call(
        'in flight',
        () =>
          new Promise<never>((_, reject) => {
            refuse = () => reject(new Error('connection destroyed'));
          }),
      ),
    );
    void frozen.then(() => {
      elapse(40);
      refuse();
    });
    expect(await frozen).toBe('E_REDIS_TIMEOUT');
    expect(await inFlight).toBe('E_REDIS_FAILED');
    // The probe is due 60 ms after the timeout, not 60 ms after that fast failure.
    elapse(30);
    expect(await call('probe', async () => 'back')).toBe('back');
  });

  it('measures the probe interval on the monotonic clock: a step of the wall clock does not move it', async () => {
    clock();
    const call = createHealthGate({ timeoutMs: 20, probeIntervalMs: 60 });
    expect(await codeOf(call('frozen', never))).toBe('E_REDIS_TIMEOUT');
    vi.setSystemTime(Date.now() + 3_600_000);
    expect(await codeOf(call('skipped', async () => 'ok'))).toBe('E_REDIS_SKIPPED');
    elapse(70);
    vi.setSystemTime(Date.now() - 7_200_000);
    expect(await call('probe', async () => 'back')).toBe('back');
  });

  it('leaves the gate open after a fast failure: only a timeout means Redis is not answering', async () => {
    const call = createHealthGate({ timeoutMs: 20, probeIntervalMs: 1000 });
    const refused = () => Promise.reject(new Error('ECONNREFUSED'));
    expect(await codeOf(call('refused', refused))).toBe('E_REDIS_FAILED');
    expect(await call('next', async () => 'ok')).toBe('ok');
  });
});
