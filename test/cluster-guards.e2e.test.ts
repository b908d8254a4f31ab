import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkReadiness } from '@cachelab/lab/cluster/readiness.ts';
import { runFilePath } from '@cachelab/lab/cluster/run-file.ts';
import { freePort, runNodeScript, startRedisServer, waitFor } from '@cachelab/testkit';
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ClusterProcess,
  freePortRange,
  isListening,
  startCluster,
} from './support/cluster.ts';
import { runLabCommand } from './support/lab.ts';

// npm start never reports another process's cluster as its own, never shares a data directory,
// runs its own Redis unless told otherwise, and npm run reset starts clean.

const STACK_LINE = /^\s+at .+:\d+:\d+\)?$/m;
const started: ClusterProcess[] = [];
const tempDirs: string[] = [];

/** The environment of a small cluster on ports of its own, over a fresh data directory. */
async function clusterEnv(instances = 2): Promise<Record<string, string>> {
  const base = await freePortRange(instances + 2);
  const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-guards-'));
  tempDirs.push(dataDir);
  return {
    INSTANCES: String(instances),
    BASE_PORT: String(base),
    DB_PORT: String(base + instances),
    REDIS_PORT: String(base + instances + 1),
    DB_DATA_DIR: dataDir,
    DB_LATENCY_MS: '0',
    SEED_USERS: '50',
    REDIS_URL: '',
  };
}

function launch(env: Record<string, string>): ClusterProcess {
  const cluster = startCluster(env);
  started.push(cluster);
  return cluster;
}

