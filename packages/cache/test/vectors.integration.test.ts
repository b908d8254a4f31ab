import { readFileSync } from 'node:fs';
import { uniqueName, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { createMessageCodec } from '../src/bus/messages.ts';
import { createSenderSequences } from '../src/bus/sender-sequences.ts';
import { createSigner } from '../src/bus/signing.ts';
import { CacheError } from '../src/errors.ts';
import { createKeys, isValidKey, isValidNamespace, shardOfSlot } from '../src/keys.ts';
import { loadScript } from '../src/redis/scripts.ts';
import { createVersionedStore } from '../src/redis/versioned-store.ts';
import type { RedisLike } from '../src/types.ts';
import { redisClient } from './fixture.ts';

// Every case of protocol/vectors/, which every implementation of the protocol is tested against,
// run against this library's code; the script cases against the test Redis, each in a namespace
// of its own.

interface Case<I, E> {
  id: string;
  must: string[];
  note?: string;
  input: I;
  expected: E;
}

function vectors<T>(name: string): T {
  const url = new URL(`../../../protocol/vectors/${name}`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

const title = (c: Case<unknown, unknown>) => `${c.id} (${c.must.join(', ')})`;

describe('protocol/vectors/keys.json', () => {
  type KeyCase = Case<
    { namespace: string; key: string },
    { valid: false } | { valid: true; [name: string]: unknown }
  >;
  const file = vectors<{
    namespaces: Case<{ namespace: string }, { valid: boolean }>[];
    shardChannels: Case<{ namespace: string }, string[]>[];
    keys: KeyCase[];
  }>('keys.json');

  it.each(file.namespaces.map((c) => [title(c), c] as const))('namespace %s', (_, c) => {
    expect(isValidNamespace(c.input.namespace)).toBe(c.expected.valid);
  });

  it.each(file.shardChannels.map((c) => [title(c), c] as const))('%s', (_, c) => {
    expect(createKeys(c.input.namespace).shardChannels()).toEqual(c.expected);
  });

  it.each(file.keys.map((c) => [title(c), c] as const))('key %s', (_, c) => {
    const { namespace, key } = c.input;
    const keys = createKeys(namespace);
    expect(isValidKey(key)).toBe(c.expected.valid);
    if (!c.expected.valid) {
      expect(() => keys.pointer(key)).toThrow(CacheError);
      return;
    }
    const slot = calculateSlot(key);
    expect({
      valid: true,
      pointer: keys.pointer(key),
      dataPrefix: keys.dataPrefix(key),
      data7: keys.data(key, 7),
      lease: keys.lease(key),
      channel: keys.channel(),
      slot,
      shard: shardOfSlot(slot),
      shardChannel: keys.shardChannel(key),
    }).toEqual(c.expected);
    // The hash tag puts every Redis key of the cache key in the key's own slot.
    expect(calculateSlot(keys.pointer(key))).toBe(slot);
  });
});

describe('protocol/vectors/messages.json', () => {
  type Expected = { accepted: true; message: object } | { accepted: false; reason: string };
  const file = vectors<{
    sign: Case<{ channel: string; secret: string; payload: string }, string>[];
    decode: Case<{ channel: string; secrets: string[]; raw: string }, Expected>[];
  }>('messages.json');

  it.each(file.sign.map((c) => [title(c), c] as const))('signs %s', (_, c) => {
    const { channel, secret, payload } = c.input;
    expect(createSigner([secret], channel).sign(payload)).toBe(c.expected);
  });

  it.each(file.decode.map((c) => [title(c), c] as const))('decodes %s', (_, c) => {
    const decoded = createMessageCodec(c.input.channel, c.input.secrets).decode(c.input.raw);
    if (c.expected.accepted) expect(decoded).toEqual(c.expected.message);
    else expect(decoded).toBe(c.expected.reason);
  });
});

/** A script call by SHA, then by text on NOSCRIPT, as every implementation makes it. */
async function runScript(redis: RedisLike, name: string, keys: string[], args: string[]) {
  const script = loadScript(`${name}.lua`);
  const options = { keys, arguments: args };
  try {
    return await redis.evalSha(script.sha, options);
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return await redis.eval(script.text, options);
  }
}

describe('protocol/vectors/cseq.json', () => {
  const file = vectors<{
    sequences: Case<{ messages: { origin: string; cseq: number }[] }, { gaps: boolean[] }>[];
  }>('cseq.json');

  it.each(file.sequences.map((c) => [title(c), c] as const))('counts %s', (_, c) => {
    const sequences = createSenderSequences();
    const gaps = c.input.messages.map(({ origin, cseq }) => !sequences.follows(origin, cseq));
    expect(gaps).toEqual(c.expected.gaps);
  });
});

describe('protocol/vectors/versions.json', () => {
  const file = vectors<{
    compare: Case<{ a: string; b: string }, 'gt' | 'eq' | 'lt'>[];
    pointer: Case<string, { version: number } | { corrupt: true }>[];
  }>('versions.json');
  const OUTCOME = { gt: 1, eq: 0, lt: -1 } as const;

  it.each(file.compare.map((c) => [title(c), c] as const))('compares %s in FILL', async (_, c) => {
    const redis = await redisClient();
    const keys = createKeys(uniqueName());
    const { a, b } = c.input;
    await redis.set(keys.pointer('k'), b);
    const argv = [keys.dataPrefix('k'), a, '60000', '120000', '1', '', '', 'advanced'];
    const dataKey = `${keys.dataPrefix('k')}${a}`;
    const reply = await runScript(redis, 'fill', [keys.pointer('k'), dataKey], argv);
    expect((reply as number[])[0]).toBe(OUTCOME[c.expected]);
  });

  it.each(file.pointer.map((c) => [title(c), c] as const))('reads pointer %s', async (_, c) => {
    const redis = await redisClient();
    const keys = createKeys(uniqueName());
    await redis.set(keys.pointer('k'), c.input);
    await redis.set(`${keys.dataPrefix('k')}${c.input}`, '{"v":1}');
    const store = createVersionedStore(redis, keys, (_what, run) => run());
    const found = await store.read('k');
    if ('corrupt' in c.expected) {
      expect(found).toMatchObject({ pointer: undefined, entry: undefined, corrupt: true });
    } else {
      expect(found.corrupt).toBe(false);
      expect(found.pointer).toBe(c.expected.version);
      expect(found.entry).toEqual({ value: { v: 1 }, version: c.expected.version });
    }
  });
});

describe('protocol/vectors/scripts.json', () => {
  type ScriptCase = Case<
    { setup: string[][]; script: string; keys: string[]; argv: string[] },
    {
      reply: unknown;
      after: Record<string, { value: string | null; pttl?: [number, number] }>;
      published: { channel: string; message: string }[];
    }
  >;
  const file = vectors<{ sha1: Record<string, string>; cases: ScriptCase[] }>('scripts.json');

  it('loads every script of protocol/scripts byte for byte (MUST-SCRIPT-1)', () => {
    for (const [name, sha] of Object.entries(file.sha1))
      expect(loadScript(name).sha, name).toBe(sha);
  });

  it.each(file.cases.map((c) => [title(c), c] as const))('%s', async (_, vector) => {
    const namespace = uniqueName();
    const c = JSON.parse(JSON.stringify(vector).replaceAll('$ns', namespace)) as ScriptCase;
    const redis = await redisClient();
    const subscriber = await redisClient(undefined, { subscriber: true });
    const received: { channel: string; message: string }[] = [];
    const channels = new Set([
      `${namespace}:invalidations`,
      ...c.expected.published.map((p) => p.channel),
    ]);
    for (const channel of channels) {
      await subscriber.subscribe(channel, (message) => received.push({ channel, message }));
    }
    for (const command of c.input.setup) await redis.sendCommand(command);

    const reply = await runScript(redis, c.input.script, c.input.keys, c.input.argv);
    expect(reply).toEqual(c.expected.reply);
    for (const [key, { value, pttl }] of Object.entries(c.expected.after)) {
      expect(await redis.get(key), key).toBe(value);
      if (pttl) {
        const left = await redis.pTTL(key);
        expect(left, `PTTL ${key}`).toBeGreaterThanOrEqual(pttl[0]);
        expect(left, `PTTL ${key}`).toBeLessThanOrEqual(pttl[1]);
      }
    }
    // Messages of one connection arrive in order: once a marker sent after the script is in,
    // everything the script published is too.
    for (const channel of channels) await redis.publish(channel, 'end-of-case');
    await waitFor(
      () => received.filter((r) => r.message === 'end-of-case').length === channels.size,
    );
    expect(received.filter((r) => r.message !== 'end-of-case')).toEqual(c.expected.published);
  });
});
