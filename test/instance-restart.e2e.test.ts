import type { StatsResponse } from '@cachelab/app';
import { type InstanceProcess, startInstance, uniqueName, waitFor } from '@cachelab/testkit';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createHttpClient, runLoops } from './support/index.ts';

const started: InstanceProcess[] = [];
afterEach(() => {
  for (const instance of started.splice(0)) {
    if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
  }
});

type User = { id: string; version: number; name: string };

describe('an instance killed with SIGKILL and restarted', () => {
  it('rejoins with an empty L1 and serves what was written while it was gone', async () => {
    const namespace = uniqueName('rs');
    const env = {
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      CACHE_NAMESPACE: namespace,
      HEARTBEAT_INTERVAL_MS: '100',
      HEARTBEAT_TIMEOUT_MS: '400',
    };
    const launch = async (name: string, port?: number) => {
      const instance = await startInstance({
        ...env,
        INSTANCE_NAME: name,
        ...(port ? { PORT: String(port) } : {}),
      });
      started.push(instance);
      return instance;
    };
    const [a, b] = await Promise.all([launch('rs-a'), launch('rs-b')]);
    if (!a || !b) throw new Error('instances did not start');
    const http = createHttpClient({ maxSockets: 8, timeoutMs: 5000 });
    const ids = Array.from({ length: 10 }, (_, i) => `${namespace}-${i}`);
    const put = (url: string, id: string, name: string) =>
      http.send('PUT', `${url}/users/${id}`, { name, email: 'r@example.com', age: 30 });
    for (const id of ids) expect((await put(a.url, id, 'before')).status).toBe(201);
    for (const id of ids)
      expect((await http.send('GET', `${a.url}/users/${id}`)).headers['x-cache']).toBe('L1');

    // Killed mid-load: whatever was in flight to A is lost with it, nothing else.
    let stop = false;
    const failures: string[] = [];
    const load = runLoops(
      4,
      () => stop,
      async () => {
        const reply = await http.send(
          'GET',
          `${a.url}/users/${ids[Math.floor(Math.random() * ids.length)]}`,
        );
        if (reply.status !== 200) failures.push(reply.error ?? String(reply.status));
      },
    );
    await waitFor(
      async () =>
        ((await http.send('GET', `${a.url}/stats`)).body as StatsResponse).cache.reads > 200,
      {
        timeoutMs: 10_000,
        what: 'the load to reach A',
      },
    );
    const oldId = ((await http.send('GET', `${a.url}/stats`)).body as StatsResponse).instance.id;
    a.child.kill('SIGKILL');
    await a.exited;
    stop = true;
    await load;

    // Written through B while A is gone: A will never receive these invalidations.
    const written = new Map<string, number>();
    for (const id of ids) {
      const reply = await put(b.url, id, 'while-a-was-down');
      written.set(id, (reply.body as User).version);
    }

    const port = Number(new URL(a.url).port);
    const restarted = await launch('rs-a', port);
    const fresh = (await http.send('GET', `${restarted.url}/stats`)).body as StatsResponse;
    expect(fresh.instance.id).not.toBe(oldId);
    expect(fresh.cache).toMatchObject({ l1Size: 0, reads: 0 });
    // Its very first read of every key is the version B wrote.
    for (const id of ids) {
      const reply = await http.send('GET', `${restarted.url}/users/${id}`);
      expect(reply.body).toMatchObject({ name: 'while-a-was-down', version: written.get(id) });
    }
    // And it is part of the cluster again: a write on B reaches its L1.
    const [first] = ids;
    const again = await put(b.url, first as string, 'after-restart');
    await waitFor(
      async () => {
        const reply = await http.send('GET', `${restarted.url}/users/${first}`);
        return (reply.body as User).version === (again.body as User).version;
      },
      { timeoutMs: 5000, what: 'the restarted instance to see a later write' },
    );
    console.log(
      `instance restart: ${failures.length} reads to A failed (in flight at the SIGKILL or sent after it)`,
    );
    http.close();
  });
});
