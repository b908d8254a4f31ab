import { randomBytes } from 'node:crypto';
import { createRandom, type Random } from '@cachelab/lab/lab/random.ts';
import {
  type InstanceProcess,
  startDatabaseServer,
  startInstance,
  type TestDatabaseServer,
  uniqueName,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpRequest, type RawResponse, rawRequest } from './support/raw-http.ts';

const REQUESTS = 3000;
const CONCURRENCY = 16;
const seed = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

const ada = { name: 'Ada', email: 'ada@example.com', age: 36 };
const JSON_TYPE: [string, string] = ['Content-Type', 'application/json'];

let database: TestDatabaseServer;
let instance: InstanceProcess;
let port = 0;
beforeAll(async () => {
  // Its own database: the fuzz creates and deletes users such as `__proto__` that other tests
  // expect to be absent.
  database = await startDatabaseServer();
  instance = await startInstance({
    REDIS_URL: inject('redisUrl'),
    DATABASE_URL: database.url,
    DB_LATENCY_MS: '0',
    SEED_USERS: '100',
    CACHE_NAMESPACE: uniqueName('fz'),
  });
  port = Number(new URL(instance.url).port);
});
afterAll(async () => {
  if (instance?.child.exitCode === null) instance.child.kill('SIGKILL');
  await database?.stop();
});

/** Characters that ids must not contain, and some that break naive parsers. */
const ODD = [':', '*', '?', '[', ']', '{', '}', '%', '.', '..', '/', '\\', '~', '"', "'", '<', '>'];
const ODD_IDS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', '%00', '%E0%A4%A'];

function oddId(random: Random): string {
  switch (random.int(5)) {
    case 0:
      return random.pick(ODD_IDS);
    case 1:
      return 'x'.repeat(random.pick([65, 1000, 10_000]));
    case 2:
      return `a${random.pick(ODD)}b`;
    case 3:
      return encodeURIComponent(
        `${random.pick(ODD)}${random.pick(['é', '\u0000', ' ', '\u202e'])}`,
      );
    default:
      return Array.from({ length: 1 + random.int(20) }, () => random.pick(ODD)).join('');
  }
}

function oddQuery(random: Random): string {
  return random.pick([
    '?x=1&x=2',
    '?__proto__[a]=1&constructor=2',
    '?a[b][c]=1',
    `?${Array.from({ length: 1000 }, (_, i) => `p${i}=${i}`).join('&')}`,
    '?%E0%A4%A=1',
    '?=',
  ]);
}

function wrongBody(random: Random): string {
  return JSON.stringify(
    random.pick<unknown>([
      { ...ada, name: 42 },
      { ...ada, age: '36' },
      { ...ada, age: 1e308 },
      { ...ada, age: -1 },
      { ...ada, email: ['a@b.c'] },
      { ...ada, extra: true },
      { name: 'only' },
      [ada],
      'a string',
      null,
      42,
      {},
    ]),
  );
}

function invalidJson(random: Random): string {
  return random.pick([
    '{"name": "Ada",',
    '{name: "Ada"}',
    "{'name':'Ada'}",
    '{"__proto__":{"polluted":1},"name":"Ada","email":"a@b.c","age":1}',
    `${'['.repeat(5000)}${']'.repeat(5000)}`,
    '\u0000\u0001\u0002',
    'NaN',
    '',
  ]);
}

/** One malformed request, drawn from the categories the issue lists. */
function malformed(random: Random): { kind: string; bytes: Buffer } {
  const id = () => oddId(random);
  switch (random.int(10)) {
    case 0:
      return {
        kind: 'odd id',
        bytes: httpRequest(random.pick(['GET', 'DELETE']), `/users/${id()}`),
      };
    case 1:
      return {
        kind: 'odd id',
        bytes: httpRequest('PUT', `/users/${id()}`, {
          headers: [JSON_TYPE],
          body: JSON.stringify(ada),
        }),
      };
    case 2:
      return { kind: 'query', bytes: httpRequest('GET', `/users/1${oddQuery(random)}`) };
    case 3: {
      const [method, path] = random.pick([
        ['PUT', '/users/fz'],
        ['POST', '/users'],
      ]) as [string, string];
      return {
        kind: 'invalid JSON',
        bytes: httpRequest(method, path, { headers: [JSON_TYPE], body: invalidJson(random) }),
      };
    }
    case 4:
      return {
        kind: 'wrong types',
        bytes: httpRequest('PUT', '/users/fz-types', {
          headers: [JSON_TYPE],
          body: wrongBody(random),
        }),
      };
    case 5: {
      const type = random.pick([
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/json; charset=utf-7',
        'application/xml',
      ]);
      const headers: [string, string][] = [['Content-Type', type]];
      if (random.int(4) === 0) headers.push(['Content-Encoding', random.pick(['gzip', 'x-foo'])]);
      return {
        kind: 'content type',
        bytes: httpRequest('PUT', '/users/fz-type', { headers, body: JSON.stringify(ada) }),
      };
    }
    case 6: {
      const header = random.pick(['X-Min-Version', 'X-Consistency']);
      const value = random.pick(['-1', '1e3', 'abc', '99999999999999999999', 'strict', '']);
      return {
        kind: 'headers',
        bytes: httpRequest('GET', '/users/1', {
          headers: [
            [header, value],
            [header, value],
          ],
        }),
      };
    }
    case 7: {
      const method = random.pick(['PATCH', 'OPTIONS', 'TRACE', 'FOO', 'CONNECT']);
      // Node's HTTP server hands CONNECT to the instance's 'connect' listener, not to Express.
      const kind = method === 'CONNECT' ? 'CONNECT' : 'method';
      return { kind, bytes: httpRequest(method, '/users/1') };
    }
    case 8:
      return { kind: 'random bytes', bytes: randomBytes(1 + random.int(2048)) };
    default:
      return {
        kind: 'random path',
        bytes: httpRequest('GET', `/${randomBytes(1 + random.int(64)).toString('latin1')}`),
      };
  }
}

