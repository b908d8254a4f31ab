/**
 * One cachelab instance: reads its configuration from the environment, connects to Redis and the
 * database (waiting for them up to STARTUP_TIMEOUT_MS), and serves the API until SIGTERM/SIGINT.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { createCache } from '@cachelab/cache';
import { createPool, createUsersRepository, prepareDatabase } from '@cachelab/store';
import { nanoid } from 'nanoid';
import { createClient } from 'redis';
import { createApp } from './app.ts';
import { type AppConfig, readConfig, redactUrl } from './config.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { refuseConnect } from './refuse-connect.ts';
import type { UserBody } from './user-view.ts';

let config: AppConfig;
try {
  config = readConfig(process.env);
} catch (error) {
  // Before the logger exists (its level is configuration too): a plain, readable message.
  console.error((error as Error).message);
  process.exit(1);
}

const instance = { name: config.instanceName, id: nanoid(8) };
const logger = createLogger({ level: config.logLevel, instance });
// Built before the cache and the repository: their event hooks feed its histograms.
const metrics = createMetrics();

// Credentials and TLS come from the URL; a private CA is added to the socket options, which the
// subscriber below must repeat because `duplicate` replaces the socket options it is given.
const tls = config.redisTlsCa ? { tls: true as const, ca: config.redisTlsCa } : {};
const redis = createClient({
  url: config.redisUrl,
  // Fail commands at once while disconnected instead of queueing them: reads fall back to the
  // database rather than waiting for a Redis that may not come back soon.
  disableOfflineQueue: true,
  socket: {
    ...tls,
    connectTimeout: 2000,
    reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000),
  },
});
let redisDown = false;
// The last Redis error, for the message when startup gives up: node-redis's connect() keeps
// retrying by itself (e.g. on WRONGPASS or a certificate error) instead of rejecting.
let lastRedisError = '';
redis.on('error', (error: Error) => {
  if (!redisDown) logger.warn(`redis error: ${error.message}`);
  redisDown = true;
  lastRedisError = error.message;
});
redis.on('ready', () => {
  if (redisDown) logger.info('redis connection restored');
  redisDown = false;
});

// The invalidation bus gets a connection of its own (a subscriber can send nothing else). PINGs
// on it and a socket timeout make a silently dead connection fail and reconnect.
const subscriber =
  config.cacheStrategy === 'versioned'
    ? redis.duplicate({
        pingInterval: config.heartbeatIntervalMs,
        socket: {
          ...tls,
          connectTimeout: 2000,
          socketTimeout: config.heartbeatTimeoutMs * 2,
          reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000),
        },
      })
    : undefined;
subscriber?.on('error', (error: Error) => {
  if (!redisDown) logger.warn(`redis subscriber error: ${error.message}`);
  lastRedisError = error.message;
});

const pool = createPool(
  {
    connectionString: config.databaseUrl,
    max: config.dbPoolMax,
    queryTimeoutMs: config.dbQueryTimeoutMs,
    connectTimeoutMs: config.dbConnectTimeoutMs,
  },
  (error) => logger.warn(`database connection error: ${error.message}`),
);

await retryUntil('redis', () => redis.connect().then(() => undefined));
if (subscriber)
  await retryUntil('redis (subscriber)', () => subscriber.connect().then(() => undefined));
await retryUntil('the database', () => prepareDatabase(pool, { seedUsers: config.seedUsers }));

const users = createUsersRepository({
  db: pool,
  latencyMs: config.dbLatencyMs,
  onQuery: metrics.onQuery,
});
// #region tutorial:create-cache
const cache = createCache<UserBody>({
  redis,
  subscriber,
  strategy: config.cacheStrategy,
  origin: `${instance.name}/${instance.id}`,
  namespace: config.cacheNamespace,
  l1MaxEntries: config.l1MaxEntries,
  l1TtlMs: config.l1TtlMs,
  highWaterMarkMaxEntries: config.highWaterMarkMaxEntries,
  heartbeatIntervalMs: config.heartbeatIntervalMs,
  heartbeatTimeoutMs: config.heartbeatTimeoutMs,
  ttlMs: config.cacheTtlMs,
  negativeTtlMs: config.negativeTtlMs,
  redisTimeoutMs: config.redisTimeoutMs,
  maxConcurrentLoads: config.maxConcurrentLoads,
  signingSecret: config.invalidationSecrets.length > 0 ? config.invalidationSecrets : undefined,
  events: metrics.cacheEvents,
  hooks: config.labFillDelayMs > 0 ? { beforeFill: () => delay(config.labFillDelayMs) } : {},
});
// #endregion tutorial:create-cache
if (config.labFillDelayMs > 0) {
  logger.warn(
    `LAB_FILL_DELAY_MS=${config.labFillDelayMs}: cache fills are held (lab setting, not for production)`,
  );
}

let draining = false;
/** Longest wait, on shutdown, for Redis and the database to answer what is still queued. */
const CLOSE_TIMEOUT_MS = 2000;
const app = createApp({
  users,
  cache,
  instance,
  checks: { redis: async () => void (await redis.ping()), database: () => users.ping() },
  isDraining: () => draining,
  metrics,
  logger,
});
const server = app.listen(config.port, config.host);
server.on('connect', refuseConnect(`${instance.name}/${instance.id}`));
await once(server, 'listening');
logger.info(
  `listening on http://${config.host}:${config.port} as ${instance.name}/${instance.id} ` +
    `(redis ${redactUrl(config.redisUrl)}, database ${redactUrl(config.databaseUrl)}, ` +
    `strategy ${config.cacheStrategy}, latency ${config.dbLatencyMs} ms` +
    `${config.invalidationSecrets.length > 0 ? ', signed invalidations' : ''})`,
);

