import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatsResponse } from '@cachelab/app';
import {
  type InstanceProcess,
  startInstance,
  startRedisServer,
  type TestRedisServer,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';

const running: InstanceProcess[] = [];
afterEach(async () => {
  for (const instance of running.splice(0)) {
    if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
    await instance.exited;
  }
});

/** Starts an instance on the shared test database, stopped after the test. */
async function instance(env: Record<string, string>): Promise<InstanceProcess> {
  const started = await startInstance({
    DATABASE_URL: inject('databaseUrl'),
    DB_LATENCY_MS: '0',
    SEED_USERS: '100',
    HEARTBEAT_INTERVAL_MS: '100',
    HEARTBEAT_TIMEOUT_MS: '500',
    ...env,
  });
  running.push(started);
  return started;
}

interface Reply {
  status: number;
  cache: string | null;
  version: number;
}

async function send(url: string, method = 'GET', body?: unknown): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  await res.arrayBuffer();
  return {
    status: res.status,
    cache: res.headers.get('x-cache'),
    version: Number(res.headers.get('x-version')),
  };
}

async function stats(url: string): Promise<StatsResponse> {
  return (await (await fetch(`${url}/stats`)).json()) as StatsResponse;
}

/**
 * A write on `a`, then reads on `b` until it serves the new version (through the invalidation),
 * after `b` held the old one in its L1. Returns the id and the version written.
 */
async function writeThenRead(a: string, b: string): Promise<{ id: string; version: number }> {
  const id = uniqueName('sec');
  const user = { name: 'Ada', email: 'ada@example.com', age: 36 };
  expect((await send(`${a}/users/${id}`, 'PUT', user)).status).toBe(201);
  await waitFor(async () => (await send(`${b}/users/${id}`)).cache === 'L1', {
    what: 'b to hold the user in its L1',
  });
  const written = await send(`${a}/users/${id}`, 'PUT', { ...user, name: 'Grace' });
  expect(written).toMatchObject({ status: 200, version: 2 });
  await waitFor(async () => (await send(`${b}/users/${id}`)).version === 2, {
    timeoutMs: 2000,
    what: 'b to serve the new version',
  });
  expect(await send(`${b}/users/${id}`)).toMatchObject({ version: 2, cache: 'L1' });
  expect((await stats(b)).cache.invalidationsReceived).toBeGreaterThanOrEqual(1);
  return { id, version: 2 };
}

const namespace = () => uniqueName();

/** The ACL rule of the app's user (docs/running-safely.md shows it for the namespace `cl`). */
const appUserRule = (ns: string, password: string) => [
  'reset',
  'on',
  `>${password}`,
  `~${ns}:*`,
  'resetchannels',
  `&${ns}:invalidations`,
  '-@all',
  ...['+get', '+set', '+del', '+pexpire', '+eval', '+evalsha', '+publish'],
  ...['+subscribe', '+unsubscribe', '+ping', '+info', '+scan', '+unlink'],
];

