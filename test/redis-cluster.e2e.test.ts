import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  canBind,
  freePort,
  type InstanceProcess,
  runNodeScript,
  startInstance,
  startRedisCluster,
  startRedisServer,
  type TestRedisCluster,
  uniqueName,
  waitFor,
} from '@cachelab/testkit';
import { createClient, createCluster } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePortRange, startCluster } from './support/cluster.ts';
import { startFakeRedisNode } from './support/fake-redis-node.ts';
import { createHttpClient } from './support/index.ts';
import { startInstances } from './support/instances.ts';

const started: InstanceProcess[] = [];
afterEach(() => {
  for (const instance of started.splice(0)) {
    if (instance.child.exitCode === null) instance.child.kill('SIGKILL');
  }
});

// The shared Redis Cluster of the e2e setup, for the tests that only read and write through it
// (each under a namespace of its own); the password and the watchdog need a cluster of their own.
const seeds = inject('redisClusterNodes');

type User = { id: string; version: number; name: string };

function baseEnv(namespace: string): Record<string, string> {
  return {
    DATABASE_URL: inject('databaseUrl'),
    DB_LATENCY_MS: '0',
    SEED_USERS: '100',
    CACHE_NAMESPACE: namespace,
    HEARTBEAT_INTERVAL_MS: '100',
    HEARTBEAT_TIMEOUT_MS: '1000',
    STARTUP_TIMEOUT_MS: '5000',
  };
}

/** Runs one instance to its exit (it should refuse to start) and returns its code and output. */
async function runRefused(env: Record<string, string>) {
  return runNodeScript('packages/app/src/main.ts', [], {
    timeoutMs: 20_000,
    env: { ...baseEnv('refused'), PORT: String(await freePort()), ...env },
  });
}

