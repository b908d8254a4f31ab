/**
 * Every setting of an instance, declared once: its environment variable, what it parses to, its
 * default, its range or values and what it does. `readConfig` reads the environment through this
 * table, `cacheOptionsOf` maps it onto the cache's options, and test/config-docs.test.ts holds
 * docs/configuration.md to it.
 */
import {
  type CacheOptions,
  DEFAULT_CACHE_OPTIONS,
  MAX_ORIGIN_LENGTH,
  type Strategy,
} from '@cachelab/cache';
import * as v from 'valibot';
import { logLevels } from './logger.ts';

/** One environment variable of an instance. */
export interface Setting<T = unknown> {
  /** Its name, e.g. `PORT`. */
  env: string;
  /**
   * Parses its text (`undefined` when unset or empty) into the value, the default included (a
   * valibot schema: `v.safeParse(schema, text)`). The message of its first issue completes the
   * sentence `<env> …`, e.g. `must be 0 or 1`.
   */
  schema: v.GenericSchema<string | undefined, T>;
  /** What it does, as docs/configuration.md says it. */
  description: string;
  /**
   * The cache option it sets. Its rules (ranges, formats) are the library's own
   * (`validateCacheOptions`); its default is the library's ({@link DEFAULT_CACHE_OPTIONS}).
   */
  option?: keyof CacheOptions;
  /**
   * False when a message must not end with `, got "<text>"`: the text may be, or carry, a
   * password, or the message quotes the part that is wrong itself.
   */
  quote?: false;
}

/** Characters of the random id drawn at start; `<INSTANCE_NAME>/<id>` is the cache's origin. */
export const INSTANCE_ID_LENGTH = 8;
/** Longest `INSTANCE_NAME`: its origin `<name>/<id>` must fit the cache's bound on origins. */
export const MAX_INSTANCE_NAME_LENGTH = MAX_ORIGIN_LENGTH - 1 - INSTANCE_ID_LENGTH;

/** A seed node of `REDIS_CLUSTER_NODES`. */
export interface ClusterNode {
  host: string;
  port: number;
}

const CLUSTER_NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

/** An integer from `min` to `max`, surrounding blanks ignored. */
function integer(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, error),
    v.transform(Number),
    v.minValue(min, error),
    v.maxValue(max, error),
  );
}

/** `0` or `1`, as false or true. */
function flag() {
  return v.pipe(
    v.picklist(['0', '1'], 'must be 0 or 1'),
    v.transform((raw) => raw === '1'),
  );
}

/** A URL of one of `protocols` (e.g. `redis:`). */
function url(...protocols: string[]) {
  return v.pipe(
    v.string(),
    v.check(
      (raw) => URL.canParse(raw) && protocols.includes(new URL(raw).protocol),
      `must be a ${protocols.map((protocol) => `${protocol}//`).join(' or ')} URL`,
    ),
  );
}

/** 1 to `max` characters of `[A-Za-z0-9_.-]`-like `chars`. */
function word(chars: string, max: number, why = '') {
  return v.pipe(
    v.string(),
    v.regex(
      new RegExp(`^[${chars}]{1,${max}}$`),
      `must be 1-${max} characters of [${chars}]${why}`,
    ),
  );
}

/**
 * A cache option's text as a number, or NaN when it is not one; its range is the library's to
 * check, and its default (when unset) the library's.
 */
function cacheNumber<K extends keyof typeof DEFAULT_CACHE_OPTIONS>(option: K, fraction = false) {
  const number = fraction ? /^\s*\d+(\.\d+)?\s*$/ : /^\s*\d+\s*$/;
  const fallback = DEFAULT_CACHE_OPTIONS[option] as number;
  return v.pipe(
    v.optional(v.string()),
    v.transform((raw) =>
      raw === undefined ? fallback : number.test(raw) ? Number(raw) : Number.NaN,
    ),
  );
}

/**
 * The settings of an instance, each under its name in {@link AppConfig}. A default is written as
 * the text an unset variable stands for (`v.optional(schema, '3000')`), so it is parsed and checked
 * as that text would be; a cache option's default is the library's.
 */
