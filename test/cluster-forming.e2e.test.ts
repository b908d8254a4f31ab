import {
  freePort,
  type InstanceProcess,
  startInstance,
  startRedisCluster,
  type TestRedisCluster,
  waitFor,
} from '@cachelab/testkit';
import { nanoid } from 'nanoid';
import { createCluster } from 'redis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import {
  completeSlotMap,
  missingSlots,
  type SlotMapped,
  watchSlotMaps,
} from '../packages/app/src/redis-cluster.ts';
import { createHttpClient } from './support/index.ts';

/**
 * Instances started against Redis Cluster nodes that are not joined yet (`REDIS_CLUSTER=1 npm
 * start` reporting ready too early did the same): an instance that took the nodes' empty slot map
 * kept it, served every read as a MISS with Redis errors growing, and said ready. An instance
 * waits for `cluster_state:ok` and every slot served before it connects, and is not ready until
 * then.
 */
let cluster: TestRedisCluster;
const started: InstanceProcess[] = [];
const http = createHttpClient({ maxSockets: 8, timeoutMs: 5000 });

afterAll(async () => {
  for (const instance of started) {
    if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
  }
  http.close();
  await cluster?.stop();
});

interface Stats {
  cache: { redisErrors: number; trusted: boolean };
}

describe('a Redis Cluster still forming when the instances start', () => {
  it('is waited for: no instance is ready before it is whole, and then every one uses it', async () => {
    // Own Redis Cluster (not the shared one): the test joins its nodes, then unassigns a slot.
    cluster = await startRedisCluster({ join: false });
    const env = {
      REDIS_CLUSTER_NODES: cluster.seeds.split(',')[0] ?? '',
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      CACHE_NAMESPACE: `form${nanoid(6).replace(/[^A-Za-z0-9]/g, 'x')}`,
      HEARTBEAT_INTERVAL_MS: '100',
      HEARTBEAT_TIMEOUT_MS: '1000',
      STARTUP_TIMEOUT_MS: '60000',
    };
    const port = await freePort();
    const early = startInstance(
      { ...env, PORT: String(port), INSTANCE_NAME: 'form-early' },
      { timeoutMs: 60_000, onSpawn: () => {} },
    );
    early.then((instance) => started.push(instance)).catch(() => {});
    // Not ready while the nodes are not a cluster: polled for two seconds.
    const until = performance.now() + 2000;
    while (performance.now() < until) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (answer) => answer.status,
        () => 0,
      );
      expect(ready, 'readiness before the cluster exists').not.toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await cluster.join();
    const joinedAt = performance.now();
    const first = await early;
    console.log(
      `the early instance ready ${Math.round(performance.now() - joinedAt)} ms after the cluster was whole`,
    );
    const second = await startInstance({ ...env, INSTANCE_NAME: 'form-late' });
    started.push(second);

    // Both use the cluster: a write through one is served from Redis (L2) by the other.
    const put = await http.send('PUT', `${second.url}/users/5`, {
      name: 'formed',
      email: 'formed@example.com',
      age: 33,
    });
    expect(put.status).toBe(200);
    await waitFor(
      async () => {
        const answer = await http.send('GET', `${first.url}/users/5`);
        return answer.headers['x-cache'] === 'L2' || answer.headers['x-cache'] === 'L1';
      },
      { timeoutMs: 5000, what: 'the early instance to read the write from Redis' },
    );
    const stats = (await http.send('GET', `${first.url}/stats`)).body as Stats;
    const errorsBefore = stats.cache.redisErrors;
    for (let i = 0; i < 20; i++) await http.send('GET', `${first.url}/users/${10 + i}`);
    const after = (await http.send('GET', `${first.url}/stats`)).body as Stats;
    expect(after.cache.redisErrors - errorsBefore, 'Redis errors of 20 reads').toBe(0);
  });

  it('a slot left without a node at run time: the instance rediscovers, is not ready meanwhile, and uses the cluster again once it is whole', async () => {
    // Runs after the first test: the cluster is joined and both instances use it.
    const [first] = started;
    if (!first) throw new Error('the first test started no instance');
    const readyz = async () => (await http.send('GET', `${first.url}/readyz`)).status;
    expect(await readyz()).toBe(200);
    // Slot 0 unassigned on every node (as a cluster that lost a slot's owner without a replica,
    // or one still forming, answers): every command gets CLUSTERDOWN, and a rediscovery now
    // gives a slot map with a hole that nothing in node-redis would mend later.
    const owner = await cluster.masterOf(0);
    for (const { port } of cluster.nodes) await cluster.cli(port, 'CLUSTER', 'DELSLOTS', '0');
    const cutAt = performance.now();
    await waitFor(
      async () => {
        await http.send('GET', `${first.url}/users/${40 + Math.floor(Math.random() * 40)}`);
        return (await readyz()) === 503;
      },
      {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: 'the instance not ready while slot 0 has no node',
      },
    );
    console.log(`not ready ${Math.round(performance.now() - cutAt)} ms after slot 0 lost its node`);
    const body = (await http.send('GET', `${first.url}/readyz`)).body as {
      checks: Record<string, string>;
    };
    expect(body.checks.cluster).toBe('down');

    await cluster.cli(owner, 'CLUSTER', 'ADDSLOTS', '0');
    await cluster.waitHealthy();
    const wholeAt = performance.now();
    await waitFor(async () => (await readyz()) === 200, {
      timeoutMs: 10_000,
      intervalMs: 50,
      what: 'the instance ready again once slot 0 has its node',
    });
    console.log(`ready ${Math.round(performance.now() - wholeAt)} ms after the cluster was whole`);
    // And it uses Redis again: a read filled into Redis by one instance is a hit there for it.
    await http.send('GET', `${first.url}/users/90`);
    const before = ((await http.send('GET', `${first.url}/stats`)).body as Stats).cache.redisErrors;
    for (let i = 0; i < 20; i++) await http.send('GET', `${first.url}/users/${60 + i}`);
    const after = ((await http.send('GET', `${first.url}/stats`)).body as Stats).cache.redisErrors;
    expect(after - before, 'Redis errors of 20 reads once whole').toBe(0);
  });
});

