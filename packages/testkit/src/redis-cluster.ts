import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeClusterNodePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

/** A range of `CLUSTER SLOTS`: first and last slot, then the master (`[host, port, …]`). */
type SlotRange = [number, number, [string, number]];

/** One `redis-server` of a {@link TestRedisCluster}. */
export interface ClusterNode {
  port: number;
  /** The process now (a restart starts another). */
  process(): ChildProcess;
  /**
   * Starts its `redis-server` again with the same config file (after it was killed): it reads its
   * `nodes-<port>.conf` and rejoins the cluster, as a replica if its slots were taken over
   * meanwhile. Resolves once it answers PING.
   */
  restart(): Promise<void>;
}

/** What {@link TestRedisCluster.migrateSlot} did. */
export interface SlotMigration {
  /** Port of the master that served the slot before. */
  from: number;
  /** Port of the master serving it now. */
  to: number;
  /** How many keys were migrated. */
  keys: number;
}

/**
 * A Redis Cluster owned by a test: `masters` masters with one replica each, every node a
 * `redis-server` with its own directory and config file under one temporary directory.
 */
export interface TestRedisCluster {
  nodes: ClusterNode[];
  /** `host:port,…` of every node, as `REDIS_CLUSTER_NODES` takes it. */
  seeds: string;
  /** Runs `redis-cli -p port args…` and returns its trimmed output (throws on a non-zero exit). */
  cli(port: number, ...args: string[]): Promise<string>;
  /** The port of the master serving `slot` now. */
  masterOf(slot: number): Promise<number>;
  /**
   * Moves `slot` and its keys to the master on port `target` (by default the first other master
   * in slot order), as `redis-cli --cluster reshard` does: `CLUSTER SETSLOT … IMPORTING` on the
   * target, `MIGRATING` on the source, `MIGRATE … REPLACE` of its keys 100 at a time (the source's
   * copy wins over a leftover on the target), then `SETSLOT … NODE`
   * on every master. Meanwhile clients get `ASK` for keys already moved, and `MOVED` after.
   * Resolves once the cluster says `target` serves `slot`.
   *
   * @returns the ports of the old (`from`) and new (`to`) master and the number of keys moved.
   * @throws {Error} when `target` is not a master serving slots or already serves `slot`, when the
   *   cluster has no other master, when a step fails (a `SETSLOT` or `MIGRATE` answers other than
   *   `OK`, or `redis-cli` exits non-zero), or when the new owner is not seen within 10 s; the
   *   slot may then be left `IMPORTING`/`MIGRATING`.
   */
  migrateSlot(slot: number, target?: number): Promise<SlotMigration>;
  /** Joins nodes started with `join: false` (`redis-cli --cluster create`) and waits until healthy. */
  join(): Promise<void>;
  /** Waits until every node reports `cluster_state:ok` and agrees on `masters` masters. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node (SIGTERM, then waits) and deletes the directory. */
  stop(): Promise<void>;
}

/**
 * Starts `2 × masters` `redis-server` processes in cluster mode on free loopback ports (no
 * persistence), joins them with `redis-cli --cluster create … --cluster-replicas 1`, and waits
 * until every node says `cluster_state:ok`.
 */
