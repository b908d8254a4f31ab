/**
 * One cachelab instance: reads its configuration from the environment, connects to Redis and the
 * database (waiting for them up to STARTUP_TIMEOUT_MS), and serves the API until SIGTERM/SIGINT.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { type CacheError, cacheErrorCodes, createCache, isValidKey } from '@cachelab/cache';
import {
  createOutboxRelay,
  createPool,
  createUsersRepository,
  prepareDatabase,
  type UsersRepository,
} from '@cachelab/store';
import { createClient } from '@redis/client';
import { nanoid } from 'nanoid';
import { createServer } from './app.ts';
import {
  type AppConfig,
  cacheOptionsOf,
  INSTANCE_ID_LENGTH,
  readConfig,
  redactUrl,
} from './config.ts';
import { watchCluster, watchConnection } from './connection-watchdog.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import {
  checkClusterNode,
  completeSlotMap,
  createClusterClients,
  type SlotMapped,
  showsStaleSlotMap,
  watchSlotMaps,
} from './redis-cluster.ts';
import type { UserBody } from './user-view.ts';

let config: AppConfig;
try {
  config = readConfig(process.env);
} catch (error) {
  // Before the logger exists (its level is configuration too): a plain, readable message.
  console.error((error as Error).message);
  process.exit(1);
}

// Set once shutdown begins; read by the connection error handlers below.
let draining = false;
const instance = { name: config.instanceName, id: nanoid(INSTANCE_ID_LENGTH), runId: config.runId };
const logger = createLogger({ level: config.logLevel, instance });
// Built before the cache and the repository: their event hooks feed its histograms.
const metrics = createMetrics();

// Credentials and TLS come from the URL; a private CA is added to the socket options, which the
// subscriber below must repeat because `duplicate` replaces the socket options it is given.
const tls = config.redisTlsCa ? { tls: true as const, ca: config.redisTlsCa } : {};
// REDIS_CLUSTER_NODES: node-redis's cluster client, and one more for the sharded subscriptions.
const cluster = config.redisClusterNodes
  ? createClusterClients(config, config.cacheStrategy === 'versioned')
  : undefined;
const single = createClient({
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
let lastSubscribeError: string | undefined;
// The last Redis error, for the message when startup gives up: node-redis's connect() keeps
// retrying by itself (e.g. on WRONGPASS or a certificate error) instead of rejecting.
let lastRedisError = '';
// Typed as one client: the cache takes either (RedisLike), and what this file calls on it
// (connect, ping, close, destroy, events) both have.
const redis = (cluster?.redis ?? single) as typeof single;
redis.on(cluster ? 'node-error' : 'error', (error: Error) => {
  // While draining, Redis stopping too (Ctrl-C reaches it as well) is expected, not a fault.
  if (!redisDown && !draining) logger.warn(`redis error: ${error.message}`);
  redisDown = true;
  lastRedisError = error.message;
});
// A cluster reports its own trouble (slot discovery) as 'error', its nodes' as 'node-error'.
if (cluster) {
  redis.on('error', (error: Error) => {
    lastRedisError = error.message;
  });
}
redis.on(cluster ? 'node-ready' : 'ready', () => {
  if (redisDown) logger.info('redis connection restored');
  redisDown = false;
});

// The invalidation bus gets a connection of its own (a subscriber can send nothing else). Both
// connections are watched for a silent death below, once connected.
const subscriber = cluster
  ? (cluster.subscriber as typeof single | undefined)
  : config.cacheStrategy === 'versioned'
    ? single.duplicate({
        socket: {
          ...tls,
          connectTimeout: 2000,
          reconnectStrategy: (retries) => Math.min(50 * 2 ** retries, 2000),
        },
      })
    : undefined;
subscriber?.on('error', (error: Error) => {
  if (!redisDown && !draining) logger.warn(`redis subscriber error: ${error.message}`);
  lastRedisError = error.message;
});

const pool = createPool(
  {
    connectionString: config.databaseUrl,
    max: config.dbPoolMax,
    queryTimeoutMs: config.dbQueryTimeoutMs,
    connectTimeoutMs: config.dbConnectTimeoutMs,
  },
  (error) => {
    if (draining) logger.debug(`database connection closed while stopping: ${error.message}`);
    else logger.warn(`database connection error: ${error.message}`);
  },
);

if (config.redisClusterNodes) await retryUntil('redis', checkCluster);
await retryUntil('redis', () => redis.connect().then(() => undefined));
if (subscriber)
  await retryUntil('redis (subscriber)', () => subscriber.connect().then(() => undefined));
// Each cluster client took its slot map from whichever seed it asked first, which may be a node
// still learning the cluster even though the seed checked above was whole: mend it before use.
const slotMapped = cluster
  ? ([cluster.redis, cluster.subscriber].filter(Boolean) as unknown as SlotMapped[])
  : [];
for (const [i, client] of slotMapped.entries()) {
  const what = i === 0 ? 'redis' : 'redis (subscriber)';
  await retryUntil(what, () => completeSlotMap(client, `${what} client's`));
}
// At run time too: a slot without a node (or CLUSTERDOWN) makes the instance rediscover, and it
// is not ready until every slot has a node again.
const slotWatch = cluster
  ? watchSlotMaps(slotMapped, {
      intervalMs: config.heartbeatIntervalMs,
      onChange: (missing, error) => {
        if (draining) return;
        if (error) logger.warn(`redis cluster: rediscovering the slot map: ${error.message}`);
        else if (missing > 0) logger.warn(`redis cluster: no node known for ${missing} slots`);
        else logger.info('redis cluster: every slot has a node again');
      },
    })
  : undefined;
await retryUntil('the database', () => prepareDatabase(pool, { seedUsers: config.seedUsers }));

// A connection that dies without FIN or RST is replaced within HEARTBEAT_INTERVAL_MS +
// HEARTBEAT_TIMEOUT_MS (2.5 s by default): node-redis alone would keep writing into it forever.
// On a cluster: each master's command connection, and each shard's subscriber connection.
const watchdogs = (
  cluster
    ? [cluster.redis, cluster.subscriber].flatMap((client) =>
        client
          ? [
              watchCluster(client, {
                intervalMs: config.heartbeatIntervalMs,
                timeoutMs: config.heartbeatTimeoutMs,
                onReplace: (node, role, reason) =>
                  logger.warn(`redis ${role} connection to ${node} replaced: ${reason}`),
              }),
            ]
          : [],
      )
    : (
        [
          ['command', redis],
          ['subscriber', subscriber],
        ] as const
      ).flatMap(([role, client]) =>
        client
          ? [
              watchConnection(client, {
                intervalMs: config.heartbeatIntervalMs,
                timeoutMs: config.heartbeatTimeoutMs,
                onReplace: (reason) => logger.warn(`redis ${role} connection replaced: ${reason}`),
              }),
            ]
          : [],
      )
) as (() => void)[];

const repository = createUsersRepository({
  db: pool,
  latencyMs: config.dbLatencyMs,
  onQuery: metrics.onQuery,
  // This instance announces its own writes; the relays' NOTIFY is for writers that do not.
  wakeRelays: false,
});
const users = config.crashAfterCommit ? crashingAfterCommit(repository) : repository;
if (config.crashAfterCommit) {
  logger.warn('CRASH_AFTER_COMMIT=1: the first write kills this instance (lab setting)');
}
// #region tutorial:create-cache
const cache = createCache<UserBody>({
  redis,
  subscriber,
  // Strategy, namespace, TTLs, bounds, heartbeat, signing secrets: checked by readConfig already.
  ...cacheOptionsOf(config),
  origin: `${instance.name}/${instance.id}`,
  events: metrics.cacheEvents,
  onError: (error) => {
    if (slotWatch && showsStaleSlotMap(error)) slotWatch.refresh();
    reportCacheError(error);
  },
  hooks: config.labFillDelayMs > 0 ? { beforeFill: () => delay(config.labFillDelayMs) } : {},
});
// #endregion tutorial:create-cache
if (config.labFillDelayMs > 0) {
  logger.warn(
    `LAB_FILL_DELAY_MS=${config.labFillDelayMs}: cache fills are held (lab setting, not for production)`,
  );
}

// #region tutorial:outbox-relay
// Every version the database commits, whoever wrote it, is announced by some instance: this one
// relays the outbox too. Duplicates of its own announcements are harmless (max is idempotent).
const listen = config.outboxListen && !(await isEmbedded());
let relayFailing = false;
const outbox = createOutboxRelay({
  db: pool,
  announce: async (entries) => {
    await cache.announceMany(entries);
    if (relayFailing) logger.info('outbox relay: announcing again');
    relayFailing = false;
  },
  // Every row of the database's outbox, of whichever table: the namespace belongs to the database.
  acceptsKey: isValidKey,
  pollIntervalMs: config.outboxPollMs,
  batchSize: config.outboxBatchSize,
  leaseMs: config.outboxLeaseMs,
  listenUrl: listen ? (config.outboxListenUrl ?? config.databaseUrl) : undefined,
  onSetAside: (row) =>
    logger.error(`outbox row ${row.seq} (${row.key} v${row.version}) set aside: ${row.reason}`),
  onError: (error) => {
    // Once per outage: the rows wait in the database and the relay retries every poll.
    if (!relayFailing && !draining) {
      logger.warn(`outbox relay: ${(error as Error).message}; rows kept, retrying`);
    }
    relayFailing = true;
  },
});
// #endregion tutorial:outbox-relay

/** Longest wait, on shutdown, for Redis and the database to answer what is still queued. */
const CLOSE_TIMEOUT_MS = 2000;
const server = createServer({
  users,
  cache,
  instance,
  checks: {
    redis: async () => void (await redis.ping()),
    database: () => users.ping(),
    ...(slotWatch
      ? {
          cluster: async () => {
            const missing = slotWatch.missing();
            if (missing === 0) return;
            slotWatch.refresh();
            throw new Error(`no node known for ${missing} slots`);
          },
        }
      : {}),
  },
  outbox,
  isDraining: () => draining,
  metrics,
  logger,
});
server.listen(config.port, config.host);
try {
  await once(server, 'listening');
} catch (error) {
  // One line naming the setting, not a stack trace: usually another process holds the port.
  const code = (error as NodeJS.ErrnoException).code;
  logger.fatal(
    code === 'EADDRINUSE'
      ? `port ${config.port} (PORT) on ${config.host} is already in use (EADDRINUSE): stop what listens there, or set PORT to a free port`
      : `cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`,
  );
  process.exit(1);
}
const redisShown = config.redisClusterNodes
  ? `Redis Cluster ${config.redisClusterNodes.map((node) => `${node.host}:${node.port}`).join(',')}, sharded Pub/Sub`
  : `redis ${redactUrl(config.redisUrl)}`;
