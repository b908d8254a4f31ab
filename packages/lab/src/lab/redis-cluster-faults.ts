/**
 * The faults of a Redis Cluster the lab started itself (`--start --cluster`): a manual failover,
 * a killed master, a migrated slot. Each acts on the master serving the slot of the workload's
 * first key (user 1, which every run reads and writes), so that the fault hits keys in use.
 */

import { userKey } from '@cachelab/app';
import { type TestRedisCluster, waitFor } from '@cachelab/testkit';
import calculateSlot from 'cluster-key-slot';

/** The slot of the key of user `id` (its hash tag), where the cluster faults act. */
export function slotOfUser(id: string): number {
  return calculateSlot(userKey(id));
}

/** The port of a replica of the master on `master`, or `undefined` when it has none. */
async function replicaOf(cluster: TestRedisCluster, master: number): Promise<number | undefined> {
  const id = await cluster.cli(master, 'CLUSTER', 'MYID');
  const replicas = await cluster.cli(master, 'CLUSTER', 'REPLICAS', id);
  // One line per replica: `<id> <ip>:<port>@<bus-port> slave …`; failed replicas are skipped.
  const live = replicas
    .split('\n')
    .find((line) => line.includes(' slave') && !line.includes('fail'));
  const port = /:(\d+)@/.exec(live ?? '')?.[1];
  return port === undefined ? undefined : Number(port);
}

/**
 * `CLUSTER FAILOVER` on a replica of the master of `slot`: the replica takes over without loss
 * (the old master waits for it to catch up). Resolves once the cluster says the replica serves
 * `slot`; returns what happened, for the report.
 *
 * @throws {Error} when that master has no live replica or the takeover takes over 15 s.
 */
export async function failover(cluster: TestRedisCluster, slot: number): Promise<string> {
  const master = await cluster.masterOf(slot);
  const replica = await replicaOf(cluster, master);
  if (replica === undefined) throw new Error(`the master on ${master} has no live replica`);
  await cluster.cli(replica, 'CLUSTER', 'FAILOVER');
  await waitFor(async () => (await cluster.masterOf(slot)) === replica, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: `the replica on ${replica} to take over slot ${slot}`,
  });
  return `slot ${slot}: replica ${replica} took over from ${master}`;
}

/**
 * SIGKILL of the master of `slot`; resolves once a replica serves `slot` (the cluster promotes it
 * after `cluster-node-timeout`), then, with `restart`, starts the killed node again: it rejoins
 * as a replica of its successor. Returns what happened, for the report.
 *
 * @throws {Error} when no replica takes over within 20 s.
 */
export async function killMaster(
  cluster: TestRedisCluster,
  slot: number,
  restart = true,
): Promise<string> {
  const master = await cluster.masterOf(slot);
  const node = cluster.nodes.find(({ port }) => port === master);
  if (!node) throw new Error(`the master on ${master} is not a node the lab started`);
  node.process().kill('SIGKILL');
  // Asked of any live node: the killed one answers nothing.
  const promoted = await waitFor(
    async () => {
      const now = await cluster.masterOf(slot);
      return now !== master ? now : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 200, what: `a replica to take over slot ${slot}` },
  );
  if (restart) await node.restart();
  return `slot ${slot}: master ${master} killed, replica ${promoted} promoted${restart ? `, ${master} restarted` : ''}`;
}

/**
 * Moves `slot` and its keys to another master ({@link TestRedisCluster.migrateSlot}). Returns what
 * happened, for the report.
 *
 * @throws {Error} when the cluster has a single master or a step fails.
 */
export async function migrateSlot(cluster: TestRedisCluster, slot: number): Promise<string> {
  const { from, to, keys } = await cluster.migrateSlot(slot);
  return `slot ${slot}: ${keys} keys moved from ${from} to ${to}`;
}

/** `CLIENT KILL TYPE pubsub` on every live node: every shard subscription drops. */
export async function killPubsubEverywhere(cluster: TestRedisCluster): Promise<void> {
  await Promise.all(
    cluster.nodes
      .filter((node) => node.process().exitCode === null && node.process().signalCode === null)
      .map((node) => cluster.cli(node.port, 'CLIENT', 'KILL', 'TYPE', 'pubsub')),
  );
}
