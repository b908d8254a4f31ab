import type { Response } from 'express';

// The JSON of each value answered, held as long as the value itself: the cache hands out the same
// object on every L1 hit of an entry, so the entry's bytes live (and die) with the entry, and a
// hit writes them instead of running JSON.stringify. Values must never be mutated (none is).
const serialized = new WeakMap<object, Buffer>();

/** The UTF-8 JSON of `value`, serialized once per object. */
export function jsonBytesOf(value: object): Buffer {
  let bytes = serialized.get(value);
  if (bytes === undefined) {
    bytes = Buffer.from(JSON.stringify(value));
    serialized.set(value, bytes);
  }
  return bytes;
}

/**
 * Answers with the JSON of `value` as `res.json` would (same `Content-Type`, body and length), but
 * from {@link jsonBytesOf}: an object answered before costs no serialization.
 */
export function sendJsonBytes(res: Response, value: object): void {
  const bytes = jsonBytesOf(value);
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', bytes.length);
  res.end(bytes);
}
