import { describe, expect, it } from 'vitest';
import { appFixture, send } from './fixture.ts';

const ada = { name: 'Ada', email: 'ada@example.com', age: 36 };

/** Expects a 4xx JSON error with the given status and code. */
async function expectError(response: Response, status: number, code: string): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = JSON.parse(text);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

describe('bad input gets a 4xx JSON error and never a 500', () => {
  it.each([
    ['a colon', 'a:b'],
    ['a star', 'a*'],
    ['brackets', '%5Bx%5D'],
    ['a question mark', 'a%3F'],
    ['braces', '%7Bx%7D'],
    ['a dot', 'a.b'],
    ['a space', 'a%20b'],
    ['an encoded slash', 'a%2Fb'],
    ['65 characters', 'x'.repeat(65)],
    ['10,000 characters', 'x'.repeat(10_000)],
    ['__proto__ is fine as an id but not found', null],
  ])('rejects an id with %s', async (_what, id) => {
    const { base } = await appFixture();
    if (id === null) {
      await expectError(await fetch(`${base}/users/__proto__`), 404, 'E_USER_NOT_FOUND');
      return;
    }
    await expectError(await fetch(`${base}/users/${id}`), 400, 'E_INVALID_ID');
    await expectError(await send(`${base}/users/${id}`, 'PUT', ada), 400, 'E_INVALID_ID');
    await expectError(
      await fetch(`${base}/users/${id}`, { method: 'DELETE' }),
      400,
      'E_INVALID_ID',
    );
  });

  it('rejects a malformed percent-encoding in the path', async () => {
    const { base } = await appFixture();
    await expectError(await fetch(`${base}/users/%E0%A4%A`), 400, 'E_BAD_REQUEST');
  });

  it.each([
    ['a missing field', { name: 'Ada', email: 'ada@example.com' }],
    ['an unknown field', { ...ada, admin: true }],
    ['a __proto__ key', '{"name":"Ada","email":"ada@example.com","age":36,"__proto__":{"x":1}}'],
    ['a constructor key', { ...ada, constructor: 'x' }],
    ['a numeric name', { ...ada, name: 42 }],
    ['an empty name', { ...ada, name: '   ' }],
    ['a 101-character name', { ...ada, name: 'n'.repeat(101) }],
    ['a bad email', { ...ada, email: 'not-an-email' }],
    ['a string age', { ...ada, age: '36' }],
    ['a fractional age', { ...ada, age: 36.5 }],
    ['a negative age', { ...ada, age: -1 }],
    ['an absurd age', { ...ada, age: 1e308 }],
    ['an array', [ada]],
    ['a NUL character in the name', { ...ada, name: 'Ad\u0000a' }],
    ['a lone surrogate in the name', '{"name":"Ad\\ud800a","email":"ada@example.com","age":36}'],
    ['a NUL character in the email', { ...ada, email: 'ada\u0000@example.com' }],
  ])('rejects a body with %s (E_INVALID_BODY)', async (_what, body) => {
    const { base } = await appFixture();
    await expectError(await send(`${base}/users/bad-body`, 'PUT', body), 400, 'E_INVALID_BODY');
    await expectError(await send(`${base}/users`, 'POST', body), 400, 'E_INVALID_BODY');
    await expectError(await fetch(`${base}/users/bad-body`), 404, 'E_USER_NOT_FOUND');
  });

  it.each([
    ['invalid JSON', '{"name": "Ada",'],
    ['a bare word', 'Ada'],
    ['nothing but spaces', '  '],
  ])('rejects %s (E_INVALID_JSON)', async (_what, raw) => {
    const { base } = await appFixture();
    await expectError(await send(`${base}/users/x`, 'PUT', raw), 400, 'E_INVALID_JSON');
  });

  it.each([
    ['null', 'null'],
    ['a number', '42'],
    ['a string', '"Ada"'],
    ['a boolean', 'true'],
    ['an empty array', '[]'],
  ])(
    'rejects valid JSON that is not an object, %s, as a body (E_INVALID_BODY)',
    async (_what, raw) => {
      const { base } = await appFixture();
      for (const [method, url] of [
        ['PUT', `${base}/users/not-an-object`],
        ['POST', `${base}/users`],
      ] as const) {
        const response = await send(url, method, raw);
        const { error } = (await response.clone().json()) as { error: { message: string } };
        expect(error.message, `${method} ${raw}`).toMatch(/^the body must be a JSON object/);
        await expectError(response, 400, 'E_INVALID_BODY');
      }
    },
  );

  it.each([
    ['1 MB', 1024 * 1024],
    ['10 MB', 10 * 1024 * 1024],
  ])('rejects a %s body with 413 and keeps serving', async (_what, size) => {
    const { base } = await appFixture();
    const huge = JSON.stringify({ ...ada, name: 'n'.repeat(size) });
    await expectError(await send(`${base}/users/huge`, 'PUT', huge), 413, 'E_BODY_TOO_LARGE');
    expect((await fetch(`${base}/users/1`)).status).toBe(200);
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['form data', 'application/x-www-form-urlencoded'],
    ['no content type', ''],
  ])('rejects a body sent as %s with 415', async (_what, type) => {
    const { base } = await appFixture();
    const response = await fetch(`${base}/users/x`, {
      method: 'PUT',
      headers: type ? { 'content-type': type } : {},
      body: type ? JSON.stringify(ada) : undefined,
    });
    await expectError(response, 415, 'E_UNSUPPORTED_MEDIA_TYPE');
  });

  it.each(['latin-7', 'utf-7', 'UTF-16', '"iso-8859-1"'])(
    'rejects the charset %s with 415 (JSON is UTF-8)',
    async (charset) => {
      const { base } = await appFixture();
      const response = await send(`${base}/users/x`, 'PUT', ada, {
        'content-type': `application/json; charset=${charset}`,
      });
      await expectError(response, 415, 'E_UNSUPPORTED_MEDIA_TYPE');
    },
  );

  it.each(['gzip', 'deflate', 'br', 'x-custom', 'GZIP', '', 'identity, gzip'])(
    'rejects a body with Content-Encoding: %s with 415, as the Python and Go instances do',
    async (encoding) => {
      const { base } = await appFixture();
      const response = await send(`${base}/users/enc`, 'PUT', ada, {
        'content-encoding': encoding,
      });
      await expectError(response, 415, 'E_UNSUPPORTED_MEDIA_TYPE');
      expect((await fetch(`${base}/users/enc`)).status).toBe(404);
    },
  );

  it('accepts Content-Encoding: identity', async () => {
    const { base } = await appFixture();
    const response = await send(`${base}/users/ident`, 'PUT', ada, {
      'content-encoding': 'identity',
    });
    expect(response.status).toBe(201);
  });

  it('rejects a body that is not UTF-8 with 415, and stores nothing in its place', async () => {
    const { base } = await appFixture();
    await send(`${base}/users/bytes`, 'PUT', ada);
    // Latin-1 "ÿþ": decoded as UTF-8 it would become two U+FFFD and replace "Ada" for good.
    const body = Buffer.concat([
      Buffer.from('{"name":"'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","email":"n@example.com","age":3}'),
    ]);
    const response = await fetch(`${base}/users/bytes`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await expectError(response, 415, 'E_UNSUPPORTED_MEDIA_TYPE');
    expect(((await (await fetch(`${base}/users/bytes`)).json()) as { name: string }).name).toBe(
      'Ada',
    );
  });

  it('rejects a body that starts with a byte-order mark as invalid JSON', async () => {
    const { base } = await appFixture();
    const response = await send(`${base}/users/bom`, 'PUT', `\ufeff${JSON.stringify(ada)}`);
    await expectError(response, 400, 'E_INVALID_JSON');
    expect((await fetch(`${base}/users/bom`)).status).toBe(404);
  });

  it("answers headers over Node's 16 kB limit with 431 in the error shape, and keeps serving", async () => {
    const { base, instance } = await appFixture();
    const response = await fetch(`${base}/users/1`, {
      headers: { 'x-padding': 'a'.repeat(20_000) },
    });
    await expectError(response, 431, 'E_HEADERS_TOO_LARGE');
    expect(response.headers.get('x-instance')).toBe(`app-test/${instance.id}`);
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await fetch(`${base}/users/1`)).status).toBe(200);
  });

  it("answers a method Node's parser does not know with 400 in the error shape", async () => {
    const { base } = await appFixture();
    await expectError(await fetch(`${base}/users/1`, { method: 'FOO' }), 400, 'E_BAD_REQUEST');
    expect((await fetch(`${base}/users/1`)).status).toBe(200);
  });

  it('accepts an explicit UTF-8 charset', async () => {
    const { base } = await appFixture();
    const response = await send(`${base}/users/utf8-ok`, 'PUT', ada, {
      'content-type': 'application/json; charset="UTF-8"',
    });
    expect(response.status).toBeLessThan(300);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const { base } = await appFixture();
    await expectError(await fetch(`${base}/nope`), 404, 'E_ROUTE_NOT_FOUND');
    await expectError(await send(`${base}/nope`, 'POST', ada), 404, 'E_ROUTE_NOT_FOUND');
    await expectError(await fetch(`${base}/users/1/more`), 404, 'E_ROUTE_NOT_FOUND');
  });

  it('answers HEAD wherever it answers GET', async () => {
    const { base } = await appFixture();
    for (const path of ['/users/1', '/healthz', '/stats']) {
      expect((await fetch(`${base}${path}`, { method: 'HEAD' })).status, path).toBe(200);
    }
  });

  it.each([
    ['PATCH', '/users/1', 'GET, HEAD, PUT, DELETE, OPTIONS'],
    ['POST', '/users/1', 'GET, HEAD, PUT, DELETE, OPTIONS'],
    ['GET', '/users', 'POST, OPTIONS'],
    ['DELETE', '/users', 'POST, OPTIONS'],
    ['POST', '/stats', 'GET, HEAD, OPTIONS'],
    ['DELETE', '/healthz', 'GET, HEAD, OPTIONS'],
  ])('answers %s %s with a JSON 405 that allows %s', async (method, path, allow) => {
    const { base } = await appFixture();
    const response = await fetch(`${base}${path}`, { method });
    expect(response.headers.get('allow')).toBe(allow);
    await expectError(response, 405, 'E_METHOD_NOT_ALLOWED');
  });

  it.each([
    ['/users/1', 'GET, HEAD, PUT, DELETE, OPTIONS'],
    ['/users', 'POST, OPTIONS'],
    ['/metrics', 'GET, HEAD, OPTIONS'],
  ])('answers OPTIONS %s with 204 and Allow: %s', async (path, allow) => {
    const { base } = await appFixture();
    const response = await fetch(`${base}${path}`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')).toBe(allow);
    expect(await response.text()).toBe('');
  });

  it.each([
    ['repeated', '?x=1&x=2'],
    ['prototype', '?__proto__[a]=1&constructor=2'],
    ['empty-named', '?=1'],
    ['a cache buster', '?_=123'],
  ])('rejects %s query parameters on every users route (E_INVALID_QUERY)', async (_what, query) => {
    const { base } = await appFixture();
    await expectError(await fetch(`${base}/users/1${query}`), 400, 'E_INVALID_QUERY');
    await expectError(await send(`${base}/users/q${query}`, 'PUT', ada), 400, 'E_INVALID_QUERY');
    await expectError(await send(`${base}/users${query}`, 'POST', ada), 400, 'E_INVALID_QUERY');
    await expectError(
      await fetch(`${base}/users/1${query}`, { method: 'DELETE' }),
      400,
      'E_INVALID_QUERY',
    );
    expect((await fetch(`${base}/users/q`)).status).toBe(404);
    expect((await fetch(`${base}/users/1`)).status).toBe(200);
  });

  it('lets the ops endpoints ignore query parameters', async () => {
    const { base } = await appFixture();
    for (const path of ['/healthz', '/readyz', '/stats']) {
      expect((await fetch(`${base}${path}?x=1&x=2`)).status, path).toBe(200);
    }
  });

  it('loses nothing: a rejected write leaves the stored user as it was', async () => {
    const { base, unexpected } = await appFixture();
    await send(`${base}/users/keep-me`, 'PUT', ada);
    const before = await (await fetch(`${base}/users/keep-me`)).json();
    await send(`${base}/users/keep-me`, 'PUT', { ...ada, age: 'old' });
    await send(`${base}/users/keep-me`, 'PUT', '{broken');
    expect(await (await fetch(`${base}/users/keep-me`)).json()).toEqual(before);
    expect(unexpected).toEqual([]);
  });

  it.each([
    ['x-min-version', 'abc'],
    ['x-min-version', '-1'],
    ['x-min-version', '1.5'],
    ['x-min-version', '99999999999999999999'],
    ['x-consistency', 'linearizable'],
    ['x-min-version', ['1', '2']],
    ['x-consistency', ['strict', 'strict']],
  ])('rejects the header %s: %s with E_INVALID_HEADER', async (header, value) => {
    const { base } = await appFixture();
    // An array sends the header once per value (a repeated header).
    const headers = new Headers();
    for (const one of [value].flat()) headers.append(header, one);
    await expectError(await fetch(`${base}/users/1`, { headers }), 400, 'E_INVALID_HEADER');
  });

  it('names a repeated X-Min-Version or X-Consistency header as repeated', async () => {
    const { base } = await appFixture();
    for (const [header, values] of [
      ['x-min-version', ['1', '2']],
      ['x-consistency', ['strict', 'eventual']],
    ] as const) {
      const headers = new Headers();
      for (const value of values) headers.append(header, value);
      const response = await fetch(`${base}/users/1`, { headers });
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(response.status).toBe(400);
      expect(body.error.code).toBe('E_INVALID_HEADER');
      expect(body.error.message).toMatch(/is a repeated header/);
    }
  });
});
