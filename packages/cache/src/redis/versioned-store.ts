import type { KeyBuilder } from '../keys.ts';
import { createValueCodec, jsonSerializer, type ValueCodec } from '../serializer.ts';
import type { Loaded, RedisLike } from '../types.ts';
import type { RedisCall } from './health-gate.ts';
import {
  ANNOUNCE,
  ANNOUNCE_MANY,
  FILL,
  READ,
  RELEASE_LEASE,
  type Script,
  TAKE_LEASE,
} from './scripts.ts';

/** What one round trip to Redis found for a key. */
export interface VersionedRead<V> {
  /** The current version by the pointer; `undefined` when there is no (valid) pointer. */
  pointer: number | undefined;
  /** The entry at the pointer; `undefined` when its data entry is gone or undecodable. */
  entry: Loaded<V> | undefined;
  /** True when Redis held a pointer or data entry that this cache cannot have written. */
  corrupt: boolean;
}

/** An entry as a fill writes it: its version and its payload (the value, encoded). */
export interface EncodedEntry {
  version: number;
  payload: string;
}

/** Outcome of a fill: the pointer moved to it, it was already current, or it was stale. */
export type FillOutcome = 'moved' | 'current' | 'stale';

/** The invalidation sent with a fill: always (a write), or only if the fill advanced a pointer. */
export interface Announcement {
  channel: string;
  payload: string;
  when: 'always' | 'advanced';
  /**
   * Sharded Pub/Sub: sends it (`SPUBLISH`) after the script rather than `PUBLISH`ing `payload`
   * inside: a script may only publish on a shard channel of its keys' slot, and the channel's
   * slot is another one of the same range. It is numbered (`cseq`) as it is sent.
   */
  publish?: () => Promise<unknown>;
}

/** The Redis tier of the versioned strategy: a version pointer plus data entries per version. */
export interface VersionedStore {
  /** Pointer and data together, in one round trip. */
  read<V>(key: string): Promise<VersionedRead<V>>;
  /**
   * Stores `entry` for `ttlMs` and moves the pointer forward if newer (the pointer lives
   * `pointerTtlMs`); publishes the announcement as it says, in the same round trip.
   */
  fill(
    key: string,
    entry: EncodedEntry,
    ttl: { ttlMs: number; pointerTtlMs: number },
    announcement: Announcement,
  ): Promise<{ outcome: FillOutcome; published: boolean }>;
  /**
   * Moves the pointer forward to `version` without writing data (the value is in the database
   * only) and publishes the announcement unless the pointer is already past it.
   */
  announce(
    key: string,
    version: number,
    pointerTtlMs: number,
    announcement: Announcement,
  ): Promise<FillOutcome>;
  /**
   * {@link VersionedStore.announce} for many keys in one script and one round trip. Only for
   * announcements published by the script (not sharded): every key must be allowed in one script,
   * which Redis Cluster refuses (`CROSSSLOT`) for keys of different slots.
   */
  announceMany(
    entries: readonly { key: string; version: number; announcement: Announcement }[],
    pointerTtlMs: number,
  ): Promise<FillOutcome[]>;
  /** Takes the load lease of `key` for `ms` as `holder` (`SET NX PX`); false when another has it. */
  takeLease(key: string, holder: string, ms: number): Promise<boolean>;
  /** Gives the lease of `key` back if `holder` still has it. */
  releaseLease(key: string, holder: string): Promise<void>;
  /** True while anyone holds the load lease of `key`. */
  leaseHeld(key: string): Promise<boolean>;
}

const OUTCOMES: Record<string, FillOutcome> = { '1': 'moved', '0': 'current', '-1': 'stale' };

/**
 * Creates the versioned Redis tier; every call goes through `redisCall` (bounded, gated). Data
 * entries are decoded with `codec` (default: JSON).
 */
