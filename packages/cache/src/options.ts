import { closest } from 'fastest-levenshtein';
import type { CacheError } from './errors.ts';
import { isValidNamespace, NAMESPACE_RULE } from './keys.ts';
import { jsonSerializer, type Serializer } from './serializer.ts';
import {
  type CacheEvents,
  type Loaded,
  type RedisLike,
  type ShardedSubscriberLike,
  type Strategy,
  type SubscriberLike,
  strategies,
} from './types.ts';

/** Hooks into the read path, for tests and the lab; production code leaves them unset. */
export interface CacheHooks {
  /**
   * Awaited after the loader answered and before the cache is filled with its answer. A test can
   * hold a reader here (a gate) to reproduce the stale-set race deterministically.
   */
  beforeFill?(key: string, loaded: Loaded<unknown>): Promise<void> | void;
}

/** How invalidations travel: `PUBLISH` (one Redis) or `SPUBLISH` (Redis Cluster). */
export type PubSubMode = 'global' | 'sharded';

/** Options of `createCache`. */
export interface CacheOptions {
  /** A connected Redis client; the cache never connects or closes it. */
  redis: RedisLike;
  /**
   * A second, dedicated connection for the invalidation bus (required by `versioned`), e.g.
   * `redis.duplicate()`, connected. The caller owns both connections, and replaces one that dies
   * silently (see `SubscriberLike`).
   */
  subscriber?: SubscriberLike | ShardedSubscriberLike;
  /**
   * How invalidations travel. `'global'`: `PUBLISH` on one channel (one Redis). `'sharded'`
   * (Redis Cluster, Redis ≥ 7): `SPUBLISH` on 16 channels (`CHANNEL_SHARDS`) hash-tagged into
   * the slot ranges of the keys they announce, so each invalidation stays on (about) the shard
   * that owns its key; `redis` must have `sPublish` and `subscriber` `sSubscribe`
   * (node-redis: a `createCluster` client and its `duplicate()`).
   * @default 'global'
   */
  pubsub?: PubSubMode;
  /**
   * How writes reach readers; see {@link Strategy}.
   * @default 'versioned'
   */
  strategy?: Strategy;
  /**
   * This instance's id on the bus; must differ between instances.
   * @default a random id
   */
  origin?: string;
  /**
   * Prefix of every Redis key and of the channel, so that several caches can share one Redis.
   * @default 'cl'
   */
  namespace?: string;
  /**
   * Time to live of a value in Redis, in ms: the bound on staleness when an invalidation is lost.
   * @default 60_000
   */
  ttlMs?: number;
  /**
   * Spread of the TTLs, a fraction: each Redis entry and each L1 entry lives its TTL shortened by
   * a random part of up to this fraction of it (`ttlMs` 60 000 with 0.1: 54 000-60 000 ms), so
   * that entries filled together do not expire together. The configured TTLs stay upper bounds.
   * `0` turns it off. From 0 to 0.9.
   * @default 0.1
   */
  ttlJitter?: number;
  /**
   * Time to live of a cached "not found", in ms.
   * @default 5_000
   */
  negativeTtlMs?: number;
  /**
   * Entries the L1 holds at most; `0` disables L1 (every read goes to Redis), e.g. to measure the
   * Redis tier alone.
   * @default 10_000
   */
  l1MaxEntries?: number;
  /**
   * Time to live of an L1 entry, in ms: the last safety net if every invalidation were lost.
   * @default 30_000
   */
  l1TtlMs?: number;
  /**
   * Keys whose announced version is remembered at most.
   * @default 100_000
   */
  highWaterMarkMaxEntries?: number;
  /**
   * How often each instance publishes a heartbeat to itself, in ms. Also the tick by which a
   * stalled event loop is noticed (a tick late by more than half of it, at least 200 ms, withholds
   * L1 until a heartbeat returns), and the interval between probes of a Redis that timed out.
   * @default 500
   */
  heartbeatIntervalMs?: number;
  /**
   * Without an own heartbeat back for this long, L1 is no longer trusted, in ms. Together with
   * the interval it bounds how long a silently dead subscription can go unnoticed.
   * @default 2_000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Longest wait for one Redis call, in ms; after it the read goes on without Redis, and later
   * calls skip Redis (failing at once) until a probe answers.
   * @default 250
   */
  redisTimeoutMs?: number;
  /**
   * Loader calls (distinct keys) in flight at most; a miss on another key meanwhile fails at once
   * with `E_OVERLOADED` instead of queueing, so a flood of distinct keys cannot overwhelm the
   * source of truth. Misses on a key already loading still join its load.
   * @default 32
   */
  maxConcurrentLoads?: number;
  /**
   * Load lease, in ms (`versioned` only): on a miss in every tier, the instance that takes the
   * key's lease in Redis (`SET NX PX`) loads it; the others wait for its fill, polling Redis, for
   * at most this long, then load it themselves. So concurrent misses on all instances cost one load
   * for the cluster, and a lease holder that died delays the others by at most this much. `0`
   * turns it off (one load per instance). From 0 to 60 000.
   * @default 500
   */
  loadLeaseMs?: number;
  /**
   * Stale-if-error, in ms (`versioned` only): when the loader fails, a read may be answered with
   * this instance's L1 copy of the key if it expired at most this long ago, with tier `STALE` —
   * never below the read's floor (an announced version, `minVersion`), never for `strict` reads,
   * never while the bus is not trusted. Expired copies stay in L1 (within its size bound) this
   * much longer. `0` turns it off. From 0 to 86 400 000 (a day).
   * @default 0
   */
  staleIfErrorMs?: number;
  /**
   * Early refresh, a fraction of `l1TtlMs` (`versioned` only): an L1 hit in the last fraction of
   * its entry's life is answered at once and starts one background reload of the key (joined per
   * instance, and per cluster by the load lease), which renews the entry in L1 and Redis, so that a
   * hot key does not miss when it expires. A failed reload is counted and ignored. `0` turns it
   * off. From 0 to 0.9.
   * @default 0
   */
  earlyRefresh?: number;
  /**
   * Attempts of an invalidation (DEL, or pointer move + PUBLISH) before it is counted as failed.
   * @default 3
   */
  invalidateAttempts?: number;
  /**
   * Signs every message on the invalidation channel (HMAC-SHA256 over the channel name and the
   * payload) and drops any message that is unsigned or signed otherwise (counted in
   * `messagesRejected`). Every instance must share it. A list rotates secrets: the first signs,
   * each one verifies. At least 16 characters each; never logged or reported.
   * @default none: messages travel unsigned and any client that may PUBLISH on the channel can
   * announce versions
   */
  signingSecret?: string | readonly string[];
  /**
   * How values are stored in Redis: a codec `{ encode(value): string, decode(text) }`. Every tier
   * answers `decode(encode(value))`, the loading instance included. JSON by default, which is what
   * the Python and Go implementations read: a serializer that keeps more (`Date`, `Map`, `Set`,
   * `BigInt`, e.g. superjson's `{ encode: superjson.stringify, decode: superjson.parse }`) is for
   * namespaces that only Node.js instances share. Every instance of a namespace must use the same.
   * @default JSON
   */
  serializer?: Serializer;
  /**
   * Told about every degraded operation (Redis error or timeout, corrupt entry, failed
   * invalidation). The cache never throws these at callers of reads.
   */
  onError?: (error: CacheError) => void;
  /** Told about each event that a histogram needs (e.g. every propagation delay). */
  events?: CacheEvents;
  /** Test and lab hooks. */
  hooks?: CacheHooks;
}

