import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type InstanceProcess,
  startInstance,
  startRedisServer,
  type TestRedisServer,
  waitFor,
} from '@cachelab/testkit';
import { nanoid } from 'nanoid';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createHttpClient } from './support/index.ts';

/**
 * A Redis that persists (RDB here; AOF or a managed service's backup alike) restarts from a
 * snapshot older than its last writes: its version pointers are back where the snapshot left
 * them, with the data entries of those versions. No instance may serve such a version: not the
 * writer, not a reader that heard of the newer one, not an instance that never read the key.
 */
const ID = '70';

let dir: string;
let env: Record<string, string>;
let redis: TestRedisServer;
let instances: InstanceProcess[] = [];
const http = createHttpClient({ maxSockets: 16, timeoutMs: 5000 });

async function served(instance: InstanceProcess): Promise<number> {
  return (await read(instance)).version;
}

async function read(instance: InstanceProcess): Promise<{ version: number; tier: unknown }> {
  const answer = await http.send('GET', `${instance.url}/users/${ID}`);
  const version =
    answer.status === 200 ? (answer.body as { version: number }).version : -answer.status;
  return { version, tier: answer.headers['x-cache'] };
}

async function put(instance: InstanceProcess, name: string): Promise<number> {
  const answer = await http.send('PUT', `${instance.url}/users/${ID}`, {
    name,
    email: 'snapshot@example.com',
    age: 40,
  });
  expect(answer.status).toBe(200);
  return (answer.body as { version: number }).version;
}

async function command(...args: string[]): Promise<unknown> {
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

describe('Redis restarting from an older snapshot', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cachelab-rdb-'));
    redis = await startRedisServer({ args: ['--dir', dir, '--dbfilename', 'dump.rdb'] });
    env = {
      REDIS_URL: redis.url,
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      CACHE_NAMESPACE: `rdb${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`,
      CACHE_TTL_MS: '600000',
      L1_TTL_MS: '600000',
      // The outbox relays would announce the writes again: only the caches count here.
      OUTBOX_POLL_MS: '600000',
    };
    instances = await Promise.all(
      ['rdb-writer', 'rdb-reader', 'rdb-newcomer'].map((name) =>
        startInstance({ ...env, INSTANCE_NAME: name }),
      ),
    );
  }, 90_000);

  afterAll(async () => {
    for (const instance of instances) {
      if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
    }
    http.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('never serves a version older than the newest one any instance acknowledged, after the restore', async () => {
    const [writer, reader, newcomer] = instances as [
      InstanceProcess,
      InstanceProcess,
      InstanceProcess,
    ];
    const saved = await put(writer, 'in the snapshot');
    await waitFor(async () => (await served(reader)) === saved, { what: 'the reader at v1' });
    expect(await command('SAVE')).toBe('OK');
    const latest = await put(writer, 'after the snapshot');
    await waitFor(async () => (await served(reader)) === latest, { what: 'the reader at v2' });
    expect(await served(writer)).toBe(latest);

    await command('SHUTDOWN', 'NOSAVE').catch(() => {});
    const old = redis.process();
    await waitFor(() => old.exitCode !== null || old.signalCode !== null, {
      what: 'Redis to shut down',
    });
    redis = await startRedisServer({
      port: redis.port,
      args: ['--dir', dir, '--dbfilename', 'dump.rdb'],
    });
    // The snapshot is back: its pointer is at the older version.
    expect(await command('DBSIZE')).not.toBe(0);

    // First the newcomer alone, which never read the key, until it answers from Redis: had the
    // others read first, those that know the newer version would have moved the pointer past the
    // snapshot's (their high-water marks), and the newcomer's reads only have Redis to go by.
    const older: string[] = [];
    const start = performance.now();
    await waitFor(
      async () => {
        const { version, tier } = await read(newcomer);
        if (version > 0 && version < latest) older.push(`the newcomer: v${version} (${tier})`);
        return tier === 'L2' || tier === 'L1';
      },
      { timeoutMs: 10_000, intervalMs: 20, what: 'the newcomer answering from Redis' },
    );
    // Then every read of every instance.
    let current = 0;
    let allAtLatestMs: number | undefined;
    let last: number[] = [];
    await waitFor(
      async () => {
        const versions = await Promise.all(instances.map(served));
        last = versions;
        versions.forEach((version, i) => {
          if (version > 0 && version < latest) older.push(`${instances[i]?.url}: v${version}`);
        });
        current = versions.filter((version) => version === latest).length;
        if (current === instances.length) allAtLatestMs ??= performance.now() - start;
        return current === instances.length && performance.now() - start > 3000;
      },
      { timeoutMs: 15_000, intervalMs: 20, what: 'every instance at the latest version for 3 s' },
    ).catch(async (error: Error) => {
      // What each instance and Redis say, to tell which check let the snapshot through.
      const stats = await Promise.all(
        instances.map(async ({ url }) => (await http.send('GET', `${url}/stats`)).body),
      );
      const fence = await command('GET', `${env.CACHE_NAMESPACE}:fence`);
      const detail = `last served ${last.join(', ')}; older ${older.slice(0, 5).join(', ')}; fence ${String(fence)}`;
      throw new Error(`${error.message}; ${detail}; stats ${JSON.stringify(stats)}`);
    });
    console.log(
      `every instance at v${latest} ${Math.round(allAtLatestMs ?? -1)} ms after Redis came back`,
    );
    expect(older, 'reads of a version older than the latest acknowledged one').toEqual([]);
    expect(await served(newcomer)).toBe(latest);
  });
});