export const SETTINGS = {
  port: {
    env: 'PORT',
    schema: v.optional(integer(1, 65535), '3000'),
    description: 'port to listen on',
  },
  host: {
    env: 'HOST',
    schema: v.optional(v.string(), '127.0.0.1'),
    description: 'address to listen on',
  },
  instanceName: {
    env: 'INSTANCE_NAME',
    schema: v.optional(
      word(
        'A-Za-z0-9_.-',
        MAX_INSTANCE_NAME_LENGTH,
        ` (with a ${INSTANCE_ID_LENGTH}-character id it is the cache's origin, at most ${MAX_ORIGIN_LENGTH})`,
      ),
      'app',
    ),
    description: `the instance's name; with the ${INSTANCE_ID_LENGTH}-character id drawn at start, its origin on the invalidation channel`,
  },
  runId: {
    env: 'CLUSTER_RUN_ID',
    schema: v.optional(word('A-Za-z0-9_-', 64)),
    description:
      "set by `npm start` to a random token per run and reported by `/readyz` (`run`), so that the cluster tells its own instances from another cluster's on the same ports",
  },
  redisUrl: {
    env: 'REDIS_URL',
    schema: v.optional(url('redis:', 'rediss:'), 'redis://127.0.0.1:6379'),
    description:
      '`redis://` or `rediss://` (TLS), with credentials if Redis wants them (`redis://:password@host:6379`, or `redis://user:password@host:6379` for an ACL user; percent-encode special characters of the password); logged with the password masked',
    quote: false,
  },
  redisTlsCaFile: {
    env: 'REDIS_TLS_CA_FILE',
    schema: v.optional(v.string()),
    description:
      "a PEM file of the certificate authority that signed Redis's certificate, for a private CA (needs a `rediss://` URL); without it, Node's usual public CAs",
  },
  redisClusterNodes: {
    env: 'REDIS_CLUSTER_NODES',
    schema: v.optional(
      v.pipe(
        v.string(),
        v.rawTransform(
          ({ dataset: { value: raw }, addIssue, NEVER }): ClusterNode[] | undefined => {
            if (raw.trim() === '') return undefined;
            const nodes: ClusterNode[] = [];
            for (const entry of raw.split(',').map((part) => part.trim())) {
              const match = CLUSTER_NODE.exec(entry);
              const port = Number(match?.[2]);
              if (!match?.[1] || port < 1 || port > 65535) {
                addIssue({
                  message: `must be a comma-separated list of host:port, got ${JSON.stringify(entry)} in ${JSON.stringify(raw)}`,
                });
                return NEVER;
              }
              nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
            }
            return nodes;
          },
        ),
      ),
    ),
    quote: false,
    description:
      "seed nodes of a Redis Cluster, `host:port,…`: the instance uses node-redis's cluster client and sharded Pub/Sub (Redis ≥ 7), refused at start when a node is not in cluster mode or runs Redis < 7; credentials and TLS still come from `REDIS_URL` (its host and port unused) and `REDIS_TLS_CA_FILE` (see [Running against a Redis Cluster](redis-cluster.md))",
  },
  invalidationSecrets: {
    env: 'INVALIDATION_SECRET',
    schema: v.pipe(
      v.optional(v.string()),
      v.transform((raw) => raw?.split(',').map((secret) => secret.trim()) ?? []),
    ),
    description:
      'signs every invalidation message (HMAC-SHA256); messages not signed with it are dropped and counted (`/stats` → `cache.messagesRejected`), so every instance needs the same one. Several, comma-separated, rotate it: the first signs, each one is accepted. At least 16 characters each; never logged (see [Running it safely](running-safely.md))',
    option: 'signingSecret',
    quote: false,
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    schema: v.optional(
      url('postgres:', 'postgresql:'),
      'postgres://postgres@127.0.0.1:25432/postgres',
    ),
    description: 'the PostgreSQL to use (the default is the embedded database of `npm start`)',
    quote: false,
  },
  dbLatencyMs: {
    env: 'DB_LATENCY_MS',
    schema: v.optional(integer(0, 60_000), '50'),
    description: "simulated latency of every query but `/readyz`'s",
  },
  dbPoolMax: {
    env: 'DB_POOL_MAX',
    schema: v.optional(integer(1, 1000), '10'),
    description: 'database connections at most',
  },
  dbQueryTimeoutMs: {
    env: 'DB_QUERY_TIMEOUT_MS',
    schema: v.optional(integer(1, 600_000), '5000'),
    description: 'longest wait for one query before a 503',
  },
  dbConnectTimeoutMs: {
    env: 'DB_CONNECT_TIMEOUT_MS',
    schema: v.optional(integer(1, 600_000), '2000'),
    description: 'longest wait for a pooled connection before a 503',
  },
  seedUsers: {
    env: 'SEED_USERS',
    schema: v.optional(integer(0, 10_000_000), '10000'),
    description: 'users `1`…`N` created when the table is empty',
  },
  cacheStrategy: {
    env: 'CACHE_STRATEGY',
    schema: v.optional(
      v.pipe(
        v.string(),
        v.transform((raw) => raw as Strategy),
      ),
      DEFAULT_CACHE_OPTIONS.strategy,
    ),
    description:
      '`versioned`, or `delete` / `ttl-only` for comparison, or `none`: no caching, every read goes to the database',
    option: 'strategy',
  },
  // #region tutorial:cache-settings
  cacheNamespace: {
    env: 'CACHE_NAMESPACE',
    schema: v.optional(v.string(), DEFAULT_CACHE_OPTIONS.namespace),
    description: 'prefix of every Redis key',
    option: 'namespace',
  },
  cacheTtlMs: {
    env: 'CACHE_TTL_MS',
    schema: cacheNumber('ttlMs'),
    description: 'TTL of every Redis entry',
    option: 'ttlMs',
  },
  // #endregion tutorial:cache-settings
  ttlJitter: {
    env: 'TTL_JITTER',
    schema: cacheNumber('ttlJitter', true),
    description:
      'each Redis and L1 TTL is shortened by a random part of up to this fraction, so that entries filled together do not expire together; 0 turns it off',
    option: 'ttlJitter',
  },
  negativeTtlMs: {
    env: 'NEGATIVE_TTL_MS',
    schema: cacheNumber('negativeTtlMs'),
    description: 'TTL of a cached "not found"',
    option: 'negativeTtlMs',
  },
  l1MaxEntries: {
    env: 'L1_MAX_ENTRIES',
    schema: cacheNumber('l1MaxEntries'),
    description: 'in-process entries at most; 0 disables L1',
    option: 'l1MaxEntries',
  },
  l1TtlMs: {
    env: 'L1_TTL_MS',
    schema: cacheNumber('l1TtlMs'),
    description: 'TTL of every L1 entry: the last safety net',
    option: 'l1TtlMs',
  },
  highWaterMarkMaxEntries: {
    env: 'HIGH_WATER_MARK_MAX_ENTRIES',
    schema: cacheNumber('highWaterMarkMaxEntries'),
    description: 'keys whose announced version is remembered',
    option: 'highWaterMarkMaxEntries',
  },
  heartbeatIntervalMs: {
    env: 'HEARTBEAT_INTERVAL_MS',
    schema: cacheNumber('heartbeatIntervalMs'),
    description: 'how often the invalidation bus checks itself',
    option: 'heartbeatIntervalMs',
  },
  heartbeatTimeoutMs: {
    env: 'HEARTBEAT_TIMEOUT_MS',
    schema: cacheNumber('heartbeatTimeoutMs'),
    description: 'L1 is untrusted after this long without an own heartbeat',
    option: 'heartbeatTimeoutMs',
  },
  redisTimeoutMs: {
    env: 'REDIS_TIMEOUT_MS',
    schema: cacheNumber('redisTimeoutMs'),
    description: 'longest wait for one Redis call',
    option: 'redisTimeoutMs',
  },
  maxConcurrentLoads: {
    env: 'MAX_CONCURRENT_LOADS',
    schema: cacheNumber('maxConcurrentLoads'),
    description: 'database loads in flight at most; more misses get 503',
    option: 'maxConcurrentLoads',
  },
  loadLeaseMs: {
    env: 'LOAD_LEASE_MS',
    schema: cacheNumber('loadLeaseMs'),
    description:
      "on a miss everywhere, one instance takes the key's load lease in Redis and loads; the others wait up to this long for its fill, then load themselves. 0 turns it off",
    option: 'loadLeaseMs',
  },
  staleIfErrorMs: {
    env: 'STALE_IF_ERROR_MS',
    schema: cacheNumber('staleIfErrorMs'),
    description:
      'when the database fails, a read may be answered with the L1 copy if it expired at most this long ago (`X-Cache: STALE`, `Age`), never below an announced version, never for strict reads. 0 turns it off',
    option: 'staleIfErrorMs',
  },
  earlyRefresh: {
    env: 'EARLY_REFRESH',
    schema: cacheNumber('earlyRefresh', true),
    description:
      "an L1 hit in the last fraction of its entry's life starts one background reload, so that a hot key does not miss on expiry. 0 turns it off",
    option: 'earlyRefresh',
  },
  labFillDelayMs: {
    env: 'LAB_FILL_DELAY_MS',
    schema: v.optional(integer(0, 60_000), '0'),
    description:
      'lab only: holds every cache fill this long after its database read, which widens the window of the stale-set race so that the lab can show it',
  },
  outboxPollMs: {
    env: 'OUTBOX_POLL_MS',
    schema: v.optional(integer(1, 600_000), '250'),
    description:
      "how often the relay checks the database's outbox without a notification: the delivery bound of a write that bypasses the instances on the embedded database",
  },
  outboxBatchSize: {
    env: 'OUTBOX_BATCH_SIZE',
    schema: v.optional(integer(1, 100_000), '500'),
    description:
      'outbox rows claimed and announced per batch (pipelined, which must fit in `REDIS_TIMEOUT_MS`)',
  },
  outboxLeaseMs: {
    env: 'OUTBOX_LEASE_MS',
    schema: v.optional(integer(1, 3_600_000), '5000'),
    description:
      'how long a claimed batch stays reserved for its relay; if that instance dies, another relays the batch after this long',
  },
  outboxListen: {
    env: 'OUTBOX_LISTEN',
    schema: v.optional(flag(), '1'),
    description:
      "`1` wakes the relay on the database's NOTIFY (PostgreSQL; skipped on the embedded PGlite), `0` polls only",
  },
  outboxListenUrl: {
    env: 'OUTBOX_LISTEN_URL',
    schema: v.optional(url('postgres:', 'postgresql:')),
    description:
      'where the relay LISTENs when not on `DATABASE_URL`: a direct connection to PostgreSQL for instances behind a pooler in transaction mode (PgBouncer), through which a LISTEN never hears anything',
    quote: false,
  },
  crashAfterCommit: {
    env: 'CRASH_AFTER_COMMIT',
    schema: v.optional(flag(), '0'),
    description:
      'lab and tests only: `1` SIGKILLs the instance right after a database commit, before any Redis call',
  },
  startupTimeoutMs: {
    env: 'STARTUP_TIMEOUT_MS',
    schema: v.optional(integer(0, 3_600_000), '30000'),
    description: 'how long to wait for Redis and the database at start',
  },
  shutdownTimeoutMs: {
    env: 'SHUTDOWN_TIMEOUT_MS',
    schema: v.optional(integer(0, 600_000), '10000'),
    description: 'how long in-flight requests may take to finish on SIGTERM',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    schema: v.optional(v.picklist(logLevels, `must be one of ${logLevels.join(', ')}`), 'info'),
    description: `\`info\` logs start, stop and faults; \`debug\` adds one line per request; also ${logLevels
      .filter((level) => level !== 'info' && level !== 'debug')
      .map((level) => `\`${level}\``)
      .join(', ')}`,
  },
} as const satisfies Record<string, Setting>;

/** The name in {@link AppConfig} of each setting. */
export type SettingName = keyof typeof SETTINGS;

/** Settings of one instance, read from the environment once, at start. */
export type Settings = { [K in SettingName]: v.InferOutput<(typeof SETTINGS)[K]['schema']> };

/** The value of a setting whose variable is unset: its default, or `undefined` without one. */
export function settingDefault<S extends Setting>(setting: S): v.InferOutput<S['schema']> {
  return v.parse(setting.schema, undefined);
}

/** The settings whose value does not fit the cache option they declare: none, or tsc fails. */
type MisfitOptions = {
  [K in SettingName]: (typeof SETTINGS)[K] extends { option: infer O extends keyof CacheOptions }
    ? Settings[K] extends CacheOptions[O]
      ? never
      : K
    : never;
}[SettingName];
true satisfies [MisfitOptions] extends [never] ? true : MisfitOptions;