describe('instances on a Redis Cluster (REDIS_CLUSTER_NODES)', () => {
  it('write-then-read across three instances: every instance serves each write at once after it', async () => {
    const namespace = uniqueName('rc');
    const env = { ...baseEnv(namespace), REDIS_CLUSTER_NODES: seeds.split(',')[0] ?? '' };
    const list = await startInstances(['rc-a', 'rc-b', 'rc-c'], env);
    started.push(...list);
    const http = createHttpClient({ maxSockets: 8, timeoutMs: 5000 });
    const ids = Array.from({ length: 16 }, (_, i) => `${namespace}-${i}`);
    for (const id of ids) {
      const created = await http.send('PUT', `${list[0]?.url}/users/${id}`, {
        name: 'v1',
        email: 'c@example.com',
        age: 30,
      });
      expect(created.status).toBe(201);
    }
    // Every instance holds every user in L1 (once its bus is trusted).
    for (const { url } of list) {
      for (const id of ids) {
        await waitFor(
          async () => (await http.send('GET', `${url}/users/${id}`)).headers['x-cache'] === 'L1',
          { timeoutMs: 5000, what: `${id} in the L1 of ${url}` },
        );
      }
    }
    let mismatches = 0;
    for (const [round, id] of ids.entries()) {
      const writer = list[round % list.length];
      const written = await http.send('PUT', `${writer?.url}/users/${id}`, {
        name: 'v2',
        email: 'c@example.com',
        age: 31,
      });
      const version = (written.body as User).version;
      for (const { url } of list) {
        // Strict: at once; eventual: once the announcement has arrived (about a millisecond).
        const strict = await http.send('GET', `${url}/users/${id}`, undefined, {
          'x-consistency': 'strict',
        });
        if ((strict.body as User).version !== version) mismatches++;
        await waitFor(async () => (await http.send('GET', `${url}/users/${id}`)).body, {
          timeoutMs: 2000,
          intervalMs: 5,
          what: `${id} v${version} on ${url}`,
        }).then((body) => expect((body as User).version).toBeGreaterThanOrEqual(version));
      }
    }
    expect(mismatches).toBe(0);
    const stuck: string[] = [];
    for (const { url } of list) {
      for (const id of ids) {
        const read = await http.send('GET', `${url}/users/${id}`);
        if ((read.body as User).name !== 'v2') stuck.push(`${id}@${url}`);
      }
    }
    expect(stuck).toEqual([]);
  });

  it('refuses a malformed REDIS_CLUSTER_NODES in one line naming it', async () => {
    const run = await runRefused({ REDIS_CLUSTER_NODES: '127.0.0.1:7000,localhost' });
    expect(run.code).toBe(1);
    expect(run.output).toContain(
      'REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got "localhost"',
    );
    expect(run.output).not.toMatch(/\n\s+at /);
  });

  it('refuses a node that is not in cluster mode, at once, saying what it found', async () => {
    const single = await startRedisServer();
    try {
      const began = Date.now();
      const run = await runRefused({ REDIS_CLUSTER_NODES: `127.0.0.1:${single.port}` });
      expect(run.code).toBe(1);
      expect(run.output).toContain(
        `REDIS_CLUSTER_NODES: 127.0.0.1:${single.port} is not in cluster mode (cluster_enabled:0`,
      );
      expect(run.output).not.toMatch(/\n\s+at /);
      // Not after STARTUP_TIMEOUT_MS (5 s here): refused, not retried.
      expect(Date.now() - began).toBeLessThan(15_000);
    } finally {
      await single.stop();
    }
  });

  // No Redis 6 binary here: a stand-in node answers INFO as a Redis 6.2 cluster node does (cluster
  // mode on, no SPUBLISH), and fails CLIENT SETINFO as Redis < 7.2 does.
  it('refuses a cluster of Redis 6 (no sharded Pub/Sub), at once, naming the setting and the version', async () => {
    const redis6 = await startFakeRedisNode(
      [
        '# Server',
        'redis_version:6.2.0',
        'redis_mode:cluster',
        '',
        '# Cluster',
        'cluster_enabled:1',
        '',
      ].join('\r\n'),
    );
    try {
      const began = Date.now();
      const run = await runRefused({ REDIS_CLUSTER_NODES: `127.0.0.1:${redis6.port}` });
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain(
        `REDIS_CLUSTER_NODES: 127.0.0.1:${redis6.port} runs Redis 6.2.0: sharded Pub/Sub (SPUBLISH) needs Redis 7 or newer`,
      );
      expect(run.output).not.toMatch(/\n\s+at /);
      expect(Date.now() - began).toBeLessThan(15_000);
      // It asked the node itself (handshake, INFO), and went no further: no command of the cache.
      expect(redis6.commands.map((words) => words[0]?.toUpperCase())).toContain('INFO');
      expect(
        redis6.commands.filter(
          ([name]) => !['HELLO', 'CLIENT', 'INFO'].includes(name?.toUpperCase() ?? ''),
        ),
      ).toEqual([]);
    } finally {
      await redis6.stop();
    }
  });
});

