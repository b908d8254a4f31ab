import { deepFreeze } from './local/freeze.ts';

/**
 * How values travel to and from Redis: `encode` makes the text stored in a data entry, `decode`
 * reads it back. Every tier answers with `decode(encode(value))`, the loader's own answer
 * included, so a value looks the same whichever tier served it.
 */
export interface Serializer {
  /** The text stored in Redis for `value` (never called with `null`: "not found" is `null`). */
  encode(value: unknown): string;
  /** The value of a text `encode` made; throws on anything else (then the entry is corrupt). */
  decode(text: string): unknown;
}

/**
 * The default serializer, JSON: the protocol's format, which every implementation (Python, Go)
 * reads. `Date` becomes a string, `Map` and `Set` become `{}`, `BigInt` cannot be stored.
 */
export const jsonSerializer: Serializer = {
  encode: (value) => JSON.stringify(value),
  decode: (text) => JSON.parse(text),
};

/** Values as Redis stores them, and back as every tier answers them: decoded and deep-frozen. */
export interface ValueCodec<V> {
  /** The payload of a data entry; `null` ("not found") is always the text `null`. */
  encode(value: V | null): string;
  /** The value of a payload, deep-frozen; `undefined` when it cannot be decoded. */
  decode(payload: string): V | null | undefined;
}

/** Wraps `serializer` into the codec of the cache's values. */
export function createValueCodec<V>(serializer: Serializer): ValueCodec<V> {
  return {
    encode: (value) => (value === null ? 'null' : serializer.encode(value)),
    decode(payload) {
      if (payload === 'null') return null;
      try {
        const value = serializer.decode(payload) as V | null | undefined;
        return value === undefined ? undefined : deepFreeze(value);
      } catch {
        return undefined;
      }
    },
  };
}
