import {
  type InstanceProcess,
  startDatabaseServer,
  startInstance,
  startRedisServer,
  type TestDatabaseServer,
  type TestRedisServer,
  uniqueName,
} from '@cachelab/testkit';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileEnding, runLab } from './support/lab.ts';

// The lab injects Redis faults (CLIENT KILL, CLIENT PAUSE) into --redis-url. On a machine with a
// Redis of its own on 6379 that is easily the wrong server: the lab must check first.
// The instance has a Redis and a database of its own: the lab's fault kills every subscriber of
// its Redis and its workload rewrites users 1…10, which would disturb the other test files.

/** The number of connections the server has accepted since it started (`INFO stats`). */
async function connectionsReceived(url: string): Promise<number> {
  const client = createClient({ url });
  await client.connect();
  try {
    return Number(/^total_connections_received:(\d+)/m.exec(await client.info('stats'))?.[1]);
  } finally {
    client.destroy();
  }
}

describe('the lab against instances it did not start (--urls)', () => {
  let instance: InstanceProcess;
  let own: TestRedisServer;
  let database: TestDatabaseServer;
  let other: TestRedisServer;
  const SHORT = ['--duration', '1s', '--sessions', '2', '--keys', '10', '--quiet', '500ms'];

  beforeAll(async () => {
    [own, other, database] = await Promise.all([
      startRedisServer(),
      startRedisServer(),
      startDatabaseServer(),
    ]);
    instance = await startInstance({
      REDIS_URL: own.url,
      DATABASE_URL: database.url,
      DB_LATENCY_MS: '0',
      SEED_USERS: '20',
      INSTANCE_NAME: 'lab-1',
      CACHE_NAMESPACE: uniqueName(),
    });
  });
  afterAll(async () => {
    instance?.child.kill('SIGTERM');
    await instance?.exited;
    await Promise.all([own?.stop(), other?.stop(), database?.stop()]);
  });

  it('refuses, in one line, a --redis-url that is not the Redis the instances use', async () => {
    const before = await connectionsReceived(other.url);
    const run = await runLab([
      'history',
      '--urls',
      instance.url,
      '--redis-url',
      other.url,
      '--fault',
      'kill-pubsub@200ms',
      ...SHORT,
    ]);
    expect(run.code, run.output).toBe(1);
    expect(run.output.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^consistency: refusing --redis-url .* not the Redis the instances use/,
      ),
    ]);
    expect(Object.keys(run.files)).toEqual([]);
    // The other server saw the lab's identity check and this count, nothing else: no fault.
    expect((await connectionsReceived(other.url)) - before).toBe(2);
  }, 60_000);

  it('runs the faults against the Redis the instances use', async () => {
    const run = await runLab([
      'history',
      '--urls',
      instance.url,
      '--redis-url',
      own.url,
      '--fault',
      'kill-pubsub@200ms',
      ...SHORT,
    ]);
    expect(run.code, run.output).toBe(0);
    const { history } = JSON.parse(fileEnding(run, '-history.json')) as {
      history: { faults: { kind: string }[] };
    };
    expect(history.faults.map((fault) => fault.kind)).toEqual(['kill-pubsub']);
  }, 60_000);
});
