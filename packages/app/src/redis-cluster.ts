import { createClient, createCluster } from '@redis/client';
import type { AppConfig, ClusterNode } from './config.ts';

/** Oldest Redis with sharded Pub/Sub (`SPUBLISH`/`SSUBSCRIBE`). */
const MIN_MAJOR_VERSION = 7;

/** A Redis Cluster client of an instance. */
export type ClusterClient = ReturnType<typeof createCluster>;

/**
 * The connection settings of `REDIS_URL` that apply to every node of a cluster: credentials
 * (`user:password@`), TLS (`rediss://`) and `REDIS_TLS_CA_FILE`. Its host and port are not used.
 */
function nodeDefaults(config: AppConfig) {
  const url = new URL(config.redisUrl);
  const tls = url.protocol === 'rediss:';
  return {
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    socket: {
      ...(tls
        ? { tls: true as const, ...(config.redisTlsCa ? { ca: config.redisTlsCa } : {}) }
        : {}),
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000),
    },
  };
}

/**
 * Asks one seed node whether it can serve the cache as a cluster: it must be in cluster mode
 * (`cluster_enabled:1`), run Redis ≥ 7, say `cluster_state:ok` and give every slot a master
 * (a cluster still forming does not: retried). Resolves when it can; rejects with a message naming
 * `REDIS_CLUSTER_NODES` and what was found when it cannot (`refused`: retrying will not help), or
 * with the connection's error when the node does not answer (worth retrying).
 */
export async function checkClusterNode(config: AppConfig, node: ClusterNode): Promise<void> {
  const defaults = nodeDefaults(config);
  const client = createClient({
    ...defaults,
    socket: { ...defaults.socket, host: node.host, port: node.port, reconnectStrategy: false },
  });
  let lastError: Error | undefined;
  client.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await client.connect();
    const info = await client.info();
    const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
    const enabled = /^cluster_enabled:(\d)/m.exec(info)?.[1];
    const where = `REDIS_CLUSTER_NODES: ${node.host}:${node.port}`;
    if (enabled !== '1') {
      throw refused(
        `${where} is not in cluster mode (cluster_enabled:${enabled ?? '?'}, Redis ${version}); use REDIS_URL for a single Redis`,
      );
    }
    if (!(Number.parseInt(version, 10) >= MIN_MAJOR_VERSION)) {
      throw refused(
        `${where} runs Redis ${version}: sharded Pub/Sub (SPUBLISH) needs Redis ${MIN_MAJOR_VERSION} or newer`,
      );
    }
    // A cluster still forming (nodes not joined yet, slots not all assigned) would leave the
    // client a slot map with holes that it never refreshes: wait until it is whole.
    const state = /cluster_state:(\w+)/.exec(String(await client.sendCommand(['CLUSTER', 'INFO'])));
    if (state?.[1] !== 'ok') {
      throw new Error(
        `${where}: the Redis Cluster is not ready (cluster_state:${state?.[1] ?? '?'})`,
      );
    }
    const covered = slotsCovered(await client.sendCommand(['CLUSTER', 'SLOTS']));
    if (covered < SLOTS) {
      throw new Error(`${where}: the Redis Cluster serves ${covered} of ${SLOTS} slots so far`);
    }
  } catch (error) {
    throw (error as { refused?: boolean }).refused ? error : (lastError ?? error);
  } finally {
    if (client.isOpen) client.destroy();
  }
}

/** Hash slots of a Redis Cluster. */
const SLOTS = 16_384;

/** How many slots a `CLUSTER SLOTS` reply gives a master (`[start, end, [host, port, id], …]`). */
function slotsCovered(reply: unknown): number {
  if (!Array.isArray(reply)) return 0;
  let covered = 0;
  for (const range of reply) {
    if (!Array.isArray(range) || !Array.isArray(range[2])) continue;
    covered += Number(range[1]) - Number(range[0]) + 1;
  }
  return covered;
}

function refused(message: string): Error {
  return Object.assign(new Error(message), { refused: true });
}

/**
 * The cluster clients of an instance, not connected: commands (with `sPublish`), and, for the
 * invalidation bus, a second cluster client of its own for the sharded subscriptions.
 */
export function createClusterClients(config: AppConfig, withSubscriber: boolean) {
  const nodes = config.redisClusterNodes ?? [];
  const redis = createCluster({
    rootNodes: nodes.map(({ host, port }) => ({ socket: { host, port } })),
    defaults: {
      ...nodeDefaults(config),
      // As for one Redis: fail at once while disconnected, reads go to the database.
      disableOfflineQueue: true,
    },
  });
  return { redis, subscriber: withSubscriber ? redis.duplicate() : undefined };
}