describe('an instance on a Redis with a password and an ACL user', () => {
  const adminPassword = randomBytes(12).toString('base64url');
  // Characters that must be percent-encoded in the URL.
  const appPassword = `${randomBytes(12).toString('base64url')}/@:%`;
  const ns = namespace();
  let server: TestRedisServer;
  let admin: ReturnType<typeof createClient>;
  const appUrl = () =>
    `redis://cachelab:${encodeURIComponent(appPassword)}@127.0.0.1:${server.port}`;

  beforeAll(async () => {
    server = await startRedisServer({ password: adminPassword });
    admin = createClient({ url: server.url });
    admin.on('error', () => {});
    await admin.connect();
    expect(
      await admin.sendCommand(['ACL', 'SETUSER', 'cachelab', ...appUserRule(ns, appPassword)]),
    ).toBe('OK');
  });
  afterAll(async () => {
    admin?.destroy();
    await server?.stop();
  });

  it('says so when its user may not subscribe to the channel, and never trusts L1 meanwhile', async () => {
    const noChannelPassword = randomBytes(12).toString('base64url');
    const rule = appUserRule(ns, noChannelPassword).filter((part) => !part.startsWith('&'));
    expect(await admin.sendCommand(['ACL', 'SETUSER', 'nochannel', ...rule])).toBe('OK');
    const url = `redis://nochannel:${noChannelPassword}@127.0.0.1:${server.port}`;
    const started = await instance({
      REDIS_URL: url,
      CACHE_NAMESPACE: ns,
      INSTANCE_NAME: 'acl-nochannel',
    });
    await waitFor(
      () => /SUBSCRIBE to the invalidation channel failed \(NOPERM/.test(started.output()),
      {
        timeoutMs: 5000,
        what: 'the refused SUBSCRIBE in the log',
      },
    );
    const stats = (await (await fetch(`${started.url}/stats`)).json()) as {
      cache: { trusted: boolean; redisErrors: number };
    };
    expect(stats.cache).toMatchObject({ trusted: false });
    expect(stats.cache.redisErrors).toBeGreaterThan(0);
    // Once, not at every heartbeat.
    expect(started.output().match(/SUBSCRIBE to the invalidation channel failed/g)).toHaveLength(1);
    expect(started.output()).not.toContain(noChannelPassword);
    // The refusals are this test's: the next one checks that the app user caused none.
    await admin.sendCommand(['ACL', 'LOG', 'RESET']);
  });

  it('works end to end as a user limited to its keys and channel, with signed invalidations', async () => {
    const secret = execFileSync('openssl', ['rand', '-base64', '32'], { encoding: 'utf8' }).trim();
    const env = { REDIS_URL: appUrl(), CACHE_NAMESPACE: ns, INVALIDATION_SECRET: secret };
    const a = await instance({ ...env, INSTANCE_NAME: 'acl-a' });
    const b = await instance({ ...env, INSTANCE_NAME: 'acl-b' });
    const { id } = await writeThenRead(a.url, b.url);

    // Whoever may publish on the channel, without the secret, cannot announce a version.
    const forged = JSON.stringify({
      type: 'inv',
      key: `user:${id}`,
      version: Number.MAX_SAFE_INTEGER,
      origin: 'mallory',
      seq: 0,
      ts: Date.now(),
    });
    await admin.publish(`${ns}:invalidations`, forged);
    await admin.publish(`${ns}:invalidations`, `${'A'.repeat(43)}.${forged}`);
    for (const url of [a.url, b.url]) {
      await waitFor(async () => (await stats(url)).cache.messagesRejected.forged === 1);
      expect((await stats(url)).cache.messagesRejected).toEqual({
        malformed: 0,
        unsigned: 1,
        forged: 1,
      });
    }
    expect(await send(`${b.url}/users/${id}`)).toMatchObject({ version: 2, cache: 'L1' });
    // A token above the current version makes b reload and refill the current entry (the Lua
    // branch that only refreshes TTLs), so that every command the app can send has been sent;
    // then, the database being below the token, it answers 412.
    const loads = (await stats(b.url)).cache.loads;
    const reload = await fetch(`${b.url}/users/${id}`, { headers: { 'x-min-version': '3' } });
    expect(reload.status).toBe(412);
    expect((await stats(b.url)).cache.loads).toBe(loads + 1);

    // Everything the app sent was within its rights. (Redis 7.2+ also logs the refused CLIENT
    // SETINFO that node-redis sends and ignores; the app does not need it.) Its user's entries
    // only: the log also keeps the SUBSCRIBEs refused to the user of the test before.
    const objects = (await admin.aclLog())
      .filter((entry) => entry.username === 'cachelab')
      .map((entry) => `${entry.username} ${entry.object}`);
    expect(objects.filter((object) => !object.endsWith(' client|setinfo'))).toEqual([]);

    // Connections dropped and re-established: errors get logged, and still no secret.
    await admin.sendCommand(['CLIENT', 'KILL', 'USER', 'cachelab']);
    for (const url of [a.url, b.url]) {
      await waitFor(async () => (await stats(url)).cache.trusted, {
        what: `${url} to trust its bus again`,
      });
    }
    await writeThenRead(a.url, b.url);
    const texts = [a.output(), b.output(), JSON.stringify(await stats(a.url))];
    expect(a.output()).toContain('redis://cachelab:***@127.0.0.1');
    expect(a.output()).toContain('signed invalidations');
    for (const text of texts) {
      for (const leak of [appPassword, encodeURIComponent(appPassword), adminPassword, secret]) {
        expect(text).not.toContain(leak);
      }
    }
  });

  it('gives up at STARTUP_TIMEOUT_MS with a wrong password, naming the error but not the password', async () => {
    const wrong = `wrong-${randomBytes(9).toString('base64url')}`;
    const started = await startInstance(
      {
        DATABASE_URL: inject('databaseUrl'),
        SEED_USERS: '100',
        REDIS_URL: `redis://cachelab:${wrong}@127.0.0.1:${server.port}`,
        CACHE_NAMESPACE: ns,
        STARTUP_TIMEOUT_MS: '1500',
      },
      { timeoutMs: 15_000 },
    ).catch((error: Error) => error);
    expect(started).toBeInstanceOf(Error);
    const message = (started as Error).message;
    expect(message).toMatch(/could not reach redis: gave up after 1500 ms \(WRONGPASS/);
    expect(message).not.toContain(wrong);
  });

  it('refuses a client without the password, and the app user outside its keys and channel', async () => {
    const refused = async (url: string) => {
      const client = createClient({ url, socket: { reconnectStrategy: false } });
      client.on('error', () => {});
      return client.connect().then(
        () => client.destroy(),
        (error: Error) => error.message,
      );
    };
    expect(await refused(`redis://127.0.0.1:${server.port}`)).toMatch(/^NOAUTH/);
    expect(await refused(`redis://cachelab:wrong@127.0.0.1:${server.port}`)).toMatch(/^WRONGPASS/);
    expect(await refused(`redis://:wrong@127.0.0.1:${server.port}`)).toMatch(/^WRONGPASS/);

    const app = createClient({ url: appUrl() });
    app.on('error', () => {});
    await app.connect();
    try {
      expect(await app.get(`${ns}:{user:1}:ver`)).toBeNull();
      await expect(app.get('other:{user:1}:ver')).rejects.toThrow(/NOPERM/);
      await expect(app.set('other:key', 'x')).rejects.toThrow(/NOPERM/);
      await expect(app.publish('other:invalidations', 'x')).rejects.toThrow(/NOPERM/);
      await expect(app.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/);
      await expect(app.sendCommand(['KEYS', '*'])).rejects.toThrow(/NOPERM/);
      // Scripts run with the caller's rights: EVAL is no way around the key pattern.
      await expect(app.eval("return redis.call('GET', 'other:key')")).rejects.toThrow(
        /NOPERM|can't access/,
      );
    } finally {
      app.destroy();
    }
  });
});

/** Generates a throwaway CA and a certificate for 127.0.0.1 signed by it, with `openssl`. */
async function makeCertificates(dir: string) {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test CA');
  openssl('req', '-new', ...ec, '-keyout', 'redis.key', '-out', 'redis.csr', '-subj', '/CN=x');
  await writeFile(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    ...['x509', '-req', '-in', 'redis.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key'],
    ...['-CAcreateserial', '-out', 'redis.crt', '-days', '1', '-extfile', 'san.cnf'],
  );
  return {
    certFile: join(dir, 'redis.crt'),
    keyFile: join(dir, 'redis.key'),
    caFile: join(dir, 'ca.crt'),
  };
}

describe('an instance on a Redis that speaks only TLS', () => {
  let dir = '';
  let server: TestRedisServer | undefined;
  let caFile = '';
  let unavailable: string | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachelab-tls-'));
    try {
      const files = await makeCertificates(dir);
      caFile = files.caFile;
      server = await startRedisServer({ tls: files });
    } catch (error) {
      // Only where redis-server was built without TLS, or openssl is missing.
      unavailable = `no TLS Redis here: ${(error as Error).message}`;
    }
  });
  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves a write-then-read with cross-instance invalidation over rediss:// and a private CA', async (ctx) => {
    if (!server) return ctx.skip(unavailable);
    expect(server.url).toMatch(/^rediss:/);
    const env = { REDIS_URL: server.url, REDIS_TLS_CA_FILE: caFile, CACHE_NAMESPACE: namespace() };
    const a = await instance({ ...env, INSTANCE_NAME: 'tls-a' });
    const b = await instance({ ...env, INSTANCE_NAME: 'tls-b' });
    await writeThenRead(a.url, b.url);
  });

  it('verifies the certificate: without the CA an instance does not connect, and gives up at STARTUP_TIMEOUT_MS', async (ctx) => {
    if (!server) return ctx.skip(unavailable);
    const env = { DATABASE_URL: inject('databaseUrl'), SEED_USERS: '100' };
    const started = await startInstance(
      { ...env, REDIS_URL: server.url, CACHE_NAMESPACE: namespace(), STARTUP_TIMEOUT_MS: '1500' },
      { timeoutMs: 15_000 },
    ).catch((error: Error) => error);
    // node-redis retries a failed handshake inside connect() forever; the instance must not.
    expect(started).toBeInstanceOf(Error);
    expect((started as Error).message).toMatch(
      /could not reach redis: gave up after 1500 ms \(.*certificate/,
    );
  });
});
