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

/**
 * What the slot-map watch needs of a node-redis cluster client: its slot map (`slots`, one entry
 * per hash slot, `undefined` where it knows no node) and its rediscovery (`_slots.rediscover()`,
 * which node-redis itself runs on `MOVED`, but never for a slot it has no node for).
 */
export interface SlotMapped {
  readonly slots: readonly unknown[];
  readonly _slots: { rediscover(): Promise<void> };
}

/** How many of the 16,384 hash slots `client`'s slot map has no node for. */
export function missingSlots(client: SlotMapped): number {
  const slots = client.slots;
  let missing = 0;
  for (let slot = 0; slot < SLOTS; slot++) if (slots[slot] === undefined) missing++;
  return missing;
}

/**
 * Makes `client`'s slot map whole: rediscovers when a slot has no node, and rejects (worth
 * retrying) when it still has not. A node-redis cluster client that connected to a node still
 * learning the cluster keeps the holes: a command for such a slot fails with a `TypeError` (`Cannot
 * read properties of undefined (reading 'master')`, `Cannot destructure property 'master'` for
 * `SSUBSCRIBE`) before reaching Redis, so nothing ever tells it to look again.
 */
export async function completeSlotMap(client: SlotMapped, what: string): Promise<void> {
  if (missingSlots(client) === 0) return;
  await client._slots.rediscover();
  const missing = missingSlots(client);
  if (missing > 0) {
    throw new Error(`the ${what} slot map has no node for ${missing} of ${SLOTS} slots yet`);
  }
}

/** Whether `error` (or its cause) shows a cluster the client cannot use as it knows it. */
export function showsStaleSlotMap(error: unknown): boolean {
  for (let e = error, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (/^CLUSTERDOWN|property 'master'|reading 'master'/.test(e.message)) return true;
  }
  return false;
}

/** The slot maps of an instance's cluster clients, kept whole at run time. */
export interface SlotMapWatch {
  /** Slots without a node, summed over the clients (`0`: every client can reach every slot). */
  missing(): number;
  /** Rediscovers now (at most one rediscovery per client at a time), e.g. after a CLUSTERDOWN. */
  refresh(): void;
  stop(): void;
}

/**
 * Checks every `intervalMs` that each client's slot map has a node for every slot and rediscovers
 * when one has not; `refresh()` rediscovers at once. `onChange` hears each change of the number of
 * slots missing, and a rediscovery's error once per run of failures.
 */
export function watchSlotMaps(
  clients: SlotMapped[],
  options: { intervalMs: number; onChange(missing: number, error?: Error): void },
): SlotMapWatch {
  const running = new Map<SlotMapped, Promise<void>>();
  let reported = 0;
  let failing = false;
  const total = () => clients.reduce((sum, client) => sum + missingSlots(client), 0);
  const report = (error?: Error) => {
    const missing = total();
    if (missing !== reported || (error && !failing)) options.onChange(missing, error);
    reported = missing;
    failing = error !== undefined;
  };
  const rediscover = (client: SlotMapped, always: boolean) => {
    if (running.has(client) || (!always && missingSlots(client) === 0)) return;
    const run = client._slots
      .rediscover()
      .then(
        () => report(),
        (error: Error) => report(error),
      )
      .finally(() => running.delete(client));
    running.set(client, run);
  };
  const check = () => {
    for (const client of clients) rediscover(client, false);
    if (running.size === 0) report();
  };
  report();
  const timer = setInterval(check, options.intervalMs);
  timer.unref();
  return {
    missing: total,
    refresh() {
      for (const client of clients) rediscover(client, true);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
