import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeEntry, encodeEntry } from '../src/codec.ts';
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

  it('requires a Redis client', () => {
    expect(() => resolveOptions({} as never)).toThrow('`redis`');
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
