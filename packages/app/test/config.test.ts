import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CACHE_OPTIONS, MAX_ORIGIN_LENGTH, validateCacheOptions } from '@cachelab/cache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheOptionsOf, INSTANCE_ID_LENGTH, readConfig, redactUrl } from '../src/config.ts';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/** The message of the error `readConfig(env)` throws. */
function problems(env: Record<string, string>): string {
  try {
    readConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('readConfig accepted it');
}

describe('configuration of Redis security', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachelab-config-'));
    await writeFile(join(dir, 'ca.crt'), PEM);
    await writeFile(join(dir, 'empty.crt'), '');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads the CA file of a rediss:// URL at start', () => {
    const config = readConfig({
      REDIS_URL: 'rediss://cachelab:pw@redis.internal:6380',
      REDIS_TLS_CA_FILE: join(dir, 'ca.crt'),
    });
    expect(config.redisTlsCa).toBe(PEM);
    expect(readConfig({}).redisTlsCa).toBeUndefined();
  });

  it('names a CA file that is missing, holds no certificate, or comes without rediss://', () => {
    const tls = { REDIS_URL: 'rediss://127.0.0.1:6380' };
    expect(problems({ ...tls, REDIS_TLS_CA_FILE: join(dir, 'nope.crt') })).toMatch(
      /REDIS_TLS_CA_FILE: cannot read .*nope\.crt \(ENOENT\)/,
    );
    expect(problems({ ...tls, REDIS_TLS_CA_FILE: join(dir, 'empty.crt') })).toMatch(
      /REDIS_TLS_CA_FILE: .*empty\.crt holds no PEM certificate/,
    );
    expect(problems({ REDIS_TLS_CA_FILE: join(dir, 'ca.crt') })).toMatch(
      /REDIS_TLS_CA_FILE needs a rediss:\/\/ REDIS_URL/,
    );
  });

  it('splits INVALIDATION_SECRET into secrets, and never quotes one it refuses', () => {
    const current = 'q3Jr0bVQ2Cx8N1mJ4pZk6w==';
    const previous = 'the secret of last month';
    expect(readConfig({}).invalidationSecrets).toEqual([]);
    expect(
      readConfig({ INVALIDATION_SECRET: `${current}, ${previous}` }).invalidationSecrets,
    ).toEqual([current, previous]);
    const message = problems({ INVALIDATION_SECRET: `${current},tooShort` });
    expect(message).toMatch(/INVALIDATION_SECRET must be .*at least 16 characters/);
    expect(message).not.toContain('tooShort');
    expect(message).not.toContain(current);
  });

  it('masks the password of a URL for logs, keeping the user', () => {
    expect(redactUrl('redis://cachelab:p%40ss@127.0.0.1:6379')).toBe(
      'redis://cachelab:***@127.0.0.1:6379',
    );
    expect(redactUrl('rediss://:secret@redis.internal:6380')).toBe(
      'rediss://:***@redis.internal:6380',
    );
    expect(problems({ REDIS_URL: 'http://:secret@x' })).not.toContain('secret');
  });
});