/** Default of `ttlJitter`: TTLs spread over their last 10 %. */
const DEFAULT_TTL_JITTER = 0.1;
/** Largest `ttlJitter`: a TTL keeps at least a tenth of its length. */
const MAX_TTL_JITTER = 0.9;

/** Default of `loadLeaseMs`: a waiting instance loads by itself after half a second. */
const DEFAULT_LOAD_LEASE_MS = 500;

/** Default of `staleIfErrorMs`: off, a failed load fails the read. */
const DEFAULT_STALE_IF_ERROR_MS = 0;

/** Defaults of the optional {@link CacheOptions}. */
export const DEFAULT_CACHE_OPTIONS = {
  strategy: 'versioned',
  pubsub: 'global',
  namespace: 'cl',
  ttlMs: 60_000,
  ttlJitter: DEFAULT_TTL_JITTER,
  negativeTtlMs: 5_000,
  l1MaxEntries: 10_000,
  l1TtlMs: 30_000,
  highWaterMarkMaxEntries: 100_000,
  heartbeatIntervalMs: 500,
  heartbeatTimeoutMs: 2_000,
  redisTimeoutMs: 250,
  maxConcurrentLoads: 32,
  invalidateAttempts: 3,
  loadLeaseMs: DEFAULT_LOAD_LEASE_MS,
  staleIfErrorMs: DEFAULT_STALE_IF_ERROR_MS,
  earlyRefresh: 0,
  serializer: jsonSerializer,
  onError: () => {},
  events: {},
  hooks: {},
} as const satisfies Omit<
  Required<CacheOptions>,
  'redis' | 'subscriber' | 'origin' | 'signingSecret'