describe('a seed that is whole while the node the client asks is not', () => {
  // What made `REDIS_CLUSTER=1 npm start` never ready: the instance checked one seed (whole),
  // but node-redis took its slot map from another, picked at random, still learning the cluster.
  // Here node A serves every slot alone and node B has not met it yet: a client rooted at B gets
  // an empty slot map, and node-redis never looks again.
  it('is mended at startup (completeSlotMap) and at run time (watchSlotMaps) once the node knows', async () => {
    // Own Redis Cluster (not the shared one): two unjoined nodes, one given every slot by hand.
    const pair = await startRedisCluster({ masters: 1, join: false });
    const [a, b] = pair.nodes;
    if (!a || !b) throw new Error('two nodes expected');
    const clients: { destroy(): void }[] = [];
    try {
      await pair.cli(a.port, 'CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
      await waitFor(
        async () => (await pair.cli(a.port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
        { timeoutMs: 10_000, intervalMs: 50, what: 'node A alone to say cluster_state:ok' },
      );
      const rootedAtB = async () => {
        const client = createCluster({
          rootNodes: [{ socket: { host: '127.0.0.1', port: b.port } }],
          defaults: { disableOfflineQueue: true },
        });
        client.on('error', () => {});
        client.on('node-error', () => {});
        await client.connect();
        clients.push(client);
        return client as unknown as SlotMapped & ReturnType<typeof createCluster>;
      };
      const atStart = await rootedAtB();
      const atRunTime = await rootedAtB();
      // Left to node-redis alone: what main did.
      const untouched = await rootedAtB();
      expect(missingSlots(atStart), 'slots without a node, from B before it met A').toBe(16_384);
      await expect(completeSlotMap(atStart, 'test')).rejects.toThrow(
        'the test slot map has no node for 16384 of 16384 slots yet',
      );
      const changes: number[] = [];
      const watch = watchSlotMaps([atRunTime], {
        intervalMs: 100,
        onChange: (missing) => changes.push(missing),
      });
      try {
        await pair.cli(b.port, 'CLUSTER', 'MEET', '127.0.0.1', String(a.port));
        const metAt = performance.now();
        await waitFor(() => completeSlotMap(atStart, 'test').then(() => true), {
          timeoutMs: 10_000,
          intervalMs: 100,
          what: 'the slot map rooted at B to be whole',
        });
        await waitFor(() => watch.missing() === 0, {
          timeoutMs: 10_000,
          intervalMs: 50,
          what: 'the watched slot map to be whole without being asked',
        });
        console.log(
          `slot maps whole ${Math.round(performance.now() - metAt)} ms after B met A (changes ${changes.join(' -> ')})`,
        );
        expect(changes.at(-1)).toBe(0);
        expect(missingSlots(untouched), 'slots without a node, left to node-redis').toBe(16_384);
        await atRunTime.set('formed', 'yes');
        expect(await atStart.get('formed')).toBe('yes');
      } finally {
        watch.stop();
      }
    } finally {
      for (const client of clients) client.destroy();
      await pair.stop();
    }
  });
});
