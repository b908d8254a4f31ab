import type { Operation } from './history.ts';

/** An instance as the workload addresses it. */
export interface Target {
  name: string;
  url: string;
}

const REQUEST_TIMEOUT_MS = 3000;

/** Runs from the lab's start: the one clock every operation and fault is stamped with. */
export function createClock(): () => number {
  const origin = performance.now();
  return () => performance.now() - origin;
}

type Base = Pick<Operation, 'session' | 'key' | 'instance' | 'invokeMs'>;

/** GET /users/:key, recorded as an operation; `strict` sends `X-Consistency: strict`. */
export async function readUser(
  target: Target,
  base: Omit<Base, 'instance' | 'invokeMs'>,
  now: () => number,
  token?: number,
  strict = false,
): Promise<Operation> {
  const invokeMs = now();
  const headers: Record<string, string> = token ? { 'x-min-version': String(token) } : {};
  if (strict) headers['x-consistency'] = 'strict';
  const op = { ...base, kind: 'read' as const, instance: target.name, invokeMs, token };
  try {
    const response = await fetch(`${target.url}/users/${base.key}`, {
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as { version?: number; name?: string };
    const tier = response.headers.get('x-cache') as Operation['tier'];
    const ok = response.status === 200 || response.status === 404;
    return {
      ...op,
      completeMs: now(),
      ok,
      status: response.status,
      tier: tier ?? undefined,
      version: body.version ?? 0,
      value: body.name,
    };
  } catch (error) {
    return { ...op, completeMs: now(), ok: false, error: (error as Error).message };
  }
}

/** PUT /users/:key with `marker` as the name, recorded as an operation. */
export async function writeUser(
  target: Target,
  base: Omit<Base, 'instance' | 'invokeMs'>,
  now: () => number,
  marker: string,
): Promise<Operation> {
  const invokeMs = now();
  const op = { ...base, kind: 'write' as const, instance: target.name, invokeMs, value: marker };
  try {
    const response = await fetch(`${target.url}/users/${base.key}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: marker, email: 'lab@example.com', age: 30 }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as { version?: number };
    const ok = response.status === 200 || response.status === 201;
    return { ...op, completeMs: now(), ok, status: response.status, version: body.version };
  } catch (error) {
    return { ...op, completeMs: now(), ok: false, error: (error as Error).message };
  }
}

/** An instance that did not answer `GET /healthz`, and why (`ECONNREFUSED`, `HTTP 503`, …). */
export interface Unreachable {
  target: Target;
  reason: string;
}

/** Asks every target's `/healthz` (within `timeoutMs`); returns those that did not answer 200. */
export async function findUnreachable(targets: Target[], timeoutMs = 2000): Promise<Unreachable[]> {
  const answers = await Promise.all(
    targets.map(async (target): Promise<Unreachable | undefined> => {
      try {
        const response = await fetch(`${target.url}/healthz`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        return response.ok ? undefined : { target, reason: `HTTP ${response.status}` };
      } catch (error) {
        return { target, reason: failureReason(error) };
      }
    }),
  );
  return answers.filter((answer) => answer !== undefined);
}

function failureReason(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown } }).cause;
  if (typeof cause?.code === 'string') return cause.code;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return (error as Error).message;
}
