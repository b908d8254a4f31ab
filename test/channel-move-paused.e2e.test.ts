import { createKeys } from '@cachelab/cache';
import {
  type InstanceProcess,
  startInstance,
  startRedisCluster,
  type TestRedisCluster,
  waitFor,
} from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';
import { nanoid } from 'nanoid';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { createHttpClient } from './support/index.ts';

/**
 * An invalidation channel's slot moves to another master while a reader process is stopped
 * (SIGSTOP) for less than the stall threshold. The old master drops the reader's subscription
 * while it cannot resubscribe, and a write announced meanwhile reaches the new master, where
 * nobody listens yet: the announcement is lost, and nothing about the reader's own connection or
 * heartbeats shows it. Every sender numbers its messages per channel, so the writer's next message
 * on that channel (its heartbeat) shows the reader a gap: it withdraws trust in its L1 and serves
 * from Redis, which has the write. Without the numbers the reader served its old L1 entry until
 * L1_TTL_MS (a minute here) in most rounds.
 */
const ROUNDS = 4;
const HEARTBEAT_INTERVAL_MS = 500;
/**
 * The design's bound: the writer's next message on the channel once the reader has resubscribed
 * (a heartbeat interval), or, should the reader not be subscribed there yet, its own heartbeat
 * missing for HEARTBEAT_TIMEOUT_MS plus an interval (2.5 s). The test allows 2 s more for a
 * loaded machine, within the 5 s the docs state for a migration.
 */
const BOUND_MS = 4500;