logger.info(
  `listening on http://${config.host}:${config.port} as ${instance.name}/${instance.id} ` +
    `(${redisShown}, database ${redactUrl(config.databaseUrl)}, ` +
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
  // The relay first: it announces through the cache. What it leaves waits in the database.
  await outbox.close();
  for (const stop of watchdogs) stop();
  slotWatch?.stop();
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

/**
 * REDIS_CLUSTER_NODES: the first seed that answers must be a cluster node of Redis ≥ 7; a node
 * that is not is a fatal one-line error at once (retrying would not change it).
 */
async function checkCluster(): Promise<void> {
  let lastError: unknown;
  for (const node of config.redisClusterNodes ?? []) {
    try {
      return await checkClusterNode(config, node);
    } catch (error) {
      if ((error as { refused?: boolean }).refused) {
        logger.fatal((error as Error).message);
        process.exit(1);
      }
      lastError = error;
    }
  }
  throw lastError;
}

/**
 * Says what keeps this instance from trusting L1: a SUBSCRIBE refused (an ACL without the
 * channel) or failing, once per distinct reason. Other Redis errors are counted in /stats and
 * /metrics, and the client's own connection errors are logged above.
 */
function reportCacheError(error: CacheError): void {
  if (error.code !== cacheErrorCodes.subscribeFailed || error.message === lastSubscribeError)
    return;
  lastSubscribeError = error.message;
  if (!draining) logger.error(error.message);
}

/** Whether the database is the embedded PGlite, whose server delivers no NOTIFY to listeners. */
async function isEmbedded(): Promise<boolean> {
  try {
    const { rows } = await pool.query('SELECT version() AS v');
    return String(rows[0]?.v).includes('PGlite');
  } catch {
    return false;
  }
}

/** Lab only: the repository, but each write SIGKILLs the process once the database committed it. */
function crashingAfterCommit(inner: UsersRepository): UsersRepository {
  const crash = <T>(result: T): T => {
    process.kill(process.pid, 'SIGKILL');
    return result;
  };
  return {
    ...inner,
    put: async (id, input) => crash(await inner.put(id, input)),
    create: async (input) => crash(await inner.create(input)),
    delete: async (id) => crash(await inner.delete(id)),
  };
}

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
      if (tries === 1) logger.info(`waiting for ${what} (${waitReason(error)})`);
      await delay(Math.min(100 * tries, 1000));
    }
  }
}

/** Why a first attempt failed, worded as the wait it usually is: a service still starting. */
function waitReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const address = (error as { address?: string; port?: number }).address;
  const port = (error as { port?: number }).port;
  if (code === 'ECONNREFUSED' && address) return `${address}:${port} not accepting connections yet`;
  return (error as Error).message;
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