export async function startRedisCluster(
  options: {
    masters?: number;
    args?: string[];
    /** `requirepass` and `masterauth` of every node (the default user's password). */
    password?: string;
    /**
     * `false`: start the nodes in cluster mode without joining them (a cluster still forming);
     * {@link TestRedisCluster.join} joins them later.
     * @default true
     */
    join?: boolean;
  } = {},
): Promise<TestRedisCluster> {
  const count = 2 * (options.masters ?? 3);
  const dir = mkdtempSync(join(tmpdir(), 'cachelab-cluster-'));
  const nodes: { port: number; conf: string; child: ChildProcess }[] = [];
  const auth = options.password ? ['-a', options.password, '--no-auth-warning'] : [];
  const cli = async (port: number, ...args: string[]) => {
    const { stdout } = await run('redis-cli', [...auth, '-p', String(port), ...args], {
      timeout: 10_000,
    });
    return stdout.trim();
  };
  const launch = (conf: string) => {
    const child = spawn('redis-server', [conf, ...(options.args ?? [])], { stdio: 'ignore' });
    child.once('error', () => {});
    return child;
  };
  const answers = ({ port, child }: { port: number; child: ChildProcess }) =>
    waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server ${port} exited`);
        return (await cli(port, 'PING').catch(() => '')) === 'PONG';
      },
      { timeoutMs: 10_000, what: `redis-server on ${port}` },
    );
  /** `redis-cli --cluster create` over every node, one replica per master. */
  const create = async () => {
    const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`);
    await run(
      'redis-cli',
      [...auth, '--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
  };
  const stop = async () => {
    await Promise.all(nodes.map(({ child }) => signalProcess(child, 'SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const port = await freeClusterNodePort();
      const conf = join(dir, `${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          'cluster-enabled yes',
          `cluster-config-file nodes-${port}.conf`,
          'cluster-node-timeout 2000',
          `dir ${dir}`,
          'save ""',
          'appendonly no',
          // A replica's first sync at once, not after the 5 s Redis waits for more replicas by
          // default: until then a manual failover waits for it.
          'repl-diskless-sync-delay 0',
          ...(options.password
            ? [`requirepass ${options.password}`, `masterauth ${options.password}`]
            : []),
          '',
        ].join('\n'),
      );
      nodes.push({ port, conf, child: launch(conf) });
    }
    for (const node of nodes) await answers(node);
    if (options.join !== false) await create();
  } catch (error) {
    await stop();
    throw error;
  }
  /** `CLUSTER SLOTS` as a live node sees it. */
  const slotRanges = async () => {
    const live = nodes.find(({ child }) => child.exitCode === null && child.signalCode === null);
    const reply = await cli(live?.port ?? 0, '--json', 'CLUSTER', 'SLOTS');
    return JSON.parse(reply) as SlotRange[];
  };
  const cluster: TestRedisCluster = {
    nodes: nodes.map((node) => ({
      port: node.port,
      process: () => node.child,
      async restart() {
        await signalProcess(node.child, 'SIGKILL');
        node.child = launch(node.conf);
        await answers(node);
      },
    })),
    seeds: nodes.map(({ port }) => `127.0.0.1:${port}`).join(','),
    cli,
    masterOf: async (slot) => ownerOf(await slotRanges(), slot),
    migrateSlot: (slot, target) => migrateSlot(cli, slotRanges, slot, target),
    async waitHealthy(timeoutMs = 30_000) {
      const masters = count / 2;
      await waitFor(
        async () => {
          for (const { port, child } of nodes) {
            if (child.exitCode !== null || child.signalCode !== null) continue;
            const info = await cli(port, 'CLUSTER', 'INFO');
            if (!info.includes('cluster_state:ok')) return false;
            if (!info.includes(`cluster_size:${masters}`)) return false;
          }
          return true;
        },
        { timeoutMs, intervalMs: 100, what: 'cluster_state:ok on every node' },
      );
    },
    async join() {
      await create();
      await cluster.waitHealthy();
    },
    stop,
  };
  if (options.join === false) return cluster;
  try {
    await cluster.waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}

/** {@link TestRedisCluster.migrateSlot}, over the cluster's `cli` and its slot table. */
async function migrateSlot(
  cli: TestRedisCluster['cli'],
  slotRanges: () => Promise<SlotRange[]>,
  slot: number,
  target?: number,
): Promise<SlotMigration> {
  const ranges = await slotRanges();
  const source = ownerOf(ranges, slot);
  const masters = new Set(ranges.sort(([a], [b]) => a - b).map(([, , [, port]]) => port));
  const to = target ?? [...masters].find((port) => port !== source);
  if (to === undefined) throw new Error('the cluster has no other master');
  if (to === source) throw new Error(`the master on ${to} already serves slot ${slot}`);
  if (!masters.has(to)) throw new Error(`${to} is not a master serving slots`);
  // redis-cli exits 0 on an error reply: each step checks what it answered.
  const step = async (port: number, expected: string[], ...args: string[]) => {
    const reply = await cli(port, ...args);
    if (!expected.includes(reply)) throw new Error(`${args.join(' ')} on ${port}: ${reply}`);
  };
  const setslot = (port: number, ...args: string[]) =>
    step(port, ['OK'], 'CLUSTER', 'SETSLOT', String(slot), ...args);
  const id = (port: number) => cli(port, 'CLUSTER', 'MYID');
  const [sourceId, targetId] = [await id(source), await id(to)];
  // IMPORTING before MIGRATING: a client sent to the target by ASK must find it importing.
  await setslot(to, 'IMPORTING', sourceId);
  await setslot(source, 'MIGRATING', targetId);
  let keys = 0;
  for (;;) {
    const batch = (await cli(source, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100'))
      .split('\n')
      .filter(Boolean);
    if (batch.length === 0) break;
    // NOKEY: the batch expired or was deleted meanwhile. REPLACE: while the slot is MIGRATING the
    // source serves every key it holds, so its copy is the one clients used; a copy the target
    // holds already is a leftover (a CI run met one, BUSYKEY) and must not stop the migration.
    const migrate = [
      ...['MIGRATE', '127.0.0.1', String(to), '', '0', '5000', 'REPLACE'],
      ...['KEYS', ...batch],
    ];
    await step(source, ['OK', 'NOKEY'], ...migrate);
    keys += batch.length;
  }
  for (const port of new Set([to, source, ...masters])) await setslot(port, 'NODE', targetId);
  await waitFor(async () => ownerOf(await slotRanges(), slot) === to, {
    timeoutMs: 10_000,
    intervalMs: 100,
    what: `slot ${slot} on ${to}`,
  });
  return { from: source, to, keys };
}

/** The port of the master serving `slot` in `ranges`. */
function ownerOf(ranges: SlotRange[], slot: number): number {
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no master serves slot ${slot}`);
  return range[2][1];
}
