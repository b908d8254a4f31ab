import { readFileSync } from 'node:fs';
import {
  type CacheOptions,
  DEFAULT_CACHE_OPTIONS,
  MAX_ORIGIN_LENGTH,
  type Strategy,
  validateCacheOptions,
} from '@cachelab/cache';
import { type LogLevel, logLevels } from './logger.ts';

/** Settings of one instance, read from the environment once, at start. */
export interface AppConfig {
  /** `PORT` @default 3000 */
  port: number;
  /** `HOST` @default '127.0.0.1' */
  host: string;
  /** `INSTANCE_NAME` @default 'app' */
  instanceName: string;
  /**
   * `CLUSTER_RUN_ID`: set by `npm start` to a random token per run and reported by `/readyz`
   * (`run`), so that the cluster script can tell its own instances from another cluster's on the
   * same ports. 1-64 characters of `[A-Za-z0-9_-]`.
   * @default none (not reported)
   */
  runId: string | undefined;
  /**
   * `REDIS_URL`: `redis://` or `rediss://` (TLS), with credentials if Redis wants them:
   * `redis://:password@host:6379` (the default user) or `redis://user:password@host:6379` (an ACL
   * user). Percent-encode special characters of the password. Logged only with the password masked.
   * @default 'redis://127.0.0.1:6379'
   */
  redisUrl: string;
  /**
   * `REDIS_TLS_CA_FILE`: path to a PEM file of the certificate authority that signed Redis's
   * certificate, for a private CA (needs a `rediss://` URL). Read once, at start. Without it,
   * `rediss://` trusts Node's usual public CAs.
   * @default none
   */
  redisTlsCa: string | undefined;
  /**
   * `REDIS_CLUSTER_NODES`: seed nodes of a Redis Cluster, `host:port,host:port,…` (one is enough;
   * the client discovers the rest). When set, the instance uses node-redis's cluster client and
   * sharded Pub/Sub (`SPUBLISH`/`SSUBSCRIBE`, Redis ≥ 7); credentials and TLS still come from
   * `REDIS_URL` (`rediss://user:password@…`; its host and port are not used) and
   * `REDIS_TLS_CA_FILE`. Refused at start when a node is not in cluster mode or runs Redis < 7.
   * @default none (one Redis, `REDIS_URL`)
   */
  redisClusterNodes: ClusterNode[] | undefined;
  /**
   * `INVALIDATION_SECRET`: signs every message on the invalidation channel (HMAC-SHA256); messages
   * not signed with it are dropped and counted (`/stats` → `cache.messagesRejected`). Every
   * instance must have the same one. Several, comma-separated, rotate it: the first signs, each one
   * is accepted. At least 16 characters each. Never logged.
   * @default none (messages are not signed)
   */
  invalidationSecrets: string[];
  /** `DATABASE_URL` @default the embedded database of `npm start` */
  databaseUrl: string;
  /** `DB_LATENCY_MS`: simulated latency of every query but the `/readyz` ping. @default 50 */
  dbLatencyMs: number;
  /** `DB_POOL_MAX` @default 10 */
  dbPoolMax: number;
  /** `DB_QUERY_TIMEOUT_MS`: longest wait for one query before a 503. @default 5000 */
  dbQueryTimeoutMs: number;
  /** `DB_CONNECT_TIMEOUT_MS`: longest wait for a pooled connection before a 503. @default 2000 */
  dbConnectTimeoutMs: number;
  /** `MAX_CONCURRENT_LOADS`: database loads in flight at most; more misses get 503. @default 32 */
  maxConcurrentLoads: number;
  /**
   * `LOAD_LEASE_MS`: on a miss everywhere, one instance takes the key's load lease in Redis and
   * loads; the others wait up to this long for its fill, then load themselves. 0 turns it off
   * (one load per instance). 0 to 60000. @default 500
   */
  loadLeaseMs: number;
  /**
   * `STALE_IF_ERROR_MS`: when the database fails, a read may be answered with the instance's L1
   * copy if it expired at most this long ago (`X-Cache: STALE`, `Age`), never below an announced
   * version or `X-Min-Version`, never for strict reads. 0 turns it off. @default 0
   */
  staleIfErrorMs: number;
  /**
   * `EARLY_REFRESH`: an L1 hit in the last fraction of its entry's life starts one background
   * reload, so a hot key does not miss on expiry. 0 to 0.9; 0 turns it off. @default 0
   */
  earlyRefresh: number;
  /** `SEED_USERS`: users `1`…`N` created when the table is empty. @default 10000 */
  seedUsers: number;
  /** `CACHE_NAMESPACE`: prefix of every Redis key. @default 'cl' */
  cacheNamespace: string;
  /** `CACHE_STRATEGY`: `versioned`, `delete`, `ttl-only` or `none`. @default 'versioned' */
  cacheStrategy: Strategy;
  /** `L1_MAX_ENTRIES`: in-process entries at most; 0 disables L1. @default 10000 */
  l1MaxEntries: number;
  /** `HIGH_WATER_MARK_MAX_ENTRIES`: keys whose announced version is remembered. @default 100000 */
  highWaterMarkMaxEntries: number;
  /** `L1_TTL_MS`: the last safety net of L1. @default 30000 */
  l1TtlMs: number;
  /** `HEARTBEAT_INTERVAL_MS`: how often the bus checks itself. @default 500 */
  heartbeatIntervalMs: number;
  /** `HEARTBEAT_TIMEOUT_MS`: L1 untrusted after this long without an own heartbeat. @default 2000 */
  heartbeatTimeoutMs: number;
  /** `CACHE_TTL_MS` @default 60000 */
  cacheTtlMs: number;
  /**
   * `TTL_JITTER`: each Redis and L1 TTL is shortened by a random part of up to this fraction, so
   * that entries filled together do not expire together. 0 to 0.9; 0 turns it off. @default 0.1
   */
  ttlJitter: number;
  /** `NEGATIVE_TTL_MS` @default 5000 */
  negativeTtlMs: number;
  /** `REDIS_TIMEOUT_MS`: longest wait for one Redis call. @default 250 */
  redisTimeoutMs: number;
  /**
   * `LAB_FILL_DELAY_MS`: lab only. Holds every cache fill this long after its database read, which
   * widens the window of the stale-set race so that the lab can show it. 0 (off) unless set.
   */
  labFillDelayMs: number;
  /**
   * `OUTBOX_POLL_MS`: how often the relay checks the database's outbox without a notification;
   * the delivery bound of a write that bypasses the instances on the embedded database. @default 250
   */
  outboxPollMs: number;
  /** `OUTBOX_BATCH_SIZE`: outbox rows claimed and announced per batch (one Lua script, or one per
   * row with sharded Pub/Sub, pipelined: which must fit in `REDIS_TIMEOUT_MS`). @default 500 */
  outboxBatchSize: number;
  /**
   * `OUTBOX_LEASE_MS`: how long a claimed batch stays reserved for its relay; if the relaying
   * instance dies, another one relays the batch after this long. @default 5000
   */
  outboxLeaseMs: number;
  /**
   * `OUTBOX_LISTEN`: `1` wakes the relay on the database's NOTIFY (PostgreSQL; skipped on the
   * embedded PGlite, whose server does not deliver notifications to other connections), `0` polls
   * only. @default 1
   */
  outboxListen: boolean;
  /**
   * `OUTBOX_LISTEN_URL`: where the relay LISTENs, when not on `DATABASE_URL`: a direct connection
   * to PostgreSQL for instances behind a pooler in transaction mode (PgBouncer), through which a
   * LISTEN never hears anything. @default `DATABASE_URL`
   */
  outboxListenUrl: string | undefined;
  /**
   * `CRASH_AFTER_COMMIT`: lab and tests only. `1` makes the instance SIGKILL itself right after
   * the database committed a write, before any Redis call. 0 (off) unless set.
   */
  crashAfterCommit: boolean;
  /** `STARTUP_TIMEOUT_MS`: how long to wait for Redis and the database at start. @default 30000 */
  startupTimeoutMs: number;
  /** `SHUTDOWN_TIMEOUT_MS`: how long in-flight requests may take to finish on SIGTERM. @default 10000 */
  shutdownTimeoutMs: number;
  /**
   * `LOG_LEVEL`: `info` logs start, stop and faults; `debug` adds one line per request; also
   * `fatal`, `error`, `warn`, `trace`, `silent`. @default 'info'
   */
  logLevel: LogLevel;
}

