import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config.ts';
import { appFixture, type LogCapture } from './fixture.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('request ids', () => {
  it('echoes a well-formed X-Request-Id', async () => {
    const app = await appFixture();
    const id = 'trace-42_a.b:c';
    const response = await fetch(`${app.base}/users/1`, { headers: { 'x-request-id': id } });
    expect(response.headers.get('x-request-id')).toBe(id);
  });

  it('generates a fresh id when none is sent, also on errors', async () => {
    const app = await appFixture();
    const ids = [];
    for (const path of ['/users/1', '/users/1', '/users/bad:id', '/nowhere']) {
      const id = (await fetch(`${app.base}${path}`)).headers.get('x-request-id');
      expect(id).toMatch(UUID);
      ids.push(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it.each([
    ['too long', 'x'.repeat(129)],
    ['with spaces', 'a b'],
    ['with a quote', 'a"b'],
    ['with a newline escape', 'a%0Ab'],
    ['with a brace', '{x}'],
  ])('replaces a malformed X-Request-Id (%s) with a generated one', async (_what, id) => {
    const app = await appFixture();
    const response = await fetch(`${app.base}/users/1`, { headers: { 'x-request-id': id } });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toMatch(UUID);
  });
});

describe('logs', () => {
  it('at debug, logs one line per request with its id, route, status and tier', async () => {
    const logs: LogCapture = { level: 'debug', lines: [] };
    const app = await appFixture('app-logs', {}, logs);
    await fetch(`${app.base}/users/5`, { headers: { 'x-request-id': 'req-1' } });
    await fetch(`${app.base}/users/5`, { headers: { 'x-request-id': 'req-2' } });
    expect(logs.lines).toEqual([
      expect.objectContaining({
        level: 'debug',
        instance: `app-logs/${app.instance.id}`,
        reqId: 'req-1',
        method: 'GET',
        route: '/users/:id',
        status: 200,
        tier: 'MISS',
        msg: 'GET /users/5 200',
      }),
      expect.objectContaining({ reqId: 'req-2', tier: 'L1' }),
    ]);
    expect(typeof logs.lines[0]?.time).toBe('string');
  });

  it('at info (the default), logs no line for a request', async () => {
    const logs: LogCapture = { level: 'info', lines: [] };
    const app = await appFixture('app-quiet', {}, logs);
    await fetch(`${app.base}/users/5`);
    await fetch(`${app.base}/nowhere`);
    expect(logs.lines).toEqual([]);
  });

  it('reads LOG_LEVEL, defaulting to info, and names it when invalid', () => {
    expect(readConfig({}).logLevel).toBe('info');
    expect(readConfig({ LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(() => readConfig({ LOG_LEVEL: 'verbose' })).toThrow(/LOG_LEVEL must be one of/);
  });
});