/** Big bodies, sent a few times each (10 MB ones are slow to build and send). */
function bigBody(size: number): Buffer {
  return httpRequest('PUT', '/users/fz-big', {
    headers: [JSON_TYPE],
    body: JSON.stringify({ ...ada, name: 'n'.repeat(size) }),
  });
}

/**
 * Whether an error answered by the app carries `{error: {code, message}}`. Requests that Node's
 * HTTP parser refuses before the app sees them (no `X-Instance` header) get a bare 400.
 */
function hasErrorShape(response: RawResponse): boolean {
  const [head = '', body = ''] = response.text.split('\r\n\r\n', 2);
  if (!/^x-instance:/im.test(head)) return /^HTTP\/1\.1 400 /.test(head);
  try {
    const { error } = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    return typeof error?.code === 'string' && typeof error.message === 'string';
  } catch {
    return false;
  }
}

describe('a running instance under malformed requests', () => {
  it(`answers ${REQUESTS} of them without a 5xx and keeps serving (seed printed)`, async () => {
    console.log(`fuzz seed ${seed} (FUZZ_SEED=${seed} to replay)`);
    const random = createRandom(seed);
    const requests = Array.from({ length: REQUESTS }, () => malformed(random));
    for (let i = 0; i < 5; i++) requests.push({ kind: '1 MB body', bytes: bigBody(1024 * 1024) });
    for (let i = 0; i < 2; i++)
      requests.push({ kind: '10 MB body', bytes: bigBody(10 * 1024 ** 2) });

    const byStatus = new Map<string, number>();
    const byKind = new Map<string, number>();
    const fiveHundreds: { kind: string; response: RawResponse }[] = [];
    const misshapen: string[] = [];
    let next = 0;
    async function worker(): Promise<void> {
      for (let item = requests[next++]; item; item = requests[next++]) {
        // Random bytes may look like the start of a request: the FIN says there is no more.
        const response = await rawRequest(port, item.bytes, {
          halfClose: item.kind === 'random bytes',
        });
        const status = response.status === null ? 'none' : String(response.status);
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        const kindStatus = `${item.kind} ${status}`;
        byKind.set(kindStatus, (byKind.get(kindStatus) ?? 0) + 1);
        if ((response.status ?? 0) >= 500) fiveHundreds.push({ kind: item.kind, response });
        if ((response.status ?? 0) >= 400 && !hasErrorShape(response)) misshapen.push(item.kind);
      }
    }
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const counts = Object.fromEntries([...byStatus].sort());
    console.log(
      `fuzz: ${requests.length} requests in ${Date.now() - started} ms, by status ${JSON.stringify(counts)}`,
    );
    console.log(
      `fuzz by kind and status: ${JSON.stringify(Object.fromEntries([...byKind].sort()))}`,
    );

    expect(
      fiveHundreds.map(({ kind, response }) => `${kind}: ${response.text.slice(0, 200)}`),
    ).toEqual([]);
    expect(misshapen).toEqual([]);
    // Every request got an answer, CONNECT included.
    const unanswered = [...byKind].filter(([key]) => key.endsWith(' none'));
    expect(unanswered).toEqual([]);
    expect(instance.child.exitCode).toBeNull();
    expect((await fetch(`${instance.url}/healthz`)).status).toBe(200);
    expect(instance.output()).not.toMatch(/unhandled|unexpected error|uncaught/i);

    // A normal write-then-read still works.
    const id = uniqueName('fz-ok');
    const put = await fetch(`${instance.url}/users/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ada),
    });
    expect(put.status).toBe(201);
    const written = (await put.json()) as { version: number };
    const read = await fetch(`${instance.url}/users/${id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ ...ada, id, version: written.version });
  });
});