/** Stops `cluster` as Ctrl-C does and waits until its processes and ports are gone. */
async function stop(cluster: ClusterProcess, env: Record<string, string>): Promise<void> {
  process.kill(-cluster.pid, 'SIGINT');
  expect(await cluster.exited, cluster.output()).toEqual({ code: 0, signal: null });
  await waitFor(() => !cluster.groupAlive(), { timeoutMs: 10_000, what: 'the cluster to exit' });
  for (const port of [env.BASE_PORT, env.DB_PORT, env.REDIS_PORT].map(Number)) {
    expect(await isListening(port), `port ${port} after stop`).toBe(false);
  }
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

async function send(url: string, method = 'GET', body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

afterAll(async () => {
  for (const cluster of started) cluster.killGroup('SIGKILL');
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('npm start, before it starts anything', () => {
  let blocker: Server | undefined;
  afterEach(() => {
    blocker?.close();
    blocker = undefined;
  });

  it.each([
    ['an instance port', 'BASE_PORT', (env: Record<string, string>) => Number(env.BASE_PORT) + 1],
    ['the database port', 'DB_PORT', (env: Record<string, string>) => Number(env.DB_PORT)],
    ['its Redis port', 'REDIS_PORT', (env: Record<string, string>) => Number(env.REDIS_PORT)],
  ])(
    'refuses %s that is taken with one line naming the port and %s, and no stack trace',
    async (_, setting, portOf) => {
      const env = await clusterEnv();
      const port = portOf(env);
      blocker = await listen(port);
      const cluster = launch(env);
      const exit = await cluster.exited;
      const output = cluster.output();
      expect(exit.code, output).toBe(1);
      expect(output).toMatch(
        new RegExp(`^cluster: port ${port} \\(.+\\) is already in use: .*set ${setting}`, 'm'),
      );
      expect(output).not.toMatch(STACK_LINE);
      // Nothing was started: no other port of the cluster listens, no data directory was made.
      for (const other of [env.BASE_PORT, env.DB_PORT, env.REDIS_PORT].map(Number)) {
        if (other !== port) expect(await isListening(other), `port ${other}`).toBe(false);
      }
      expect(existsSync(join(env.DB_DATA_DIR as string, 'PG_VERSION'))).toBe(false);
    },
    30_000,
  );

  it('says exactly what to install when redis-server is not on PATH and REDIS_URL is unset', async () => {
    const env = await clusterEnv();
    const emptyBin = await mkdtemp(join(tmpdir(), 'cachelab-nobin-'));
    tempDirs.push(emptyBin);
    const cluster = launch({ ...env, PATH: emptyBin });
    expect((await cluster.exited).code).toBe(1);
    const output = cluster.output();
    expect(output).toContain('redis-server (Redis 7 or later) is not on PATH');
    expect(output).toContain('sudo apt-get install redis-server');
    expect(output).toContain('brew install redis');
    expect(output).toContain('REDIS_URL');
    expect(output).not.toMatch(STACK_LINE);
  }, 30_000);
});

describe('a process of the cluster started on a taken port (a race the preflight cannot close)', () => {
  it('the embedded database says which port and DB_PORT, in one line', async () => {
    const port = await freePort();
    const blocker = await listen(port);
    const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-guards-'));
    tempDirs.push(dataDir);
    try {
      const run = await runNodeScript('packages/store/src/server/main.ts', [], {
        timeoutMs: 30_000,
        env: { DB_PORT: String(port), DB_DATA_DIR: dataDir },
      });
      expect(run.code, run.output).toBe(1);
      expect(run.output.trim()).toBe(
        `database: port ${port} (DB_PORT) on 127.0.0.1 is already in use: stop what listens there, or set DB_PORT to a free port`,
      );
      // The lock was released: the directory can be served at once.
      expect(existsSync(join(dataDir, 'cachelab-db.lock'))).toBe(false);
    } finally {
      blocker.close();
    }
  }, 40_000);

  it('an instance says which port and PORT, in one line', async () => {
    const port = await freePort();
    const blocker = await listen(port);
    try {
      const run = await runNodeScript('packages/app/src/main.ts', [], {
        timeoutMs: 30_000,
        env: {
          PORT: String(port),
          REDIS_URL: inject('redisUrl'),
          DATABASE_URL: inject('databaseUrl'),
          CACHE_NAMESPACE: `guards-${process.pid}`,
          SEED_USERS: '0',
        },
      });
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain(`port ${port} (PORT) on 127.0.0.1 is already in use`);
      expect(run.output).not.toMatch(STACK_LINE);
    } finally {
      blocker.close();
    }
  }, 40_000);
});

describe('readiness', () => {
  it('tells an instance of this run from another cluster and from something else', async () => {
    const answers: Record<string, string> = {
      '/ours': '{"status":"ready","run":"run-a"}',
      '/theirs': '{"status":"ready","run":"run-b"}',
      '/old': '{"status":"ready"}',
      '/html': '<html></html>',
    };
    const server = createHttpServer((req, res) => {
      const path = (req.url ?? '').replace(/\/readyz$/, '');
      res.writeHead(200).end(answers[path] ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    try {
      expect(await checkReadiness(url('/ours'), 'run-a')).toEqual({ state: 'ready' });
      expect(await checkReadiness(url('/theirs'), 'run-a')).toMatchObject({
        state: 'foreign',
        detail: expect.stringContaining('run run-b'),
      });
      expect(await checkReadiness(url('/old'), 'run-a')).toMatchObject({ state: 'foreign' });
      expect(await checkReadiness(url('/html'), 'run-a')).toMatchObject({ state: 'foreign' });
      expect(await checkReadiness(`http://127.0.0.1:${await freePort()}`, 'run-a')).toEqual({
        state: 'pending',
      });
    } finally {
      server.close();
    }
  });
});

describe('readiness of npm start', () => {
  it('waits for an instance that answers ready but does not trust its L1 yet', async () => {
    const answers: Record<string, string> = {
      '/untrusted': '{"status":"ready","run":"run-a","l1":"untrusted"}',
      '/trusted': '{"status":"ready","run":"run-a","l1":"trusted"}',
      '/none': '{"status":"ready","run":"run-a","l1":"none"}',
    };
    const server = createHttpServer((req, res) => {
      res.writeHead(200).end(answers[(req.url ?? '').replace(/\/readyz$/, '')] ?? '');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const url = (path: string) => `http://127.0.0.1:${port}${path}`;
    const strict = { requireTrustedL1: true };
    try {
      expect(await checkReadiness(url('/untrusted'), 'run-a', strict)).toEqual({
        state: 'pending',
      });
      expect(await checkReadiness(url('/trusted'), 'run-a', strict)).toEqual({ state: 'ready' });
      expect(await checkReadiness(url('/none'), 'run-a', strict)).toEqual({ state: 'ready' });
      // The lab's own checks take an instance as it is.
      expect(await checkReadiness(url('/untrusted'), 'run-a')).toEqual({ state: 'ready' });
    } finally {
      server.close();
    }
  });
});

describe('a cluster with its own Redis and data directory', () => {
  let env: Record<string, string>;
  let cluster: ClusterProcess;
  let urls: string[] = [];
  let written = 0;

  beforeAll(async () => {
    env = await clusterEnv();
    cluster = launch(env);
    urls = await cluster.ready(90_000);
  }, 120_000);

  it('runs redis-server from config/redis.conf on REDIS_PORT, says so, and reports its run on /readyz', async () => {
    expect(cluster.output()).toContain(
      `cluster: Redis: starting redis-server with config/redis.conf on 127.0.0.1:${env.REDIS_PORT}`,
    );
    const redis = createClient({ url: `redis://127.0.0.1:${env.REDIS_PORT}` });
    await redis.connect();
    try {
      expect(await redis.configGet('maxmemory-policy')).toEqual({
        'maxmemory-policy': 'allkeys-lru',
      });
      expect(await redis.configGet('maxmemory')).toEqual({ maxmemory: String(256 * 1024 ** 2) });
      const read = await send(`${urls[0]}/users/7`);
      expect(read.status).toBe(200);
      expect(await redis.exists('cl:{user:7}:ver')).toBe(1);
    } finally {
      redis.destroy();
    }
    const ready = await send(`${urls[0]}/readyz`);
    expect(ready.body.run).toMatch(/^[A-Za-z0-9_-]{8,}$/);
    expect((await send(`${urls[1]}/readyz`)).body.run).toBe(ready.body.run);
  });

  it('refuses a second cluster on the same data directory, naming DB_DATA_DIR, and loses no acknowledged write', async () => {
    const put = await send(`${urls[0]}/users/7`, 'PUT', {
      name: 'First Cluster',
      email: 'first@example.com',
      age: 40,
    });
    expect(put.status).toBe(200);
    written = Number(put.body.version);

    // The recipe for moving ports, without moving the data directory.
    const other = await clusterEnv();
    const second = launch({ ...other, DB_DATA_DIR: env.DB_DATA_DIR as string });
    expect((await second.exited).code, second.output()).toBe(1);
    expect(second.output()).toMatch(
      new RegExp(
        `^cluster: DB_DATA_DIR ${env.DB_DATA_DIR} is in use by process \\d+.*set DB_DATA_DIR`,
        'm',
      ),
    );
    expect(second.output()).not.toMatch(STACK_LINE);
    expect(await isListening(Number(other.BASE_PORT))).toBe(false);

    // The embedded database alone is refused the same way.
    const db = await runNodeScript('packages/store/src/server/main.ts', [], {
      timeoutMs: 30_000,
      env: { DB_PORT: String(await freePort()), DB_DATA_DIR: env.DB_DATA_DIR as string },
    });
    expect(db.code, db.output).toBe(1);
    expect(db.output).toMatch(/^database: DB_DATA_DIR .* is in use by process \d+/m);

    // And the same ports are refused before the data directory is even looked at.
    const samePorts = launch({ ...env, DB_DATA_DIR: other.DB_DATA_DIR as string });
    expect((await samePorts.exited).code).toBe(1);
    expect(samePorts.output()).toMatch(
      new RegExp(`^cluster: port ${env.BASE_PORT} \\(app-1\\)`, 'm'),
    );
  }, 60_000);

  it("records its run, so that the documented npm run consistency and npm run stats find this checkout's cluster from BASE_PORT and INSTANCES", async () => {
    const run = JSON.parse(readFileSync(runFilePath(Number(env.BASE_PORT)), 'utf8'));
    expect(run).toMatchObject({ urls, redisUrl: `redis://127.0.0.1:${env.REDIS_PORT}` });
    expect((await send(`${urls[0]}/readyz`)).body.run).toBe(run.runId);
    const scriptEnv = { BASE_PORT: env.BASE_PORT as string, INSTANCES: env.INSTANCES as string };
    const out = await mkdtemp(join(tmpdir(), 'cachelab-lab-out-'));
    tempDirs.push(out);

    const lab = await runLabCommand(
      'consistency',
      ['write-then-read', '--iterations', '3', '--out', out],
      { timeoutMs: 60_000, env: scriptEnv },
    );
    expect(lab.code, lab.output).toBe(0);
    const stats = await runLabCommand('stats', ['--once'], {
      timeoutMs: 30_000,
      env: scriptEnv,
    });
    expect(stats.code, stats.output).toBe(0);
    expect(stats.output).toMatch(/^app-1\/\S+\s+up\s/m);
    expect(stats.output).toMatch(/^app-2\/\S+\s+up\s/m);
  }, 90_000);

  it('the scripts refuse, in one line and without a request, ports where no cluster of this checkout runs', async () => {
    // app-2 of this cluster stands for another checkout's instance on BASE_PORT+1: first with no
    // run file of this checkout there, then with one of an earlier run (another token).
    const base = Number(env.BASE_PORT) + 1;
    const scriptEnv = { BASE_PORT: String(base), INSTANCES: '1' };
    const before = await send(`${urls[1]}/stats`);
    const refused = `no cluster of this checkout runs on ${base} (`;
    const hint = 'start one with `npm start` (BASE_PORT, INSTANCES as there) or pass --urls';
    const file = runFilePath(base);
    try {
      for (const why of [
        `no .data/run-${base}.json`,
        `${urls[1]}: an instance of another cluster answers there (run `,
      ]) {
        for (const [script, args, name] of [
          ['consistency', ['write-then-read', '--iterations', '50'], 'consistency'],
          ['consistency', ['history', '--duration', '2s'], 'consistency'],
          ['stats', ['--once'], 'stats'],
        ] as const) {
          const out = await runLabCommand(script, [...args], { timeoutMs: 30_000, env: scriptEnv });
          expect(out.code, out.output).toBe(1);
          expect(out.output.trim().split('\n'), out.output).toHaveLength(1);
          expect(out.output).toContain(`${name}: ${refused}${why}`);
          expect(out.output).toContain(hint);
        }
        writeFileSync(
          file,
          JSON.stringify({ runId: 'an-earlier-run', urls: [urls[1]], redisUrl: '', pid: 1 }),
        );
      }
    } finally {
      rmSync(file, { force: true });
    }
    // Nothing was written through the other cluster's instance.
    const after = await send(`${urls[1]}/stats`);
    expect(after.body.http).toEqual(before.body.http);
  }, 120_000);

  it('refuses npm run reset while it runs', async () => {
    const reset = await runNodeScript('scripts/reset.ts', [], { timeoutMs: 30_000, env });
    expect(reset.code, reset.output).toBe(1);
    expect(reset.output).toMatch(
      /^reset: DB_DATA_DIR .* is in use by process \d+.*stop the cluster first/m,
    );
  });

  it('keeps the write across a restart, and npm run reset starts the next run from version 1', async () => {
    await stop(cluster, env);
    expect(existsSync(runFilePath(Number(env.BASE_PORT))), 'the run file after stop').toBe(false);
    expect(cluster.output()).not.toContain('database connection error');
    // Neither the first start nor Ctrl-C looks like a fault.
    expect(cluster.output()).not.toMatch(/"level":"(warn|error|fatal)"/);
    expect(cluster.output()).not.toContain('ECONNREFUSED');

    const again = launch(env);
    const [first] = await again.ready(90_000);
    const kept = await send(`${first}/users/7`);
    expect(kept.body).toMatchObject({ name: 'First Cluster', version: written });
    await stop(again, env);

    const reset = await runNodeScript('scripts/reset.ts', [], { timeoutMs: 30_000, env });
    expect(reset.code, reset.output).toBe(0);
    expect(reset.output).toContain('reset: Redis: nothing to delete');
    expect(reset.output).toMatch(/^reset: database: deleted DB_DATA_DIR/m);
    expect(existsSync(env.DB_DATA_DIR as string)).toBe(false);

    const fresh = launch(env);
    const [url] = await fresh.ready(90_000);
    expect((await send(`${url}/users/7`)).body).toMatchObject({ name: 'User 7', version: 1 });
    await stop(fresh, env);
  }, 240_000);
});

describe('npm run reset beside a cluster on other ports', () => {
  it("refuses while a redis-server answers on REDIS_PORT, and deletes none of that cluster's keys", async () => {
    // Another cluster runs with its own BASE_PORT and DB_DATA_DIR but this REDIS_PORT: its
    // instances and database are not where reset looks, its Redis is.
    const env = await clusterEnv();
    const server = await startRedisServer({ port: Number(env.REDIS_PORT) });
    const redis = createClient({ url: server.url });
    await redis.connect();
    try {
      await redis.set('cl:{user:1}:ver', '3');
      const reset = await runNodeScript('scripts/reset.ts', [], { timeoutMs: 30_000, env });
      expect(reset.code, reset.output).toBe(1);
      expect(reset.output.trim()).toBe(
        `reset: something listens on port ${env.REDIS_PORT} (REDIS_PORT), the port of npm start's own redis-server: a cluster still runs there; stop it first (Ctrl-C where npm start runs)`,
      );
      expect(await redis.get('cl:{user:1}:ver')).toBe('3');
    } finally {
      redis.destroy();
      await server.stop();
    }
  }, 60_000);
});

describe('npm run reset with a Redis of its own (REDIS_URL)', () => {
  it('deletes the namespace keys only, and no data directory but a database one', async () => {
    const env = await clusterEnv();
    const port = await freePort();
    const server = await startRedisServer({ port });
    const redis = createClient({ url: server.url });
    await redis.connect();
    try {
      await redis.set('cl:{user:1}:ver', '3');
      await redis.set('cl:{user:2}:v:1', 'x');
      await redis.set('other:{user:1}:ver', '1');
      await redis.set('unrelated', 'keep');
      const notADatabase = await mkdtemp(join(tmpdir(), 'cachelab-notdb-'));
      tempDirs.push(notADatabase);
      await writeFile(join(notADatabase, 'notes.txt'), 'mine');

      const guarded = await runNodeScript('scripts/reset.ts', [], {
        timeoutMs: 30_000,
        env: { ...env, REDIS_URL: server.url, DB_DATA_DIR: notADatabase },
      });
      expect(guarded.code).toBe(1);
      expect(guarded.output).toContain('does not look like a database directory');
      expect(existsSync(join(notADatabase, 'notes.txt'))).toBe(true);

      const reset = await runNodeScript('scripts/reset.ts', [], {
        timeoutMs: 30_000,
        env: { ...env, REDIS_URL: server.url },
      });
      expect(reset.code, reset.output).toBe(0);
      expect(reset.output).toContain('deleted 2 key(s) under "cl:"');
      expect((await redis.keys('*')).sort()).toEqual(['other:{user:1}:ver', 'unrelated']);
    } finally {
      redis.destroy();
      await server.stop();
    }
  }, 60_000);
});
