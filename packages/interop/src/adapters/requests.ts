import type { Consistency } from '@cachelab/cache';

type Id = number | string;

/** A request of the harness to an adapter (protocol/INTEROP.md, "Requests and responses"). */
export type AdapterRequest =
  | {
      id: Id;
      op: 'read';
      key: string;
      /** What the loader returns; `null`: the key does not exist. */
      source: { value: unknown; version: number } | null;
      consistency: Consistency;
      minVersion: number;
      loadDelayMs: number;
    }
  | { id: Id; op: 'set'; key: string; value: unknown; version: number }
  | { id: Id; op: 'delete' | 'announce'; key: string; version: number }
  | { id: Id; op: 'peek'; key: string }
  | { id: Id; op: 'stats' | 'close' };

/** A request line the adapter cannot serve: answered with `E_BAD_REQUEST`. */
export class RequestError extends Error {
  readonly code = 'E_BAD_REQUEST';
  readonly id: Id | null;

  constructor(id: Id | null, message: string) {
    super(message);
    this.id = id;
  }
}

/** Parses one request line; throws {@link RequestError} naming what is wrong. */
export function parseRequest(line: string): AdapterRequest {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(line);
  } catch {
    throw new RequestError(null, 'a request is one JSON object per line');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RequestError(null, 'a request is one JSON object per line');
  }
  const id = typeof raw.id === 'number' || typeof raw.id === 'string' ? raw.id : null;
  if (id === null) throw new RequestError(null, 'a request needs an `id`');
  const bad = (what: string) => new RequestError(id, `${String(raw.op)}: ${what}`);
  const key = () => {
    if (typeof raw.key !== 'string') throw bad('`key` must be a string');
    return raw.key;
  };
  const int = (name: string, fallback?: number) => {
    const value = raw[name] ?? fallback;
    if (!Number.isSafeInteger(value) || (value as number) < 0) {
      throw bad(`\`${name}\` must be a non-negative integer`);
    }
    return value as number;
  };
  switch (raw.op) {
    case 'read':
      return {
        id,
        op: 'read',
        key: key(),
        source: parseSource(raw.source, bad),
        consistency: raw.consistency === 'strict' ? 'strict' : 'eventual',
        minVersion: int('minVersion', 0),
        loadDelayMs: int('loadDelayMs', 0),
      };
    case 'set':
      if (raw.value === undefined) throw bad('`value` is required');
      return { id, op: 'set', key: key(), value: raw.value, version: int('version') };
    case 'delete':
    case 'announce':
      return { id, op: raw.op, key: key(), version: int('version') };
    case 'peek':
      return { id, op: 'peek', key: key() };
    case 'stats':
    case 'close':
      return { id, op: raw.op };
    default:
      throw bad('unknown op');
  }
}

function parseSource(source: unknown, bad: (what: string) => Error) {
  if (source === null || source === undefined) return null;
  const { value, version } = source as { value?: unknown; version?: unknown };
  if (typeof source !== 'object' || value === undefined || !Number.isSafeInteger(version)) {
    throw bad('`source` must be null or {"value": …, "version": n}');
  }
  return { value, version: version as number };
}