let cluster: TestRedisCluster;
let writer: InstanceProcess;
let reader: InstanceProcess;
const namespace = `mv${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
const http = createHttpClient({ maxSockets: 4, timeoutMs: 5000 });

async function served(instance: InstanceProcess, id: string) {
  const answer = await http.send('GET', `${instance.url}/users/${id}`);
  return { version: (answer.body as { version: number }).version, tier: answer.headers['x-cache'] };
}

describe('a channel slot that moves while a reader is paused', () => {
  beforeAll(async () => {
    // Own Redis Cluster (not the shared one): the tests migrate channel slots between masters.
    cluster = await startRedisCluster();
    const env = {
      REDIS_CLUSTER_NODES: cluster.seeds.split(',')[0] ?? '',
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      CACHE_NAMESPACE: namespace,
      CACHE_TTL_MS: '600000',
      L1_TTL_MS: '60000',
      HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
      HEARTBEAT_TIMEOUT_MS: '2000',
      // The outbox relays would announce the write a second time, later: only the bus counts here.
      OUTBOX_POLL_MS: '600000',
    };
    [writer, reader] = await Promise.all([
      startInstance({ ...env, INSTANCE_NAME: 'mv-writer' }),
      startInstance({ ...env, INSTANCE_NAME: 'mv-reader' }),
    ]);
  }, 90_000);

  afterAll(async () => {
    for (const instance of [writer, reader]) {
      if (instance?.child.exitCode === null) instance.child.kill('SIGKILL');
    }
    http.close();
    await cluster?.stop();
  });

  it('shows the reader the lost announcement as a gap: it serves the write within the bound', async () => {
    const keys = createKeys(namespace);
    const late: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const id = String(40 + round);
      // The reader holds the user in a trusted L1.
      await waitFor(async () => (await served(reader, id)).tier === 'L1', {
        timeoutMs: 10_000,
        what: `user ${id} in the reader's L1`,
      });
      const before = (await served(reader, id)).version;
      const channelSlot = calculateSlot(keys.shardChannel(`user:${id}`));

      reader.child.kill('SIGSTOP');
      const stoppedAt = performance.now();
      let version: number;
      try {
        await cluster.migrateSlot(channelSlot);
        const put = await http.send('PUT', `${writer.url}/users/${id}`, {
          name: `round ${round}`,
          email: 'moved@example.com',
          age: 30,
        });
        expect(put.status).toBe(200);
        version = (put.body as { version: number }).version;
      } finally {
        reader.child.kill('SIGCONT');
      }
      const pausedMs = performance.now() - stoppedAt;
      expect(version).toBeGreaterThan(before);
      const resumedAt = performance.now();
      try {
        await waitFor(async () => (await served(reader, id)).version === version, {
          timeoutMs: BOUND_MS,
          intervalMs: 20,
          what: `the reader to serve v${version} of user ${id}`,
        });
        const { cache } = (await http.send('GET', `${reader.url}/stats`)).body as {
          cache: { trustLost: number };
        };
        console.log(
          `round ${round}: paused ${Math.round(pausedMs)} ms; v${version} served ${Math.round(performance.now() - resumedAt)} ms after SIGCONT; trust lost ${cache.trustLost} times so far`,
        );
      } catch {
        const { cache } = (await http.send('GET', `${reader.url}/stats`)).body as {
          cache: { trustLost: number };
        };
        late.push(
          `round ${round} (paused ${Math.round(pausedMs)} ms, trust lost ${cache.trustLost})`,
        );
      }
    }
    expect(late, 'rounds where the reader served its old L1 entry past the bound').toEqual([]);
  });

  /**
   * The case a CI run found in round 0: the reader has not heard the writer on the channel yet
   * (it subscribed after the writer's last heartbeat there) when it is paused and the
   * announcement is lost. The writer's next message on the channel is then the first the reader
   * hears from it, and it is numbered above 0: the reader must take that as a gap. Here the
   * writer beats once a minute, so it has sent one heartbeat per channel before the reader
   * starts and none after; its next message on the channel is a write of another key announced
   * there, which the test makes.
   */
  it("takes a sender's first message heard above cseq 0 as a gap", async () => {
    // A namespace of its own: no other instance's messages on its channels.
    const quietNamespace = `mq${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`;
    const keys = createKeys(quietNamespace);
    const env = {
      REDIS_CLUSTER_NODES: cluster.seeds.split(',')[0] ?? '',
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      CACHE_NAMESPACE: quietNamespace,
      CACHE_TTL_MS: '600000',
      L1_TTL_MS: '60000',
      OUTBOX_POLL_MS: '600000',
    };
    const quiet = await startInstance({
      ...env,
      INSTANCE_NAME: 'mv-quiet-writer',
      HEARTBEAT_INTERVAL_MS: '60000',
      HEARTBEAT_TIMEOUT_MS: '120000',
    });
    const fresh = await startInstance({
      ...env,
      INSTANCE_NAME: 'mv-fresh-reader',
      HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
      HEARTBEAT_TIMEOUT_MS: '2000',
    });
    onTestFinished(() => {
      for (const instance of [quiet, fresh]) {
        if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
      }
    });
    const id = '60';
    const channel = keys.shardChannel(`user:${id}`);
    // Another user announced on the same channel: the writer's next message there.
    const other = Array.from({ length: 100 }, (_, n) => String(n + 1)).find(
      (n) => n !== id && keys.shardChannel(`user:${n}`) === channel,
    );
    if (!other) throw new Error(`no other user announced on ${channel}`);
    await waitFor(async () => (await served(fresh, id)).tier === 'L1', {
      timeoutMs: 10_000,
      what: `user ${id} in the fresh reader's L1`,
    });
    const before = (await served(fresh, id)).version;

    fresh.child.kill('SIGSTOP');
    let version: number;
    let to: number;
    try {
      ({ to } = await cluster.migrateSlot(calculateSlot(channel)));
      const put = await http.send('PUT', `${quiet.url}/users/${id}`, {
        name: 'quiet write',
        email: 'moved@example.com',
        age: 31,
      });
      expect(put.status).toBe(200);
      version = (put.body as { version: number }).version;
    } finally {
      fresh.child.kill('SIGCONT');
    }
    expect(version).toBeGreaterThan(before);
    // Both instances subscribed on the new master (the fresh reader again) before the writer's
    // next message there.
    await waitFor(
      async () =>
        (await cluster.cli(to, 'PUBSUB', 'SHARDNUMSUB', channel)).split('\n')[1]?.trim() === '2',
      { timeoutMs: 10_000, what: `both instances subscribed to ${channel} on its new master` },
    );
    const put = await http.send('PUT', `${quiet.url}/users/${other}`, {
      name: 'the next message',
      email: 'next@example.com',
      age: 32,
    });
    expect(put.status).toBe(200);
    const sentAt = performance.now();
    await waitFor(async () => (await served(fresh, id)).version === version, {
      timeoutMs: BOUND_MS,
      intervalMs: 20,
      what: `the fresh reader to serve v${version} of user ${id} after the writer's next message`,
    });
    console.log(
      `first heard above 0: v${version} served ${Math.round(performance.now() - sentAt)} ms after the writer's next message`,
    );
  });
});
