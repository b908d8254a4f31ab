import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readAdapterEnv } from '../src/adapters/env.ts';
import { parseRequest, RequestError } from '../src/adapters/requests.ts';
import { loadAdapters, missingProgram } from '../src/registry.ts';
import { percentile } from '../src/report.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

describe('request lines (protocol/INTEROP.md)', () => {
  it('reads a read with its defaults: eventual, no token, no delay, null source', () => {
    expect(parseRequest('{"id":1,"op":"read","key":"k","source":null}')).toEqual({
      id: 1,
      op: 'read',
      key: 'k',
      source: null,
      consistency: 'eventual',
      minVersion: 0,
      loadDelayMs: 0,
    });
  });

  it('keeps any JSON value of a set, null included', () => {
    const line = '{"id":"a","op":"set","key":"k","value":{"x":[1,null]},"version":3}';
    expect(parseRequest(line)).toMatchObject({ id: 'a', value: { x: [1, null] }, version: 3 });
    expect(parseRequest('{"id":2,"op":"set","key":"k","value":null,"version":1}')).toMatchObject({
      value: null,
    });
  });

  it.each([
    ['not JSON', 'x', null],
    ['not an object', '[1]', null],
    ['without an id', '{"op":"stats"}', null],
    ['of an unknown op', '{"id":3,"op":"flush"}', 3],
    ['with a negative version', '{"id":4,"op":"delete","key":"k","version":-1}', 4],
    ['with a source without a version', '{"id":5,"op":"read","key":"k","source":{"value":1}}', 5],
    ['of a set without a value', '{"id":6,"op":"set","key":"k","version":1}', 6],
  ])('refuses a line %s with E_BAD_REQUEST, naming its id when it has one', (_, line, id) => {
    const error = (() => {
      try {
        parseRequest(line);
      } catch (e) {
        return e;
      }
    })() as RequestError;
    expect(error).toBeInstanceOf(RequestError);
    expect(error.code).toBe('E_BAD_REQUEST');
    expect(error.id).toBe(id);
  });
});

describe('the adapter environment', () => {
  const base = { CACHELAB_NAMESPACE: 'ns', CACHELAB_ORIGIN: 'a' };

  it('takes one Redis or a cluster, secrets as a list, and a heartbeat timeout of 4 intervals', () => {
    const env = readAdapterEnv({
      ...base,
      REDIS_CLUSTER_NODES: 'redis://127.0.0.1:1,redis://127.0.0.1:2',
      CACHELAB_SECRETS: 'first-secret-0123456,second-secret-01234',
      CACHELAB_HEARTBEAT_MS: '100',
    });
    expect(env).toMatchObject({
      redisUrl: undefined,
      clusterNodes: ['redis://127.0.0.1:1', 'redis://127.0.0.1:2'],
      secrets: ['first-secret-0123456', 'second-secret-01234'],
      heartbeatMs: 100,
      heartbeatTimeoutMs: 400,
    });
    expect(
      readAdapterEnv({ ...base, REDIS_URL: 'redis://x', CACHELAB_SECRETS: '' }).secrets,
    ).toEqual([]);
  });

  it('refuses neither or both Redis variables, a missing namespace, a bad interval', () => {
    expect(() => readAdapterEnv(base)).toThrow(/exactly one of REDIS_URL/);
    expect(() =>
      readAdapterEnv({ ...base, REDIS_URL: 'redis://x', REDIS_CLUSTER_NODES: 'redis://y' }),
    ).toThrow(/exactly one/);
    expect(() => readAdapterEnv({ REDIS_URL: 'redis://x', CACHELAB_ORIGIN: 'a' })).toThrow(
      /CACHELAB_NAMESPACE/,
    );
    expect(() =>
      readAdapterEnv({ ...base, REDIS_URL: 'redis://x', CACHELAB_HEARTBEAT_MS: '0' }),
    ).toThrow(/CACHELAB_HEARTBEAT_MS/);
  });
});

describe('the adapter registry', () => {
  it('registers node, and knows when a program is missing', () => {
    const adapters = loadAdapters(ROOT);
    expect(adapters.node?.command.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(missingProgram(adapters.node as never, ROOT)).toBeUndefined();
    expect(missingProgram({ command: ['no-such-toolchain-x9'], cwd: '.' }, ROOT)).toBe(
      'no-such-toolchain-x9',
    );
    expect(
      missingProgram({ command: ['node'], cwd: '.', requires: ['node', 'nope-x9'] }, ROOT),
    ).toBe('nope-x9');
  });
});

describe('percentiles of the propagation report', () => {
  it('are nearest-rank', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(samples, 50)).toBe(50);
    expect(percentile(samples, 99)).toBe(99);
    expect(percentile(samples, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});
