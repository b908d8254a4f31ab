import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeClusterNodePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

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
          ...(options.password
            ? [`requirepass ${options.password}`, `masterauth ${options.password}`]
            : []),
          '',
        ].join('\n'),
      );
      nodes.push({ port, conf, child: launch(conf) });
    }
    for (const node of nodes) await answers(node);
    const addresses = nodes.map(({ port }) => `127.0.0.1:${port}`);
    await run(
      'redis-cli',
      [...auth, '--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
      { timeout: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
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
    async masterOf(slot) {
      const live = nodes.find(({ child }) => child.exitCode === null && child.signalCode === null);
      const reply = await cli(live?.port ?? 0, '--json', 'CLUSTER', 'SLOTS');
      const ranges = JSON.parse(reply) as [number, number, [string, number]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return range[2][1];
    },
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
    stop,
  };
  try {
    await cluster.waitHealthy();
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}