type Env = Record<string, string | undefined>;

/** A seed node of `REDIS_CLUSTER_NODES`. */
export interface ClusterNode {
  host: string;
  port: number;
}

const CLUSTER_NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$/;

/** `host:port,…` as nodes; a problem naming the setting and the entry when one is malformed. */
function clusterNodes(raw: string | undefined, problems: string[]): ClusterNode[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const nodes: ClusterNode[] = [];
  for (const entry of raw.split(',').map((part) => part.trim())) {
    const match = CLUSTER_NODE.exec(entry);
    const port = Number(match?.[2]);
    if (!match?.[1] || port < 1 || port > 65535) {
      problems.push(
        `REDIS_CLUSTER_NODES must be a comma-separated list of host:port, got ${JSON.stringify(entry)} in ${JSON.stringify(raw)}`,
      );
      return undefined;
    }
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  return nodes;
}

/** Characters of the random id drawn at start; `<INSTANCE_NAME>/<id>` is the cache's origin. */
export const INSTANCE_ID_LENGTH = 8;
/** Longest `INSTANCE_NAME`: its origin `<name>/<id>` must fit the cache's bound on origins. */
const MAX_INSTANCE_NAME_LENGTH = MAX_ORIGIN_LENGTH - 1 - INSTANCE_ID_LENGTH;
const INSTANCE_NAME = new RegExp(`^[A-Za-z0-9_.-]{1,${MAX_INSTANCE_NAME_LENGTH}}$`);

/**
 * The variable of each cache option the configuration sets. Their rules (ranges, formats) are the
 * library's own ({@link validateCacheOptions}): the configuration only reads and names them.
 */
const CACHE_VARIABLES = {
  strategy: 'CACHE_STRATEGY',
  namespace: 'CACHE_NAMESPACE',
  ttlMs: 'CACHE_TTL_MS',
  ttlJitter: 'TTL_JITTER',
  negativeTtlMs: 'NEGATIVE_TTL_MS',
  l1MaxEntries: 'L1_MAX_ENTRIES',
  l1TtlMs: 'L1_TTL_MS',
  highWaterMarkMaxEntries: 'HIGH_WATER_MARK_MAX_ENTRIES',
  heartbeatIntervalMs: 'HEARTBEAT_INTERVAL_MS',
  heartbeatTimeoutMs: 'HEARTBEAT_TIMEOUT_MS',
  redisTimeoutMs: 'REDIS_TIMEOUT_MS',
  maxConcurrentLoads: 'MAX_CONCURRENT_LOADS',
  loadLeaseMs: 'LOAD_LEASE_MS',
  staleIfErrorMs: 'STALE_IF_ERROR_MS',
  earlyRefresh: 'EARLY_REFRESH',
  signingSecret: 'INVALIDATION_SECRET',
} as const satisfies Partial<Record<keyof CacheOptions, string>>;

/** The cache options a configuration sets (all but the Redis clients, origin, events and hooks). */
// #region tutorial:cache-options
export function cacheOptionsOf(
  config: AppConfig,
): Omit<CacheOptions, 'redis' | 'subscriber' | 'origin' | 'events' | 'hooks' | 'onError'> {
  return {
    strategy: config.cacheStrategy,
    namespace: config.cacheNamespace,
    ttlMs: config.cacheTtlMs,
    ttlJitter: config.ttlJitter,
    negativeTtlMs: config.negativeTtlMs,
    l1MaxEntries: config.l1MaxEntries,
    l1TtlMs: config.l1TtlMs,
    highWaterMarkMaxEntries: config.highWaterMarkMaxEntries,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    redisTimeoutMs: config.redisTimeoutMs,
    maxConcurrentLoads: config.maxConcurrentLoads,
    loadLeaseMs: config.loadLeaseMs,
    staleIfErrorMs: config.staleIfErrorMs,
    earlyRefresh: config.earlyRefresh,
    signingSecret: config.invalidationSecrets.length > 0 ? config.invalidationSecrets : undefined,
    pubsub: config.redisClusterNodes ? 'sharded' : 'global',
  };
}
// #endregion tutorial:cache-options

/** The library's problems with the cache settings, each under its variable's name. */
function cacheProblems(config: AppConfig, env: Env): string[] {
  const variable = (option: string) =>
    (CACHE_VARIABLES as Record<string, string | undefined>)[option] ?? `\`${option}\``;
  return validateCacheOptions(cacheOptionsOf(config)).map(({ option, rule }) => {
    const name = variable(option);
    const raw = env[name];
    // A secret is never quoted.
    const got = raw && option !== 'signingSecret' ? `, got ${JSON.stringify(raw)}` : '';
    return `${name} ${rule.replace(/`(\w+)`/g, (_, other: string) => variable(other))}${got}`;
  });
}

/** Reads and validates the configuration; throws one error listing every invalid variable. */
export function readConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  // A cache setting: an integer, or its default; its range is the library's to check.
  const cacheInt = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    return /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  };
  const flag = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw !== '0' && raw !== '1')
      problems.push(`${name} must be 0 or 1, got ${JSON.stringify(raw)}`);
    return raw === '1';
  };
  // A cache setting that is a fraction: a decimal number, or its default; the library checks it.
  const cacheFraction = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    return /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : Number.NaN;
  };
  const url = (name: string, fallback: string, protocols: string[]): string => {
    const raw = env[name] || fallback;
    if (!URL.canParse(raw) || !protocols.includes(new URL(raw).protocol)) {
      problems.push(`${name} must be a ${protocols.join(' or ')}// URL`);
    }
    return raw;
  };
  const redisUrl = url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']);
  const caFile = env.REDIS_TLS_CA_FILE || undefined;
  const config: AppConfig = {
    port: int('PORT', 3000, 1, 65535),
    host: env.HOST || '127.0.0.1',
    instanceName: env.INSTANCE_NAME || 'app',
    runId: env.CLUSTER_RUN_ID || undefined,
    redisUrl,
    redisTlsCa: caFile === undefined ? undefined : readPem('REDIS_TLS_CA_FILE', caFile, problems),
    redisClusterNodes: clusterNodes(env.REDIS_CLUSTER_NODES, problems),
    invalidationSecrets: secrets(env.INVALIDATION_SECRET),
    databaseUrl: url('DATABASE_URL', 'postgres://postgres@127.0.0.1:25432/postgres', [
      'postgres:',
      'postgresql:',
    ]),
    dbLatencyMs: int('DB_LATENCY_MS', 50, 0, 60_000),
    dbPoolMax: int('DB_POOL_MAX', 10, 1, 1000),
    dbQueryTimeoutMs: int('DB_QUERY_TIMEOUT_MS', 5000, 1, 600_000),
    dbConnectTimeoutMs: int('DB_CONNECT_TIMEOUT_MS', 2000, 1, 600_000),
    maxConcurrentLoads: cacheInt('MAX_CONCURRENT_LOADS', DEFAULT_CACHE_OPTIONS.maxConcurrentLoads),
    loadLeaseMs: cacheInt('LOAD_LEASE_MS', DEFAULT_CACHE_OPTIONS.loadLeaseMs),
    staleIfErrorMs: cacheInt('STALE_IF_ERROR_MS', DEFAULT_CACHE_OPTIONS.staleIfErrorMs),
    earlyRefresh: cacheFraction('EARLY_REFRESH', DEFAULT_CACHE_OPTIONS.earlyRefresh),
    seedUsers: int('SEED_USERS', 10_000, 0, 10_000_000),
    cacheNamespace: env.CACHE_NAMESPACE || DEFAULT_CACHE_OPTIONS.namespace,
    cacheStrategy: (env.CACHE_STRATEGY || DEFAULT_CACHE_OPTIONS.strategy) as Strategy,
    l1MaxEntries: cacheInt('L1_MAX_ENTRIES', DEFAULT_CACHE_OPTIONS.l1MaxEntries),
    highWaterMarkMaxEntries: cacheInt(
      'HIGH_WATER_MARK_MAX_ENTRIES',
      DEFAULT_CACHE_OPTIONS.highWaterMarkMaxEntries,
    ),
    l1TtlMs: cacheInt('L1_TTL_MS', DEFAULT_CACHE_OPTIONS.l1TtlMs),
    heartbeatIntervalMs: cacheInt(
      'HEARTBEAT_INTERVAL_MS',
      DEFAULT_CACHE_OPTIONS.heartbeatIntervalMs,
    ),
    heartbeatTimeoutMs: cacheInt('HEARTBEAT_TIMEOUT_MS', DEFAULT_CACHE_OPTIONS.heartbeatTimeoutMs),
    cacheTtlMs: cacheInt('CACHE_TTL_MS', DEFAULT_CACHE_OPTIONS.ttlMs),
    ttlJitter: cacheFraction('TTL_JITTER', DEFAULT_CACHE_OPTIONS.ttlJitter),
    negativeTtlMs: cacheInt('NEGATIVE_TTL_MS', DEFAULT_CACHE_OPTIONS.negativeTtlMs),
    redisTimeoutMs: cacheInt('REDIS_TIMEOUT_MS', DEFAULT_CACHE_OPTIONS.redisTimeoutMs),
    labFillDelayMs: int('LAB_FILL_DELAY_MS', 0, 0, 60_000),
    outboxPollMs: int('OUTBOX_POLL_MS', 250, 1, 600_000),
    outboxBatchSize: int('OUTBOX_BATCH_SIZE', 500, 1, 100_000),
    outboxLeaseMs: int('OUTBOX_LEASE_MS', 5000, 1, 3_600_000),
    outboxListen: flag('OUTBOX_LISTEN', true),
    outboxListenUrl: env.OUTBOX_LISTEN_URL
      ? url('OUTBOX_LISTEN_URL', '', ['postgres:', 'postgresql:'])
      : undefined,
    crashAfterCommit: flag('CRASH_AFTER_COMMIT', false),
    startupTimeoutMs: int('STARTUP_TIMEOUT_MS', 30_000, 0, 3_600_000),
    shutdownTimeoutMs: int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    logLevel: (env.LOG_LEVEL || 'info') as LogLevel,
  };
  if (!(logLevels as readonly string[]).includes(config.logLevel)) {
    problems.push(`LOG_LEVEL must be one of ${logLevels.join(', ')}`);
  }
  problems.push(...cacheProblems(config, env));
  if (!INSTANCE_NAME.test(config.instanceName)) {
    problems.push(
      `INSTANCE_NAME must be 1-${MAX_INSTANCE_NAME_LENGTH} characters of [A-Za-z0-9_.-] ` +
        `(with a ${INSTANCE_ID_LENGTH}-character id it is the cache's origin, at most ${MAX_ORIGIN_LENGTH})`,
    );
  }
  if (config.runId !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(config.runId)) {
    problems.push('CLUSTER_RUN_ID must be 1-64 characters of [A-Za-z0-9_-]');
  }
  if (caFile !== undefined && !redisUrl.startsWith('rediss:')) {
    problems.push('REDIS_TLS_CA_FILE needs a rediss:// REDIS_URL');
  }
  if (problems.length > 0) throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return config;
}

/** The certificates of a PEM file; a problem when it cannot be read or holds none. */
function readPem(name: string, path: string, problems: string[]): string | undefined {
  try {
    const pem = readFileSync(path, 'utf8');
    if (pem.includes('-----BEGIN CERTIFICATE-----')) return pem;
    problems.push(`${name}: ${path} holds no PEM certificate`);
  } catch (error) {
    problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`);
  }
  return undefined;
}

/** Comma-separated secrets (checked by the library's rule, which never quotes them). */
function secrets(raw: string | undefined): string[] {
  if (raw === undefined || raw === '') return [];
  return raw.split(',').map((secret) => secret.trim());
}

/** A URL with its password masked, fit for logs. */
export function redactUrl(raw: string): string {
  const url = new URL(raw);
  if (url.password) url.password = '***';
  return url.toString();
}
