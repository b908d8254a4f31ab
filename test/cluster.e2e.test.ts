import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatsResponse } from '@cachelab/app';
import { waitFor } from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type ClusterProcess,
  freePortRange,
  isListening,
  startCluster,
} from './support/cluster.ts';

/** A user as the HTTP API returns it: `{ id, name, email, age, version, updatedAt }`. */
interface User {
  id: string;
  name: string;
  email: string;
  age: number;
  version: number | string;
  updatedAt: string;
}

/** The parts of a response the assertions look at. */
interface Reply {
  status: number;
  cache: string | null;
  instance: string | null;
  version: string | null;
  body: User;
}

const INSTANCES = 3;
const USER_FIELDS = ['age', 'email', 'id', 'name', 'updatedAt', 'version'];

let cluster: ClusterProcess | undefined;
let dataDir = '';
let urls: string[] = [];
let ports: number[] = [];

async function send(
  url: string,
  method = 'GET',
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  const text = await res.text();
  return {
    status: res.status,
    cache: res.headers.get('x-cache'),
    instance: res.headers.get('x-instance'),
    version: res.headers.get('x-version'),
    body: text ? JSON.parse(text) : undefined,
  };
}

/**
 * Asserts the user shape of the HTTP API (`id`, `name`, `email`, `age`, `version`, `updatedAt`) and
 * that `X-Version` labels the body's version.
 */
function expectUser(reply: Reply, status: number): User {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(Object.keys(reply.body).sort()).toEqual(USER_FIELDS);
  expect(reply.version).toBe(String(reply.body.version));
  return reply.body;
}