describe('configuration of the cache', () => {
  it('takes an INSTANCE_NAME whose cache origin `<name>/<id>` fits, and names one that does not', () => {
    const longest = 'n'.repeat(MAX_ORIGIN_LENGTH - 1 - INSTANCE_ID_LENGTH);
    expect(readConfig({ INSTANCE_NAME: longest }).instanceName).toBe(longest);
    expect(
      validateCacheOptions({ origin: `${longest}/${'i'.repeat(INSTANCE_ID_LENGTH)}` }),
    ).toEqual([]);
    for (const name of [`${longest}x`, 'n'.repeat(64), 'a/b', 'a:b']) {
      expect(problems({ INSTANCE_NAME: name })).toMatch(
        new RegExp(`INSTANCE_NAME must be 1-${longest.length} characters of`),
      );
    }
  });

  it('lists an invalid CACHE_NAMESPACE with the other invalid settings, never throwing a TypeError', () => {
    let thrown: unknown;
    try {
      readConfig({ CACHE_NAMESPACE: 'a:b', PORT: 'x', CACHE_STRATEGY: 'lru' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).not.toBeInstanceOf(TypeError);
    const message = (thrown as Error).message;
    expect(message).toMatch(/^invalid configuration:/);
    expect(message).toContain(
      'CACHE_NAMESPACE must be 1-32 characters of [A-Za-z0-9_.-], got "a:b"',
    );
    expect(message).toMatch(/PORT must be an integer/);
    expect(message).toMatch(/CACHE_STRATEGY must be one of/);
    expect(problems({ CACHE_NAMESPACE: 'n'.repeat(33) })).toMatch(/CACHE_NAMESPACE/);
  });

  it('applies the library rules to every cache setting, under its variable name', () => {
    const env = {
      CACHE_TTL_MS: '0',
      NEGATIVE_TTL_MS: '2147483648',
      L1_TTL_MS: '1.5',
      L1_MAX_ENTRIES: '-1',
      HIGH_WATER_MARK_MAX_ENTRIES: '0',
      REDIS_TIMEOUT_MS: 'soon',
      MAX_CONCURRENT_LOADS: '0',
      HEARTBEAT_INTERVAL_MS: '500',
      HEARTBEAT_TIMEOUT_MS: '400',
    };
    const message = problems(env);
    for (const name of Object.keys(env).filter((n) => n !== 'HEARTBEAT_INTERVAL_MS')) {
      expect(message).toContain(`${name} must be`);
    }
    expect(message).toContain('HEARTBEAT_TIMEOUT_MS must be greater than HEARTBEAT_INTERVAL_MS');
    // What the library itself accepts, the configuration accepts too.
    const config = readConfig({ HEARTBEAT_INTERVAL_MS: '5', HEARTBEAT_TIMEOUT_MS: '6' });
    expect(validateCacheOptions(cacheOptionsOf(config))).toEqual([]);
    expect(cacheOptionsOf(readConfig({}))).toMatchObject({
      ttlMs: DEFAULT_CACHE_OPTIONS.ttlMs,
      l1MaxEntries: DEFAULT_CACHE_OPTIONS.l1MaxEntries,
      strategy: DEFAULT_CACHE_OPTIONS.strategy,
    });
  });

  it('reads TTL_JITTER as a fraction from 0 to 0.9, 0.1 by default, and names a bad one', () => {
    expect(readConfig({}).ttlJitter).toBe(0.1);
    expect(cacheOptionsOf(readConfig({ TTL_JITTER: '0' })).ttlJitter).toBe(0);
    expect(readConfig({ TTL_JITTER: '0.25' }).ttlJitter).toBe(0.25);
    for (const bad of ['1', '-0.1', 'ten', '0.95']) {
      expect(problems({ TTL_JITTER: bad })).toContain(
        `TTL_JITTER must be a number from 0 to 0.9 (a fraction), got "${bad}"`,
      );
    }
  });

  it('reads LOAD_LEASE_MS, 500 by default and 0 for off, and names one out of range', () => {
    expect(cacheOptionsOf(readConfig({})).loadLeaseMs).toBe(500);
    expect(cacheOptionsOf(readConfig({ LOAD_LEASE_MS: '0' })).loadLeaseMs).toBe(0);
    expect(problems({ LOAD_LEASE_MS: '60001' })).toContain(
      'LOAD_LEASE_MS must be an integer from 0 to 60000 (ms), got "60001"',
    );
  });

  it('reads STALE_IF_ERROR_MS, 0 (off) by default, and names a bad one', () => {
    expect(cacheOptionsOf(readConfig({})).staleIfErrorMs).toBe(0);
    expect(cacheOptionsOf(readConfig({ STALE_IF_ERROR_MS: '30000' })).staleIfErrorMs).toBe(30_000);
    expect(problems({ STALE_IF_ERROR_MS: 'soon' })).toContain('STALE_IF_ERROR_MS must be');
  });

  it('reads EARLY_REFRESH as a fraction, 0 (off) by default, and names a bad one', () => {
    expect(cacheOptionsOf(readConfig({})).earlyRefresh).toBe(0);
    expect(cacheOptionsOf(readConfig({ EARLY_REFRESH: '0.1' })).earlyRefresh).toBe(0.1);
    expect(problems({ EARLY_REFRESH: '2' })).toContain(
      'EARLY_REFRESH must be a number from 0 to 0.9 (a fraction), got "2"',
    );
  });
});
