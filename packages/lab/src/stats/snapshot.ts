import type { StatsResponse } from '@cachelab/app';

/** What `npm run stats` shows of one instance, read from its `GET /stats`. */
export interface InstanceSnapshot {
  url: string;
  /** When the answer came (ms, `performance.now()`), for rates between two rounds. */
  at: number;
  /** `down` with the reason when the instance did not answer usefully. */
  down?: string;
  name?: string;
  requests?: number;
  reads?: number;
  l1Hits?: number;
  l2Hits?: number;
  misses?: number;
  l1Size?: number;
  trusted?: boolean;
  strategy?: string;
  invalidationsSent?: number;
  invalidationsReceived?: number;
  lastPropagationMs?: number | null;
  p99PropagationMs?: number | null;
  dbQueries?: number;
}

/**
 * A `/stats` body as received: any field may be missing or of another type (an instance of another
 * version, or something else on that port), so every leaf is checked before it is shown.
 */
type Untrusted<T> = {
  [K in keyof T]?: T[K] extends object | null ? Untrusted<T[K]> | null : unknown;
};

/** A number from an untrusted JSON value, or `undefined`. */
function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** Reads `GET /stats` of `url`; never throws: a failure becomes `down` with its reason. */
export async function readInstance(url: string, timeoutMs: number): Promise<InstanceSnapshot> {
  try {
    const response = await fetch(`${url}/stats`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!response.ok) {
      await response.body?.cancel();
      return { url, at: performance.now(), down: `HTTP ${response.status}` };
    }
    return fromStats(url, await response.json());
  } catch (error) {
    return { url, at: performance.now(), down: reason(error) };
  }
}

/** A short reason for a failed fetch: the system error code when there is one. */
function reason(error: unknown): string {
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  const cause = (error as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string') return code;
  if (cause instanceof Error) return cause.message;
  return error instanceof Error ? error.message : String(error);
}

/** Picks the shown fields out of a `/stats` body, tolerating anything missing or malformed. */
export function fromStats(url: string, body: unknown): InstanceSnapshot {
  const stats = (body ?? {}) as Untrusted<StatsResponse>;
  const cache = stats.cache ?? {};
  const propagation = cache.propagationMs ?? {};
  const instance = stats.instance;
  if (typeof cache.reads !== 'number') {
    return { url, at: performance.now(), down: 'not a cachelab /stats answer' };
  }
  return {
    url,
    at: performance.now(),
    name: typeof instance?.name === 'string' ? `${instance.name}/${instance.id}` : undefined,
    requests: num(stats.http?.requests),
    reads: num(cache.reads),
    l1Hits: num(cache.l1Hits),
    l2Hits: num(cache.l2Hits),
    misses: num(cache.misses),
    l1Size: num(cache.l1Size),
    trusted: typeof cache.trusted === 'boolean' ? cache.trusted : undefined,
    strategy: typeof cache.strategy === 'string' ? cache.strategy : undefined,
    invalidationsSent: num(cache.invalidationsSent),
    invalidationsReceived: num(cache.invalidationsReceived),
    lastPropagationMs: num(propagation.last) ?? null,
    p99PropagationMs: num(propagation.p99) ?? null,
    dbQueries: num(stats.database?.queries),
  };
}
