/**
 * Requests every cachelab instance must refuse alike, whatever its language: hostile ids, bodies
 * that fail validation, conditional requests that fail, methods and routes that do not exist.
 * Each gets a 4xx with the error shape `{error: {code, message}}`; an instance of another language
 * must answer the status and code a Node instance answers. Used by the mixed-cluster tests
 * (test/language-instances.e2e.test.ts) and the compose test (scripts/compose/check-stack.ts).
 */

const JSON_TYPE = { 'content-type': 'application/json' };
const USER = JSON.stringify({ name: 'Ada', email: 'ada@example.com', age: 36 });

/** One bad request: its path (from the root), method, headers and body. */
export interface BadRequest {
  what: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  /** A string is sent as UTF-8; bytes as they are. */
  body?: string | Uint8Array;
  /**
   * Languages whose HTTP server answers this request itself, before any handler runs: only the
   * status is compared, and the reason is said here.
   */
  serverAnswers?: Partial<Record<string, string>>;
}

/** The requests, each named by what makes it bad. */
export const BAD_REQUESTS: readonly BadRequest[] = [
  { what: 'an id with :', path: '/users/a:b' },
  { what: 'an id with *', path: '/users/a*b' },
  { what: 'an id with ? (a query string)', path: '/users/a?b' },
  { what: 'an id with [', path: '/users/a[b' },
  { what: 'an id with an encoded /', path: '/users/a%2Fb' },
  {
    what: 'a malformed percent-encoding',
    path: '/users/%zz',
    serverAnswers: { go: "net/http refuses the request line itself: 400, Go's text body" },
  },
  { what: 'an id of 10k characters', path: `/users/${'a'.repeat(10_000)}` },
  { what: 'repeated query parameters', path: '/users/1?x=1&x=2' },
  { what: 'bad JSON', path: '/users/1', method: 'PUT', headers: JSON_TYPE, body: '{bad' },
  { what: 'NaN', path: '/users/1', method: 'PUT', headers: JSON_TYPE, body: 'NaN' },
  { what: 'an array', path: '/users/1', method: 'PUT', headers: JSON_TYPE, body: '[1]' },
  {
    what: 'age as a string',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"a@b.co","age":"3"}',
  },
  {
    what: 'a fractional age',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"a@b.co","age":3.5}',
  },
  {
    what: 'a boolean age',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"a@b.co","age":true}',
  },
  {
    what: 'an unknown field',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"a@b.co","age":3,"admin":true}',
  },
  {
    what: 'a prototype key',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"a@b.co","age":3,"__proto__":{"x":1}}',
  },
  {
    what: 'a NUL in the name',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"a\\u0000","email":"a@b.co","age":3}',
  },
  {
    what: 'a lone surrogate in the name',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: '{"name":"\\ud800","email":"a@b.co","age":3}',
  },
  {
    what: 'a bad e-mail',
    path: '/users',
    method: 'POST',
    headers: JSON_TYPE,
    body: '{"name":"a","email":"nope","age":3}',
  },
  {
    what: 'a huge body',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: JSON.stringify({ name: 'x'.repeat(20_000), email: 'a@b.co', age: 3 }),
  },
  {
    what: 'a text body',
    path: '/users/1',
    method: 'PUT',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
  },
  {
    what: 'a gzip Content-Encoding',
    path: '/users/1',
    method: 'PUT',
    headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
    body: USER,
  },
  {
    what: 'a body that is not UTF-8',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: new Uint8Array([
      ...Buffer.from('{"name":"'),
      0xff,
      0xfe,
      ...Buffer.from('","email":"a@b.co","age":3}'),
    ]),
  },
  {
    what: 'a byte-order mark before the JSON',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: `\ufeff${USER}`,
  },
  {
    what: 'JSON nested 5000 deep',
    path: '/users/1',
    method: 'PUT',
    headers: JSON_TYPE,
    body: `{"name":${'['.repeat(5000)}${']'.repeat(5000)},"email":"a@b.co","age":3}`,
  },
  { what: 'headers over 16 kB', path: '/users/1', headers: { 'x-padding': 'a'.repeat(20_000) } },
  { what: 'an id that decodes to bytes that are not UTF-8', path: '/users/%E2%82' },
  { what: 'an empty id', path: '/users//' },
  { what: 'no body', path: '/users/1', method: 'PUT' },
  {
    what: 'an If-Match that does not match',
    path: '/users/1',
    method: 'PUT',
    headers: { ...JSON_TYPE, 'if-match': '"v999999"' },
    body: USER,
  },
  {
    what: 'a malformed If-Match',
    path: '/users/1',
    method: 'PUT',
    headers: { ...JSON_TYPE, 'if-match': 'v1' },
    body: USER,
  },
  {
    what: 'a delete whose If-Match does not match',
    path: '/users/2',
    method: 'DELETE',
    headers: { 'if-match': '"v999999"' },
  },
  {
    what: 'an X-Min-Version above the database',
    path: '/users/3',
    headers: { 'x-min-version': '999999' },
  },
  { what: 'a malformed X-Min-Version', path: '/users/3', headers: { 'x-min-version': 'abc' } },
  { what: 'a bad X-Consistency', path: '/users/3', headers: { 'x-consistency': 'bogus' } },
  { what: 'a malformed If-None-Match', path: '/users/3', headers: { 'if-none-match': 'bogus' } },
  { what: 'a method the path lacks', path: '/users/3', method: 'PATCH' },
  { what: 'GET on the collection', path: '/users' },
  { what: 'no such route', path: '/nope' },
  { what: 'POST on /stats', path: '/stats', method: 'POST' },
  { what: 'no such user', path: '/users/nobody-here' },
];

/** Status, error code and the headers the contract names, of one request to `base`. */
export async function answerOf(base: string, request: BadRequest) {
  const response = await fetch(`${base}${request.path}`, {
    method: request.method ?? 'GET',
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: response.status, code, allow: response.headers.get('allow') ?? undefined };
}