describe('npm start on a Redis Cluster of yours (REDIS_CLUSTER_NODES)', () => {
  /** Keys under `namespace:` on every master of the test cluster. */
  async function namespaceKeys(namespace: string): Promise<string[]> {
    const client = createCluster({
      rootNodes: seeds.split(',').map((seed) => ({ url: `redis://${seed}` })),
    });
    client.on('error', () => {});
    await client.connect();
    try {
      const keys: string[] = [];
      for (const master of client.masters) {
        const node = await client.nodeClient(master);
        for await (const batch of node.scanIterator({ MATCH: `${namespace}:*` }))
          keys.push(...batch);
      }
      return keys;
    } finally {
      client.destroy();
    }
  }

  it('starts no Redis of its own, says which cluster it uses, and npm run reset deletes its keys on every master', async () => {
    const namespace = uniqueName('rcn');
    const seed = seeds.split(',')[0] ?? '';
    const base = await freePortRange(3);
    const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-rcn-'));
    const env = {
      INSTANCES: '2',
      BASE_PORT: String(base),
      DB_PORT: String(base + 2),
      DB_DATA_DIR: dataDir,
      DB_LATENCY_MS: '0',
      SEED_USERS: '50',
      REDIS_URL: '',
      REDIS_CLUSTER: '',
      REDIS_CLUSTER_NODES: seed,
      CACHE_NAMESPACE: namespace,
    };
    const run = startCluster(env);
    try {
      const [a, b] = await run.ready(120_000);
      expect(run.output()).toContain(
        `cluster: Redis Cluster: using ${seed} from REDIS_CLUSTER_NODES, not started by npm start`,
      );
      expect(run.output()).not.toMatch(/^\[redis/m);
      const http = createHttpClient({ maxSockets: 2, timeoutMs: 5000 });
      const written = await http.send('PUT', `${a}/users/7`, {
        name: 'On your cluster',
        email: 'c@example.com',
        age: 30,
      });
      expect(written.status).toBe(200);
      const version = (written.body as User).version;
      await waitFor(
        async () =>
          (await http.send('GET', `${b}/users/7`)).headers['x-version'] === String(version),
        { timeoutMs: 5000, what: 'the write served by the other instance' },
      );
      http.close();
      process.kill(-run.pid, 'SIGINT');
      expect((await run.exited).code, run.output()).toBe(0);

      const before = await namespaceKeys(namespace);
      expect(before.length).toBeGreaterThan(0);
      const reset = await runNodeScript('scripts/reset.ts', [], { timeoutMs: 30_000, env });
      expect(reset.code, reset.output).toBe(0);
      expect(reset.output).toContain(
        `reset: Redis: deleted ${before.length} key(s) under "${namespace}:" in the Redis Cluster of REDIS_CLUSTER_NODES (${seed}); no other key`,
      );
      expect(await namespaceKeys(namespace)).toEqual([]);
    } finally {
      run.killGroup('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('REDIS_CLUSTER=1 npm start', () => {
  it('runs a 3-master/3-replica cluster of its own, serves writes across instances, and Ctrl-C stops every node', async () => {
    // Two instances, the database, six nodes; the nodes' cluster bus ports (+10000) free too.
    let base = await freePortRange(9);
    for (let attempt = 0; attempt < 20; attempt++) {
      const bus = Array.from({ length: 6 }, (_, i) => base + 3 + i + 10_000);
      if (base + 8 <= 55_535 && (await Promise.all(bus.map(canBind))).every(Boolean)) break;
      base = await freePortRange(9);
    }
    const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-rc1-'));
    const redisPorts = Array.from({ length: 6 }, (_, i) => base + 3 + i);
    const env = {
      INSTANCES: '2',
      BASE_PORT: String(base),
      DB_PORT: String(base + 2),
      REDIS_PORT: String(base + 3),
      DB_DATA_DIR: dataDir,
      DB_LATENCY_MS: '0',
      SEED_USERS: '50',
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      REDIS_CLUSTER: '1',
    };
    const run = startCluster(env);
    try {
      const [a, b] = await run.ready(120_000);
      expect(run.output()).toContain(
        `cluster: Redis Cluster: starting six cluster-mode redis-server nodes (3 masters, 3 replicas) on 127.0.0.1:${redisPorts[0]}-${redisPorts[5]}`,
      );
      const node = createClient({ url: `redis://127.0.0.1:${redisPorts[0]}` });
      node.on('error', () => {});
      await node.connect();
      const info = String(await node.clusterInfo().finally(() => node.destroy()));
      expect(info).toMatch(/cluster_state:ok/);
      expect(info).toMatch(/cluster_size:3/);
      const http = createHttpClient({ maxSockets: 2, timeoutMs: 5000 });
      const written = await http.send('PUT', `${a}/users/9`, {
        name: 'On its own cluster',
        email: 'c@example.com',
        age: 31,
      });
      expect(written.status).toBe(200);
      const version = (written.body as User).version;
      await waitFor(
        async () =>
          (await http.send('GET', `${b}/users/9`)).headers['x-version'] === String(version),
        { timeoutMs: 5000, what: 'the write served by the other instance' },
      );
      http.close();
      process.kill(-run.pid, 'SIGINT');
      expect((await run.exited).code, run.output()).toBe(0);
      await waitFor(() => !run.groupAlive(), { timeoutMs: 10_000, what: 'every node to exit' });
    } finally {
      run.killGroup('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 240_000);
});

// Own Redis Cluster (not the shared one): it requires a password, which the shared one does not,
// and the watchdog's test, last, freezes one of its masters (its replica may take over).
describe('a Redis Cluster of its own', () => {
  const password = uniqueName('pw');
  let secured: TestRedisCluster;
  beforeAll(async () => {
    secured = await startRedisCluster({ password });
  }, 60_000);
  afterAll(async () => {
    await secured?.stop();
  });

  /** {@link baseEnv} on this cluster, with its password in `REDIS_URL`. */
  function securedEnv(namespace: string): Record<string, string> {
    return {
      ...baseEnv(namespace),
      REDIS_CLUSTER_NODES: secured.seeds.split(',')[0] ?? '',
      REDIS_URL: `redis://:${password}@127.0.0.1:1`,
    };
  }

  describe('that requires a password', () => {
    it("takes it from REDIS_URL's user:password@ (its host and port unused), and refuses a wrong one without naming it", async () => {
      const namespace = uniqueName('rca');
      const [a, b] = await startInstances(['rca-a', 'rca-b'], securedEnv(namespace));
      started.push(a, b);
      const http = createHttpClient({ maxSockets: 4, timeoutMs: 5000 });
      const id = `${namespace}-1`;
      expect((await http.send('GET', `${b?.url}/users/${id}`)).status).toBe(404);
      const created = await http.send('PUT', `${a?.url}/users/${id}`, {
        name: 'behind a password',
        email: 'p@example.com',
        age: 40,
      });
      expect(created.status).toBe(201);
      await waitFor(async () => (await http.send('GET', `${b?.url}/users/${id}`)).status === 200, {
        timeoutMs: 5000,
        what: 'the write served by the other instance',
      });
      http.close();

      const wrong = await runRefused({
        REDIS_CLUSTER_NODES: secured.seeds.split(',')[0] ?? '',
        REDIS_URL: 'redis://:not-the-password@127.0.0.1:1',
        STARTUP_TIMEOUT_MS: '2000',
      });
      expect(wrong.code, wrong.output).toBe(1);
      expect(wrong.output).toMatch(/WRONGPASS|NOAUTH|invalid username-password/i);
      expect(wrong.output).not.toContain('not-the-password');
    }, 120_000);
  });

  describe('the connection watchdog', () => {
    it('replaces the command and the shard subscriber connection to a master that falls silent', async () => {
      const namespace = uniqueName('rcw');
      const app = await startInstance({
        ...securedEnv(namespace),
        INSTANCE_NAME: 'rc-watchdog',
        REDIS_CLUSTER_NODES: secured.seeds,
      });
      started.push(app);
      const http = createHttpClient({ maxSockets: 2, timeoutMs: 5000 });
      // The instance uses a connection to every master: a read of a user on each.
      for (let id = 1; id <= 30; id++) await http.send('GET', `${app.url}/users/${id}`);
      // SIGSTOP: the node's socket stays open but nothing answers (no FIN, no RST).
      const master = await secured.masterOf(0);
      const node = secured.nodes.find(({ port }) => port === master);
      node?.process().kill('SIGSTOP');
      try {
        // Both of its connections to that node: commands, and the shard subscriber (every master
        // serves some of the 16 shard channels).
        for (const role of ['command', 'subscriber']) {
          await waitFor(
            () =>
              app
                .output()
                .includes(
                  `redis ${role} connection to 127.0.0.1:${master} replaced: no answer to PING`,
                ),
            // HEARTBEAT_INTERVAL_MS 100 + HEARTBEAT_TIMEOUT_MS 1000, and the time to notice.
            { timeoutMs: 5000, intervalMs: 50, what: `the ${role} connection replaced` },
          );
        }
      } finally {
        node?.process().kill('SIGCONT');
      }
      // The instance still answers once the node is back (or its replica took over).
      await waitFor(async () => (await http.send('GET', `${app.url}/readyz`)).status === 200, {
        timeoutMs: 15_000,
        what: 'the instance ready again',
      });
    }, 60_000);
  });
});
