import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig, redactUrl } from '../src/config.ts';

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
    expect(message).toMatch(/INVALIDATION_SECRET must be one or more comma-separated secrets/);
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