async function shutdown(signal: string): Promise<void> {
  if (draining) return;
  draining = true;
  logger.info(`${signal}: draining in-flight requests`);
  // Stop accepting, let requests in flight finish, then cut whatever is still open. A connection
  // whose request was in flight turns idle once it is answered: it is closed then, not left to
  // its keep-alive timeout.
  const closed = once(server, 'close');
  server.close();
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
  await closed;
  clearInterval(sweep);
  clearTimeout(force);
  await cache.close();
  // close() waits for the answers to commands still queued, and a frozen Redis (or database)
  // never sends them: after CLOSE_TIMEOUT_MS the connections are cut instead.
  const closing = Promise.allSettled([redis.close(), subscriber?.close(), pool.end()]);
  const cut = delay(CLOSE_TIMEOUT_MS, 'cut' as const);
  if ((await Promise.race([closing, cut])) === 'cut') {
    logger.warn(`connections still closing after ${CLOSE_TIMEOUT_MS} ms: cut`);
    redis.destroy();
    subscriber?.destroy();
  }
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

/** Retries `attempt` until it succeeds or STARTUP_TIMEOUT_MS passes; then exits with an error. */
async function retryUntil(what: string, attempt: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + config.startupTimeoutMs;
  for (let tries = 1; ; tries++) {
    try {
      // An attempt that neither succeeds nor fails (a client retrying inside connect()) is cut at
      // the deadline too; it gets at least a couple of seconds.
      await withDeadline(attempt(), Math.max(deadline - Date.now(), 2000), what);
      return;
    } catch (error) {
      if (Date.now() >= deadline) {
        logger.fatal(`could not reach ${what}: ${(error as Error).message}`);
        process.exit(1);
      }
      if (tries === 1) logger.info(`waiting for ${what} (${(error as Error).message})`);
      await delay(Math.min(100 * tries, 1000));
    }
  }
}

function withDeadline(work: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const cause = what.startsWith('redis') && lastRedisError ? lastRedisError : 'no answer';
      reject(new Error(`gave up after ${config.startupTimeoutMs} ms (${cause})`));
    }, ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