>;

/** {@link CacheOptions} with every default applied. */
export type ResolvedCacheOptions = Required<
  Omit<CacheOptions, 'subscriber' | 'origin' | 'signingSecret'>
> & {
  subscriber: SubscriberLike | ShardedSubscriberLike | undefined;
  origin: string | undefined;
  /** `signingSecret` as a list; empty when messages are not signed. */
  signingSecrets: readonly string[];
};

const MIN_SECRET_LENGTH = 16;
/** Longest `origin`, in characters. */
export const MAX_ORIGIN_LENGTH = 64;
const ORIGIN = new RegExp(`^[A-Za-z0-9_.:/-]{1,${MAX_ORIGIN_LENGTH}}$`);
/** Longest wait a Node.js timer takes as given (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

/** The integer options, with their ranges (inclusive). */
const INTEGER_RANGES = {
  ttlMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  negativeTtlMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  l1MaxEntries: { min: 0, max: Number.MAX_SAFE_INTEGER, unit: '' },
  l1TtlMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  highWaterMarkMaxEntries: { min: 1, max: Number.MAX_SAFE_INTEGER, unit: '' },
  heartbeatIntervalMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  heartbeatTimeoutMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  redisTimeoutMs: { min: 1, max: MAX_TIMER_MS, unit: 'ms' },
  maxConcurrentLoads: { min: 1, max: Number.MAX_SAFE_INTEGER, unit: '' },
  invalidateAttempts: { min: 1, max: 1000, unit: '' },
  loadLeaseMs: { min: 0, max: 60_000, unit: 'ms' },
  staleIfErrorMs: { min: 0, max: 86_400_000, unit: 'ms' },
} as const;

/** The fraction options, with their largest value (the smallest is 0). */
const FRACTION_RANGES = {
  ttlJitter: MAX_TTL_JITTER,
  earlyRefresh: 0.9,
} as const;

/**
 * An invalid option: its name, and the rule it breaks as a sentence without the name (other
 * options it mentions are named in backticks), e.g. `{ option: 'ttlMs', rule: 'must be an
 * integer from 1 to 2147483647 (ms)' }`.
 */
export interface OptionProblem {
  option: keyof CacheOptions;
  rule: string;
}

/**
 * Checks the options that are settings (everything but the Redis clients) with the defaults
 * applied, and returns every problem, none when they are valid. `createCache` throws a `TypeError`
 * for the first; a configuration reader can list them all under its own names (the app's
 * `readConfig` does), so both apply the same rules.
 */
export function validateCacheOptions(
  options: Omit<Partial<CacheOptions>, 'redis' | 'subscriber'>,
): OptionProblem[] {
  const resolved = { ...DEFAULT_CACHE_OPTIONS, ...stripUndefined(options) };
  const problems: OptionProblem[] = [];
  const problem = (option: keyof CacheOptions, rule: string) => problems.push({ option, rule });
  for (const [name, { min, max, unit }] of Object.entries(INTEGER_RANGES)) {
    const value = resolved[name as keyof typeof INTEGER_RANGES];
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      problem(
        name as keyof CacheOptions,
        `must be an integer from ${min} to ${max}${unit ? ` (${unit})` : ''}`,
      );
    }
  }
  for (const [name, max] of Object.entries(FRACTION_RANGES)) {
    const value = resolved[name as keyof typeof FRACTION_RANGES];
    if (typeof value !== 'number' || !(value >= 0 && value <= max)) {
      problem(name as keyof CacheOptions, `must be a number from 0 to ${max} (a fraction)`);
    }
  }
  if (!(resolved.heartbeatTimeoutMs > resolved.heartbeatIntervalMs)) {
    problem('heartbeatTimeoutMs', 'must be greater than `heartbeatIntervalMs`');
  }
  if (!(Object.values(strategies) as unknown[]).includes(resolved.strategy)) {
    const names = Object.values(strategies).map((s) => `'${s}'`);
    problem('strategy', `must be one of ${names.join(', ')}`);
  }
  if (!isValidNamespace(resolved.namespace)) problem('namespace', NAMESPACE_RULE);
  if (resolved.pubsub !== 'global' && resolved.pubsub !== 'sharded') {
    problem('pubsub', "must be 'global' or 'sharded'");
  }
  if (resolved.origin !== undefined && !ORIGIN.test(String(resolved.origin))) {
    problem('origin', `must be 1-${MAX_ORIGIN_LENGTH} characters of [A-Za-z0-9_.:/-]`);
  }
  if (secretsOf(resolved.signingSecret) === undefined) {
    // The rule never quotes the value: it is a secret.
    problem(
      'signingSecret',
      `must be a string of at least ${MIN_SECRET_LENGTH} characters, or a non-empty list of them`,
    );
  }
  if (typeof resolved.onError !== 'function') problem('onError', 'must be a function');
  const { serializer } = resolved;
  if (typeof serializer?.encode !== 'function' || typeof serializer?.decode !== 'function') {
    problem('serializer', 'must be a codec `{ encode(value): string, decode(text) }`');
  }
  if (typeof resolved.events !== 'object' || resolved.events === null) {
    problem('events', 'must be an object of listeners');
  }
  return problems;
}

