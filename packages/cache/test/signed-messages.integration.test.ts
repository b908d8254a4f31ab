import { uniqueName, waitFor } from '@cachelab/testkit';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createMessageCodec } from '../src/bus/messages.ts';
import { createSigner } from '../src/bus/signing.ts';
import { type CacheOptions, createCache, type RedisLike } from '../src/index.ts';
import { resolveOptions } from '../src/options.ts';
import { cacheFixture, mapLoader, redisClient } from './fixture.ts';
import { hangingRedis } from './hanging-redis.ts';

type User = { name: string };
const v = (version: number) => ({ value: { name: `v${version}` }, version });

const SECRET = 'correct horse battery staple';
const OLD_SECRET = 'the secret we used last month';
const CHANNEL = 'cl:invalidations';
const inv = { type: 'inv', key: 'k', version: 7, origin: 'a', seq: 1, ts: 1 } as const;

describe('message signing', () => {
  it('opens what it signed, and refuses unsigned, forged and tampered messages', () => {
    const signer = createSigner([SECRET], CHANNEL);
    const signed = signer.sign('{"x":1}');
    expect(signed).toMatch(/^[A-Za-z0-9_-]{43}\.\{"x":1\}$/);
    expect(signer.open(signed)).toBe('{"x":1}');
    expect(signer.open('{"x":1}')).toBeUndefined();
    expect(signer.open(`${'A'.repeat(43)}.{"x":1}`)).toBeUndefined();
    expect(signer.open(`${signed.slice(0, 44)}{"x":2}`)).toBeUndefined();
    expect(
      signer.open(createSigner(['another secret, 16+'], CHANNEL).sign('{"x":1}')),
    ).toBeUndefined();
    // Signed for another namespace's channel: cannot be replayed into this one.
    expect(
      signer.open(createSigner([SECRET], 'other:invalidations').sign('{"x":1}')),
    ).toBeUndefined();
  });

  it('rotates: signs with the first secret and accepts every one listed', () => {
    const old = createSigner([OLD_SECRET], CHANNEL);
    const rotating = createSigner([SECRET, OLD_SECRET], CHANNEL);
    const current = createSigner([SECRET], CHANNEL);
    expect(rotating.open(old.sign('p'))).toBe('p');
    expect(current.open(rotating.sign('p'))).toBe('p');
    expect(current.open(old.sign('p'))).toBeUndefined();
  });

  it('decodes with the codec: the reason of every refusal, no MAC over a huge string', () => {
    const codec = createMessageCodec(CHANNEL, [SECRET]);
    expect(codec.decode(codec.encode(inv))).toEqual(inv);
    expect(codec.decode(JSON.stringify(inv))).toBe('unsigned');
    expect(codec.decode(`${'A'.repeat(43)}.${JSON.stringify(inv)}`)).toBe('forged');
    expect(codec.decode(createSigner([SECRET], CHANNEL).sign('not json'))).toBe('malformed');
    expect(codec.decode(`${'A'.repeat(43)}.${'x'.repeat(10_000)}`)).toBe('malformed');
    expect(codec.decode(42)).toBe('malformed');
    // Without secrets messages stay plain JSON; a signed one is not understood.
    const plain = createMessageCodec(CHANNEL);
    expect(plain.decode(plain.encode(inv))).toEqual(inv);
    expect(plain.decode(codec.encode(inv))).toBe('malformed');
  });

  it('requires secrets of at least 16 characters and never quotes them', () => {
    const redis = hangingRedis();
    for (const bad of ['short', ['long enough secret', 'short'], [], 42]) {
      let message = '';
      try {
        resolveOptions({ redis, strategy: 'delete', signingSecret: bad as never });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toContain('`signingSecret`');
      expect(message).not.toContain('short');
    }
    expect(
      resolveOptions({ redis, strategy: 'delete', signingSecret: SECRET }).signingSecrets,
    ).toEqual([SECRET]);
  });
});

/** `count` instances sharing a namespace, signing with `secret` (or not), all trusting their bus. */
async function instances(count: number, options: Partial<CacheOptions> = {}) {
  const namespace = uniqueName();
  const list: Awaited<ReturnType<typeof cacheFixture<User>>>[] = [];
  for (let i = 0; i < count; i++) {
    list.push(await cacheFixture<User>({ namespace, origin: `s${i}`, ...options }));
  }
  await waitFor(() => list.every(({ cache }) => cache.stats().trusted), {
    what: 'every instance to trust its bus',
  });
  return list;
}

/** A Redis client whose PUBLISH always fails: the cache's own heartbeats never come back. */
function withoutPublish(redis: RedisLike): RedisLike {
  return {
    get: (key) => redis.get(key),
    set: (key, value, options) => redis.set(key, value, options),
    del: (key) => redis.del(key),
    evalSha: (sha, options) => redis.evalSha(sha, options),
    eval: (script, options) => redis.eval(script, options),
    publish: async () => {
      throw new Error('PUBLISH refused');
    },
  };
}

describe('versioned strategy with signed messages', () => {
  it('converges across instances that share the secret', async () => {
    const [a, b] = await instances(2, { signingSecret: SECRET });
    if (!a || !b) throw new Error('no instances');
    const source = mapLoader<User>({ k: v(1) });
    await a.cache.getOrLoad('k', source.load);
    expect((await a.cache.getOrLoad('k', source.load)).tier).toBe('L1');
    await b.cache.set('k', v(2));
    await waitFor(() => a.cache.stats().invalidationsReceived === 1);
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'L2' });
    expect(await a.cache.getOrLoad('k', source.load)).toMatchObject({ version: 2, tier: 'L1' });
    expect(a.cache.stats().messagesRejected).toEqual({ malformed: 0, unsigned: 0, forged: 0 });
  });

  it('refuses unsigned, forged and tampered announcements: a huge version cannot make a key always miss', async () => {
    const [a, b] = await instances(2, { signingSecret: SECRET });
    // The same attack on instances without a secret, to show what the secret prevents.
    const [plain] = await instances(1);
    if (!a || !b || !plain) throw new Error('no instances');
    const hot = mapLoader<User>({ hot: v(3) });
    for (const cache of [a.cache, plain.cache]) {
      await cache.getOrLoad('hot', hot.load);
      expect((await cache.getOrLoad('hot', hot.load)).tier).toBe('L1');
    }

    const channel = a.keys.channel();
    const huge = { ...inv, key: 'hot', version: Number.MAX_SAFE_INTEGER, origin: 'mallory' };
    const json = JSON.stringify(huge);
    const genuine = createSigner([SECRET], channel).sign(JSON.stringify({ ...huge, version: 1 }));
    const attacks = {
      unsigned: [json, 'not json'],
      forged: [
        createSigner(['a guess at the secret'], channel).sign(json),
        `${genuine.slice(0, 44)}${json}`, // a real signature over another payload
        `${'A'.repeat(43)}.${json}`,
        createSigner([SECRET], 'other:invalidations').sign(json), // replayed across namespaces
      ],
      malformed: [
        createSigner([SECRET], channel).sign('not json'),
        `${genuine.slice(0, 44)}${'x'.repeat(1_000_000)}`,
      ],
    };
    for (const raw of Object.values(attacks).flat()) await b.redis.publish(channel, raw);
    await plain.redis.publish(plain.keys.channel(), json);

    const rejected = { malformed: 2, unsigned: 2, forged: 4 };
    await waitFor(
      () => JSON.stringify(a.cache.stats().messagesRejected) === JSON.stringify(rejected),
      { what: `a to reject ${JSON.stringify(rejected)}` },
    );
    expect(a.cache.stats()).toMatchObject({ invalidationsReceived: 0, highWaterMarks: 0 });
    expect(await a.cache.getOrLoad('hot', hot.load)).toMatchObject({ version: 3, tier: 'L1' });

    // Unsigned, the forged version is believed: that key now misses on every read.
    await waitFor(() => plain.cache.stats().invalidationsReceived === 1);
    expect((await plain.cache.getOrLoad('hot', hot.load)).tier).toBe('MISS');
    expect((await plain.cache.getOrLoad('hot', hot.load)).tier).toBe('MISS');

    // A genuine write still reaches a, which then serves the new version from L1 again.
    hot.entries.hot = v(4);
    await b.cache.set('hot', v(4));
    await waitFor(() => a.cache.stats().invalidationsReceived === 1);
    expect(await a.cache.getOrLoad('hot', hot.load)).toMatchObject({ version: 4, tier: 'L2' });
    expect(await a.cache.getOrLoad('hot', hot.load)).toMatchObject({ version: 4, tier: 'L1' });
    expect(a.cache.stats().trusted).toBe(true);
  });

  it('does not let an unsigned or forged heartbeat make L1 trusted', async () => {
    const make = async (signingSecret?: string) => {
      const namespace = uniqueName();
      const cache = createCache<User>({
        redis: withoutPublish(await redisClient()),
        subscriber: await redisClient(undefined, { subscriber: true }),
        namespace,
        origin: 'victim',
        heartbeatIntervalMs: 50,
        heartbeatTimeoutMs: 300,
        signingSecret,
      });
      onTestFinished(() => cache.close());
      return { cache, channel: `${namespace}:invalidations` };
    };
    const signed = await make(SECRET);
    const plain = await make();
    const attacker = await redisClient();
    const heartbeat = JSON.stringify({ type: 'hb', origin: 'victim', seq: 1, ts: Date.now() });

    // Its own heartbeats never come back, so only someone else's could make it trust L1.
    await attacker.publish(plain.channel, heartbeat);
    await waitFor(() => plain.cache.stats().trusted, {
      what: 'the forged heartbeat to be believed',
    });
    await attacker.publish(signed.channel, heartbeat);
    await attacker.publish(
      signed.channel,
      createSigner([OLD_SECRET], signed.channel).sign(heartbeat),
    );
    await waitFor(() => signed.cache.stats().messagesRejected.forged === 1);
    expect(signed.cache.stats()).toMatchObject({
      trusted: false,
      messagesRejected: { malformed: 0, unsigned: 1, forged: 1 },
    });
  });
});