export function createVersionedStore(
  redis: RedisLike,
  keys: KeyBuilder,
  redisCall: RedisCall,
  codec: ValueCodec<unknown> = createValueCodec(jsonSerializer),
): VersionedStore {
  async function run(what: string, script: Script, keyArgs: string[], args: string[]) {
    const options = { keys: keyArgs, arguments: args };
    const call = async () => {
      try {
        return await redis.evalSha(script.sha, options);
      } catch (error) {
        // First use on this Redis (or after a restart): load the script by sending its text.
        if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
        return await redis.eval(script.text, options);
      }
    };
    return redisCall(what, call);
  }

  return {
    async read<V>(key: string) {
      const reply = await run('read', READ, [keys.pointer(key)], [keys.dataPrefix(key)]);
      if (!Array.isArray(reply)) return { pointer: undefined, entry: undefined, corrupt: false };
      const pointer = parseVersion(reply[0]);
      if (pointer === undefined) return { pointer, entry: undefined, corrupt: true };
      if (typeof reply[1] !== 'string') return { pointer, entry: undefined, corrupt: false };
      const value = codec.decode(reply[1]) as V | null | undefined;
      if (value === undefined) return { pointer, entry: undefined, corrupt: true };
      return { pointer, entry: { value, version: pointer }, corrupt: false };
    },
    async fill(key, entry, ttl, announcement) {
      const keyArgs = [keys.pointer(key), keys.data(key, entry.version)];
      const args = [
        keys.dataPrefix(key),
        String(entry.version),
        String(ttl.ttlMs),
        String(ttl.pointerTtlMs),
        entry.payload,
        announcement.publish ? '' : announcement.channel,
        announcement.payload,
        announcement.when,
      ];
      const reply = await run(`fill (${announcement.when})`, FILL, keyArgs, args);
      if (!Array.isArray(reply)) return { outcome: 'stale', published: false };
      const outcome = OUTCOMES[String(reply[0])] ?? 'stale';
      const published = reply[1] === 1;
      // Rejects like the fill itself: a write retries both (the fill is idempotent).
      if (published && announcement.publish) await announcement.publish();
      return { outcome, published };
    },
    async announce(key, version, pointerTtlMs, announcement) {
      const args = [
        keys.dataPrefix(key),
        String(version),
        String(pointerTtlMs),
        announcement.publish ? '' : announcement.channel,
        announcement.payload,
      ];
      const reply = await run('announce', ANNOUNCE, [keys.pointer(key)], args);
      const outcome = OUTCOMES[String(reply)] ?? 'stale';
      // As for a fill: the script cannot SPUBLISH on the key's channel (another slot).
      if (outcome !== 'stale' && announcement.publish) await announcement.publish();
      return outcome;
    },
    async announceMany(entries, pointerTtlMs) {
      const first = entries[0]?.announcement;
      if (!first) return [];
      if (entries.some(({ announcement }) => announcement.publish)) {
        throw new TypeError('announceMany publishes in the script: not for sharded announcements');
      }
      const args = [String(pointerTtlMs), first.channel];
      for (const { key, version, announcement } of entries) {
        args.push(keys.dataPrefix(key), String(version), announcement.payload);
      }
      const pointers = entries.map(({ key }) => keys.pointer(key));
      const reply = await run('announce many', ANNOUNCE_MANY, pointers, args);
      const outcomes = Array.isArray(reply) ? reply : [];
      return entries.map((_, i) => OUTCOMES[String(outcomes[i])] ?? 'stale');
    },
    async takeLease(key, holder, ms) {
      return (await run('take lease', TAKE_LEASE, [keys.lease(key)], [holder, String(ms)])) === 1;
    },
    async releaseLease(key, holder) {
      await run('release lease', RELEASE_LEASE, [keys.lease(key)], [holder]);
    },
    async leaseHeld(key) {
      return (await redisCall('GET lease', () => redis.get(keys.lease(key)))) !== null;
    },
  };
}

/** A version read from Redis, or `undefined` when it is not one this cache could have written. */
function parseVersion(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/^\d{1,16}$/.test(raw)) return undefined;
  const version = Number(raw);
  return Number.isSafeInteger(version) ? version : undefined;
}
