import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type IncomingMessage, ServerResponse } from 'node:http';
import { waitFor } from '@cachelab/testkit';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { UserBody } from '../src/user-view.ts';
import { appFixture, send } from './fixture.ts';

type StatsBody = { cache: { loadsInFlight: number } };
type ErrorBody = { error: { code: string } };

/** A promise the test opens when it chooses. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

const ada = { name: 'Ada', email: 'ada@example.com', age: 36 };
const uniqueId = () => `u-${Math.random().toString(36).slice(2, 10)}`;

describe('users API', () => {
  it('serves a seeded user: MISS, then L1 here and L2 on another instance, with headers', async () => {
    const { base, instance, namespace } = await appFixture();
    const other = await appFixture('app-other', { namespace });
    const first = await fetch(`${base}/users/7`);
    expect(first.status).toBe(200);
    expect(first.headers.get('x-cache')).toBe('MISS');
    expect(first.headers.get('x-instance')).toBe(`${instance.name}/${instance.id}`);
    const body = (await first.json()) as UserBody;
    expect(Object.keys(body).sort()).toEqual([
      'age',
      'email',
      'id',
      'name',
      'updatedAt',
      'version',
    ]);
    expect(body).toMatchObject({ id: '7', name: 'User 7', email: 'user7@example.com' });
    expect(first.headers.get('x-version')).toBe(String(body.version));

    const second = await fetch(`${base}/users/7`);
    expect(second.headers.get('x-cache')).toBe('L1');
    expect(await second.json()).toEqual(body);
    const elsewhere = await fetch(`${other.base}/users/7`);
    expect(elsewhere.headers.get('x-cache')).toBe('L2');
    expect(await elsewhere.json()).toEqual(body);
  });

  it('answers an L1 hit with the same bytes and headers as a miss: JSON, UTF-8, exact length', async () => {
    const { base } = await appFixture();
    const id = uniqueId();
    await send(`${base}/users/${id}`, 'PUT', { ...ada, name: 'Zoë' });
    const miss = await fetch(`${base}/users/${id}`, { headers: { 'x-consistency': 'strict' } });
    const hits = [await fetch(`${base}/users/${id}`), await fetch(`${base}/users/${id}`)];
    const missBody = await miss.text();
    for (const hit of hits) {
      expect(hit.headers.get('x-cache')).toBe('L1');
      expect(hit.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(hit.headers.get('content-length')).toBe(String(Buffer.byteLength(missBody)));
      expect(await hit.text()).toBe(missBody);
    }
    expect(JSON.parse(missBody)).toMatchObject({ id, name: 'Zoë' });
    const head = await fetch(`${base}/users/${id}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('x-cache')).toBe('L1');
    expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(missBody)));
    expect(head.headers.get('etag')).toBe(hits[0]?.headers.get('etag'));
    expect(await head.text()).toBe('');
  });

  it('answers an L1 hit before Express exactly as the Express route does, and labels it alike', async () => {
    const { base, metrics } = await appFixture();
    const id = uniqueId();
    await send(`${base}/users/${id}`, 'PUT', ada);
    await fetch(`${base}/users/${id}`);
    await fetch(`${base}/users/no-${id}`);
    // `/users/<id>` is answered before Express; `/USERS/<id>` only the router takes (it ignores
    // case), so each request below is answered once by each path, from the same L1 entry.
    const shown = async (response: Response) => ({
      status: response.status,
      headers: [...response.headers].filter(([name]) => name !== 'date' && name !== 'x-request-id'),
      body: await response.text(),
    });
    // Express's app.handle gives every request and response its own prototypes: a response that
    // still has Node's was answered before Express.
    const beforeExpress: string[] = [];
    const heard = (message: unknown) => {
      const { request, response } = message as { request: IncomingMessage; response: object };
      if (Object.getPrototypeOf(response) === ServerResponse.prototype) {
        beforeExpress.push(`${request.method} ${request.url}`);
      }
    };
    subscribe('http.server.response.finish', heard);
    onTestFinished(() => void unsubscribe('http.server.response.finish', heard));
    const cases: [string, RequestInit][] = [
      [id, {}],
      [id, { method: 'HEAD' }],
      [id, { headers: { 'if-none-match': '"v1"' } }],
      [id, { headers: { 'x-min-version': '1' } }],
      [`no-${id}`, {}],
      [`no-${id}`, { method: 'HEAD' }],
    ];
    for (const [user, init] of cases) {
      const before = await shown(await fetch(`${base}/users/${user}`, init));
      const routed = await shown(await fetch(`${base}/USERS/${user}`, init));
      expect(before.headers).toContainEqual(['x-cache', 'L1']);
      expect(routed).toEqual(before);
    }
    expect(beforeExpress).toEqual(
      cases.map(([user, init]) => `${init.method ?? 'GET'} /users/${user}`),
    );
    const text = await metrics.registry.metrics();
    const l1 = (status: number) =>
      Number(
        text.match(
          new RegExp(
            `^cachelab_http_request_duration_seconds_count\\{method="GET",route="/users/:id",status="${status}",cache="L1"\\} (\\d+)$`,
            'm',
          ),
        )?.[1],
      );
    // The PUT filled L1: the first read, then two of each path.
    expect(l1(200)).toBe(5);
    expect(l1(304)).toBe(2);
    expect(l1(404)).toBe(2);
  });

  it('creates with PUT (201), replaces with PUT (200) and reads its own write at once', async () => {
    const { base } = await appFixture();
    const id = uniqueId();
    const created = await send(`${base}/users/${id}`, 'PUT', ada);
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id, ...ada, version: 1 });
    await fetch(`${base}/users/${id}`); // fills the cache

    const replaced = await send(`${base}/users/${id}`, 'PUT', { ...ada, name: 'Ada L.' });
    expect(replaced.status).toBe(200);
    expect(replaced.headers.get('x-version')).toBe('2');
    const read = await fetch(`${base}/users/${id}`);
    expect(read.headers.get('x-cache')).toBe('L1');
    expect(await read.json()).toMatchObject({ name: 'Ada L.', version: 2 });
  });

  it('creates with POST under a generated id and a Location header', async () => {
    const { base } = await appFixture();
    const response = await send(`${base}/users`, 'POST', ada);
    expect(response.status).toBe(201);
    const body = (await response.json()) as UserBody;
    expect(body.id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    expect(response.headers.get('location')).toBe(`/users/${body.id}`);
    expect((await fetch(`${base}/users/${body.id}`)).status).toBe(200);
  });

  it('deletes with 204, then answers 404, and a re-create gets a higher version', async () => {
    const { base } = await appFixture();
    const id = uniqueId();
    await send(`${base}/users/${id}`, 'PUT', ada);
    await fetch(`${base}/users/${id}`);
    expect((await fetch(`${base}/users/${id}`, { method: 'DELETE' })).status).toBe(204);
    const gone = await fetch(`${base}/users/${id}`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toEqual({
      error: { code: 'E_USER_NOT_FOUND', message: `no user ${id}` },
    });
    expect((await fetch(`${base}/users/${id}`, { method: 'DELETE' })).status).toBe(404);
    const again = await send(`${base}/users/${id}`, 'PUT', ada);
    expect(again.status).toBe(201);
    expect(((await again.json()) as UserBody).version).toBe(3);
  });

  it('caches a 404 briefly, and a create is visible at once despite it', async () => {
    const { base } = await appFixture();
    const id = uniqueId();
    expect((await fetch(`${base}/users/${id}`)).status).toBe(404);
    const cached = await fetch(`${base}/users/${id}`);
    expect(cached.status).toBe(404);
    expect(cached.headers.get('x-cache')).toBe('L1');
    await send(`${base}/users/${id}`, 'PUT', ada);
    expect((await fetch(`${base}/users/${id}`)).status).toBe(200);
  });

  it('reports readiness, health and counters', async () => {
    const { base } = await appFixture();
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'ok', database: 'ok' },
      l1: 'trusted',
      counts: { degradedReads: 0, redisErrors: 0, loadsShed: 0 },
    });
    await fetch(`${base}/users/1`);
    await fetch(`${base}/users/1`);
    const stats = (await (await fetch(`${base}/stats`)).json()) as {
      cache: Record<string, unknown>;
      database: { queries: number };
      memory: { rss: number; heapUsed: number };
    };
    expect(stats.cache).toMatchObject({ reads: 2, l1Hits: 1, misses: 1, hitRatio: 0.5 });
    expect(stats.database.queries).toBeGreaterThanOrEqual(1);
    expect(stats.memory.rss).toBeGreaterThan(stats.memory.heapUsed);
  });

  it('answers 503 E_OVERLOADED with Retry-After when maxConcurrentLoads loads are in flight', async () => {
    const held = gate();
    const { base } = await appFixture('app-test', {
      maxConcurrentLoads: 1,
      hooks: { beforeFill: () => held.opened },
    });
    const slow = fetch(`${base}/users/1`);
    await waitFor(async () => {
      const stats = (await (await fetch(`${base}/stats`)).json()) as StatsBody;
      return stats.cache.loadsInFlight === 1;
    });
    const shed = await fetch(`${base}/users/2`);
    expect(shed.status).toBe(503);
    expect(shed.headers.get('retry-after')).toBe('1');
    expect(((await shed.json()) as ErrorBody).error.code).toBe('E_OVERLOADED');
    held.open();
    expect((await slow).status).toBe(200);
    expect((await fetch(`${base}/users/2`)).status).toBe(200);
  });

  it('never answers older than X-Min-Version, on any instance', async () => {
    const { base, namespace } = await appFixture();
    const other = await appFixture('app-other', {
      namespace,
      heartbeatIntervalMs: 5000,
      heartbeatTimeoutMs: 10_000,
    });
    const id = uniqueId();
    await send(`${base}/users/${id}`, 'PUT', ada);
    await fetch(`${other.base}/users/${id}`);
    const written = await send(`${base}/users/${id}`, 'PUT', { ...ada, age: 37 });
    const token = written.headers.get('x-version') as string;
    const read = await fetch(`${other.base}/users/${id}`, { headers: { 'x-min-version': token } });
    expect(read.headers.get('x-version')).toBe(token);
    expect(((await read.json()) as UserBody).age).toBe(37);
  });

  it.each(['versioned', 'delete', 'ttl-only', 'none'] as const)(
    'answers a token above the database with 412 E_VERSION_UNAVAILABLE after one query (%s)',
    async (strategy) => {
      const { base, users } = await appFixture('app-test', { strategy });
      await fetch(`${base}/users/7`); // cached (where the strategy caches) at version 1
      const before = users.stats().queries;
      const read = await fetch(`${base}/users/7`, { headers: { 'x-min-version': '99' } });
      expect(read.status).toBe(412);
      expect(read.headers.get('x-version')).toBeNull();
      const body = (await read.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('E_VERSION_UNAVAILABLE');
      expect(body.error.message).toMatch(/version 1 .*X-Min-Version 99/);
      expect(users.stats().queries - before).toBe(1);
      const absent = await fetch(`${base}/users/nobody`, { headers: { 'x-min-version': '1' } });
      expect(absent.status).toBe(412);
    },
  );

  it('answers a strict read from L1 only when Redis confirms the version', async () => {
    const { base } = await appFixture();
    await fetch(`${base}/users/9`);
    const strict = await fetch(`${base}/users/9`, { headers: { 'x-consistency': 'strict' } });
    expect(strict.headers.get('x-cache')).toBe('L1');
    const stats = (await (await fetch(`${base}/stats`)).json()) as {
      cache: { strictConfirmed: number };
    };
    expect(stats.cache.strictConfirmed).toBe(1);
  });
});

describe('HTTP conditional requests', () => {
  const put = (base: string, id: string, body: unknown, headers: Record<string, string> = {}) =>
    send(`${base}/users/${id}`, 'PUT', body, headers);

  it('tags every user answer with ETag "v<version>" and answers a current If-None-Match with 304', async () => {
    const { base } = await appFixture();
    const id = uniqueId();
    const created = await put(base, id, ada);
    expect(created.headers.get('etag')).toBe('"v1"');
    for (const tier of ['L1', 'L1']) {
      const read = await fetch(`${base}/users/${id}`);
      expect(read.headers.get('etag')).toBe('"v1"');
      expect(read.headers.get('x-cache')).toBe(tier);
      const again = await fetch(`${base}/users/${id}`, { headers: { 'if-none-match': '"v1"' } });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe('"v1"');
      expect(await again.text()).toBe('');
    }
    const weak = await fetch(`${base}/users/${id}`, { headers: { 'if-none-match': 'W/"v1"' } });
    expect(weak.status).toBe(304);
    await put(base, id, { ...ada, age: 40 });
    const changed = await fetch(`${base}/users/${id}`, { headers: { 'if-none-match': '"v1"' } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).toBe('"v2"');
    expect(await changed.json()).toMatchObject({ age: 40, version: 2 });
  });

  it('writes with a matching If-Match, and answers 412 on another version without writing', async () => {
    const { base, users } = await appFixture();
    const id = uniqueId();
    await put(base, id, ada);
    const stale = await put(base, id, { ...ada, age: 50 }, { 'if-match': '"v9"' });
    expect(stale.status).toBe(412);
    expect(((await stale.json()) as ErrorBody).error.code).toBe('E_PRECONDITION_FAILED');
    expect(await users.get(id)).toMatchObject({ version: 1, age: ada.age });
    const fresh = await put(base, id, { ...ada, age: 50 }, { 'if-match': '"v1"' });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe('"v2"');
    // Strong comparison: a weak tag never matches; an absent user never matches.
    expect((await put(base, id, ada, { 'if-match': 'W/"v2"' })).status).toBe(412);
    expect((await put(base, uniqueId(), ada, { 'if-match': '*' })).status).toBe(412);
    const gone = await send(`${base}/users/${id}`, 'DELETE', undefined, { 'if-match': '"v1"' });
    expect(gone.status).toBe(412);
    const deleted = await send(`${base}/users/${id}`, 'DELETE', undefined, { 'if-match': '"v2"' });
    expect(deleted.status).toBe(204);
    expect((await fetch(`${base}/users/${id}`)).status).toBe(404);
  });

  it('loses no update: concurrent If-Match writes through two instances, exactly one wins', async () => {
    const a = await appFixture('app-a');
    const b = await appFixture('app-b', { namespace: a.namespace });
    const id = uniqueId();
    await put(a.base, id, ada);
    const answers = await Promise.all(
      [30, 31, 32, 33].map((age, i) =>
        put(i % 2 ? b.base : a.base, id, { ...ada, age }, { 'if-match': '"v1"' }),
      ),
    );
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412]);
    const winner = (await answers.find((r) => r.status === 200)?.json()) as UserBody;
    await waitFor(
      async () => {
        const reads = await Promise.all([a, b].map((i) => fetch(`${i.base}/users/${id}`)));
        const bodies = (await Promise.all(reads.map((r) => r.json()))) as UserBody[];
        return bodies.every((body) => body.version === 2 && body.age === winner.age);
      },
      { what: 'both instances to serve the one write that won' },
    );
  });

  it('answers a malformed If-Match or If-None-Match with 400 in the error shape, before any write', async () => {
    const { base, users } = await appFixture();
    const id = uniqueId();
    await put(base, id, ada);
    for (const [method, header] of [
      ['GET', 'if-none-match'],
      ['PUT', 'if-match'],
      ['DELETE', 'if-match'],
    ] as const) {
      const answer = await send(`${base}/users/${id}`, method, method === 'PUT' ? ada : undefined, {
        [header]: 'v1',
      });
      expect(answer.status).toBe(400);
      expect(((await answer.json()) as ErrorBody).error).toMatchObject({
        code: 'E_INVALID_HEADER',
        message: expect.stringContaining('entity tags'),
      });
    }
    expect(await users.get(id)).toMatchObject({ version: 1, deleted: false });
  });
});