/** `promise`'s value, or `'timeout'` if it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, ms, 'timeout');
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function instanceUrl(n: number): string {
  const url = urls[n - 1];
  if (!url) throw new Error(`no instance ${n}`);
  return url;
}

describe('npm start (scripts/cluster.ts)', () => {
  beforeAll(async () => {
    const base = await freePortRange(INSTANCES + 1);
    ports = Array.from({ length: INSTANCES + 1 }, (_, i) => base + i);
    dataDir = await mkdtemp(join(tmpdir(), 'cachelab-cluster-'));
    cluster = startCluster({
      INSTANCES: String(INSTANCES),
      BASE_PORT: String(base),
      DB_PORT: String(base + INSTANCES),
      DB_DATA_DIR: dataDir,
      REDIS_URL: inject('redisUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      // Passed through to the instances: keys of earlier runs on a shared Redis stay out of sight.
      CACHE_NAMESPACE: `e2e-${process.pid}-${Date.now()}`,
    });
    urls = await cluster.ready(60_000);
  }, 90_000);

  afterAll(async () => {
    cluster?.killGroup('SIGKILL');
    if (cluster) await waitFor(() => !cluster?.groupAlive(), { timeoutMs: 5_000 });
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }, 30_000);

  it('prints one URL per instance on consecutive ports', () => {
    expect(urls).toEqual(ports.slice(0, INSTANCES).map((port) => `http://127.0.0.1:${port}`));
    expect(cluster?.output()).toContain(`curl -i ${instanceUrl(1)}/users/42`);
  });

  it('tells to run npm run reset with the settings that moved the cluster', () => {
    expect(cluster?.output()).toContain(
      '`npm run reset` with the same settings (INSTANCES, BASE_PORT, DB_PORT, DB_DATA_DIR, REDIS_URL, CACHE_NAMESPACE)',
    );
  });

  it('says that it uses the Redis of REDIS_URL and starts none of its own', () => {
    expect(cluster?.output()).toMatch(
      /^cluster: Redis: using \S+ from REDIS_URL, not started by npm start/m,
    );
    expect(cluster?.output()).not.toContain('[redis]');
  });

  it('runs the database and the instances as compiled JavaScript, without tsx', async () => {
    // Every process of the cluster's group (it leads one) but the cluster script itself.
    const commands: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid) || Number(pid) === cluster?.pid) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
      const group = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
      if (Number(group) !== cluster?.pid) continue;
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      commands.push(cmdline.split('\0').join(' ').trim());
    }
    const node = commands.filter((command) => /^(\S*\/)?node /.test(command));
    expect(node.map((command) => command.replace(/^\S+ /, '')).sort(), commands.join('\n')).toEqual(
      [
        ...Array.from({ length: INSTANCES }, () => 'packages/app/dist/main.js'),
        'packages/store/dist/server/main.js',
      ],
    );
  });

  it('serves a miss from one instance, then an L2 hit from another', async () => {
    const miss = await send(`${instanceUrl(1)}/users/7`);
    expect(expectUser(miss, 200).id).toBe('7');
    expect(miss.cache).toBe('MISS');

    const hit = await send(`${instanceUrl(2)}/users/7`);
    expect(expectUser(hit, 200)).toEqual(miss.body);
    expect(hit.cache).toBe('L2');
    expect(hit.instance).not.toBe(miss.instance);
  });

  it('shows a write made on one instance on every instance: at once with its token, soon without', async () => {
    for (const url of urls) expectUser(await send(`${url}/users/7`), 200); // every L1 holds user 7
    const before = expectUser(await send(`${instanceUrl(1)}/users/7`), 200);
    const input = { name: 'Grace Hopper', email: 'grace@example.com', age: 85 };
    const put = await send(`${instanceUrl(3)}/users/7`, 'PUT', input);
    const written = expectUser(put, 200);
    expect(written).toMatchObject({ id: '7', ...input });
    expect(Number(written.version)).toBeGreaterThan(Number(before.version));

    // With the version it wrote as a token, a client never reads older, on any instance.
    for (const url of urls) {
      const read = await send(`${url}/users/7`, 'GET', undefined, {
        'x-min-version': String(written.version),
      });
      expect(expectUser(read, 200)).toMatchObject({ name: input.name, version: written.version });
    }
    // Without it, every instance converges within the propagation bound (1 s stated here).
    for (const url of urls) {
      await waitFor(async () => (await send(`${url}/users/7`)).body.version === written.version, {
        timeoutMs: 1000,
        intervalMs: 5,
        what: `${url} to serve v${written.version}`,
      });
    }
    const instances = new Set(
      await Promise.all(urls.map(async (url) => (await send(`${url}/healthz`)).instance)),
    );
    expect(instances.size).toBe(3);
  });

  it('answers a token from the future with 412 on every instance, after one database query', async () => {
    for (const url of urls) expectUser(await send(`${url}/users/8`), 200); // in every L1 and Redis
    const queries = async (url: string) =>
      ((await send(`${url}/stats`)).body as unknown as StatsResponse).database.queries;
    for (const url of urls) {
      const before = await queries(url);
      const read = await send(`${url}/users/8`, 'GET', undefined, { 'x-min-version': '99' });
      expect(read.status, url).toBe(412);
      expect(read.version).toBeNull();
      expect(read.body).toMatchObject({ error: { code: 'E_VERSION_UNAVAILABLE' } });
      expect((await queries(url)) - before, url).toBe(1);
    }
  });

  it('creates, reads from another instance, then deletes everywhere', async () => {
    const input = { name: 'Ada Lovelace', email: 'ada@example.com', age: 36 };
    const created = expectUser(await send(`${instanceUrl(1)}/users`, 'POST', input), 201);
    expect(created).toMatchObject(input);
    expect(created.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);

    const read = await send(`${instanceUrl(2)}/users/${created.id}`);
    expect(expectUser(read, 200)).toEqual(created);

    const deleted = await fetch(`${instanceUrl(3)}/users/${created.id}`, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    for (const url of urls) {
      expect((await send(`${url}/users/${created.id}`)).status, url).toBe(404);
    }
  });

  it('stops every process it started on SIGINT', async () => {
    const running = cluster as ClusterProcess;
    process.kill(running.pid, 'SIGINT');
    const exit = await within(running.exited, 15_000);
    expect(exit, running.output()).toEqual({ code: 0, signal: null });

    for (const port of ports) {
      await waitFor(async () => !(await isListening(port)), {
        timeoutMs: 5_000,
        what: `port ${port} to close`,
      });
    }
    await waitFor(() => !running.groupAlive(), {
      timeoutMs: 5_000,
      what: 'the process group to be gone',
    });
  }, 30_000);
});