/** Every option of {@link CacheOptions} (the record makes the compiler check that none is missing). */
const OPTION_NAMES: Record<keyof CacheOptions, true> = {
  ...(Object.fromEntries(Object.keys(DEFAULT_CACHE_OPTIONS).map((name) => [name, true])) as Record<
    keyof typeof DEFAULT_CACHE_OPTIONS,
    true
  >),
  redis: true,
  subscriber: true,
  origin: true,
  signingSecret: true,
};

/** The keys of the options that are objects of named members, with their members. */
const NESTED_OPTIONS = {
  events: { propagated: true } satisfies Record<keyof CacheEvents, true>,
  hooks: { beforeFill: true } satisfies Record<keyof CacheHooks, true>,
} as const;

/**
 * Throws a `TypeError` for the first key of `given` that `known` does not have, naming the nearest
 * known one (`` `ttl` is not an option; did you mean `ttlMs`? ``): in JavaScript a mistyped option
 * would otherwise be ignored without a word.
 */
function refuseUnknown(given: object, known: object, what: string): void {
  const names = Object.keys(known);
  for (const name of Object.keys(given)) {
    if (Object.hasOwn(known, name)) continue;
    throw new TypeError(`\`${name}\` is not ${what}; did you mean \`${closest(name, names)}\`?`);
  }
}

/** Throws a `TypeError` naming the first option (or member of `events`/`hooks`) that is unknown. */
function checkOptionNames(options: CacheOptions): void {
  refuseUnknown(options, OPTION_NAMES, 'an option');
  for (const [option, members] of Object.entries(NESTED_OPTIONS)) {
    const given = options[option as keyof typeof NESTED_OPTIONS];
    if (typeof given === 'object' && given !== null) {
      refuseUnknown(given, members, `a member of \`${option}\``);
    }
  }
}

/** Applies defaults and validates every option, naming the one that is wrong. */
export function resolveOptions(options: CacheOptions): ResolvedCacheOptions {
  if (!options || typeof options.redis?.get !== 'function') {
    throw new TypeError('`redis` must be a connected Redis client');
  }
  checkOptionNames(options);
  const [first] = validateCacheOptions(options);
  if (first) throw new TypeError(`\`${first.option}\` ${first.rule}`);
  const { signingSecret, ...rest } = {
    ...DEFAULT_CACHE_OPTIONS,
    ...stripUndefined(options),
  } as ResolvedCacheOptions & CacheOptions;
  const subscribe = rest.pubsub === 'sharded' ? 'sSubscribe' : 'subscribe';
  if (
    rest.strategy === 'versioned' &&
    typeof rest.subscriber?.[subscribe as never] !== 'function'
  ) {
    throw new TypeError('`subscriber` (a dedicated Redis connection) is required by `versioned`');
  }
  if (
    rest.pubsub === 'sharded' &&
    typeof (options.redis as { sPublish?: unknown }).sPublish !== 'function'
  ) {
    throw new TypeError("`redis` must have `sPublish` with `pubsub: 'sharded'` (a cluster client)");
  }
  return {
    ...rest,
    subscriber: rest.subscriber,
    origin: rest.origin,
    redis: options.redis,
    signingSecrets: secretsOf(signingSecret) ?? [],
  };
}

/** The secrets as a list (empty when none); `undefined` when they are not valid. */
function secretsOf(secret: unknown): readonly string[] | undefined {
  if (secret === undefined) return [];
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const valid =
    Array.isArray(secrets) &&
    secrets.length > 0 &&
    secrets.every((s) => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH);
  return valid ? [...secrets] : undefined;
}

function stripUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(object).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}
