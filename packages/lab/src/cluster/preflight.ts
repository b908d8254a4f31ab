/**
 * What `npm start` and `npm run reset` check before they touch anything: that the ports are free,
 * that no other process serves the data directory, and where Redis comes from.
 */
import { accessSync, constants } from 'node:fs';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { lockHolder } from '@cachelab/store/data-dir-lock';
import { ephemeralPortRange } from '@cachelab/testkit';
import type { ClusterConfig, ClusterPort } from './config.ts';
import { displayPath } from './config.ts';

/**
 * Who holds 127.0.0.1:`port`: `free` when it can be bound and nothing accepts there; `listener`
 * when something accepts connections; `connection` when it cannot be bound yet nothing listens,
 * which means the kernel lent it as the local port of a connection (it frees once that closes).
 */
export async function portHolder(port: number): Promise<'free' | 'listener' | 'connection'> {
  const [bindable, answers] = await Promise.all([canBind(port), accepts(port)]);
  if (answers) return 'listener';
  return bindable ? 'free' : 'connection';
}

/** Whether nothing listens on 127.0.0.1:`port`: it can be bound, and nothing accepts there. */
export async function isFree(port: number): Promise<boolean> {
  return (await portHolder(port)) === 'free';
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (within a second). */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 1000 });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
  });
}

/**
 * One line per port in `ports` that is taken, naming who needed it and the setting that moves it.
 * The suggested value is the same on every line of a setting and moves all of its ports: the
 * instances by 100, say, rather than one line per instance with a value of its own.
 */
export async function takenPorts(ports: ClusterPort[]): Promise<string[]> {
  const holders = await Promise.all(ports.map(({ port }) => portHolder(port)));
  const [low, high] = ephemeralPortRange();
  return ports.flatMap(({ port, user, setting }, i) => {
    const move = `set ${setting} to move it (e.g. ${setting}=${suggestion(setting, ports)})`;
    if (holders[i] === 'listener') {
      return [`port ${port} (${user}) is already in use: stop what listens there, or ${move}`];
    }
    if (holders[i] === 'connection') {
      const lent =
        port >= low && port <= high
          ? `, as it lies in the kernel's ephemeral range ${low}-${high}`
          : '';
      return [
        `port ${port} (${user}) is held by an open connection, not a listener (the kernel lent it as a connection's local port${lent}): ${move}`,
      ];
    }
    return [];
  });
}

/**
 * One line per port in `ports` inside the kernel's ephemeral range
 * (`/proc/sys/net/ipv4/ip_local_port_range`): free now, but any outgoing connection may take it.
 */
export function ephemeralPorts(ports: ClusterPort[]): string[] {
  const [low, high] = ephemeralPortRange();
  return ports
    .filter(({ port }) => port >= low && port <= high)
    .map(
      ({ port, user, setting }) =>
        `note: port ${port} (${user}, ${setting}) lies in the kernel's ephemeral range ${low}-${high}, where any outgoing connection may take it; a port outside it is safer`,
    );
}

/**
 * Another value for `setting`: its first port moved past the ports it sets (cluster bus ports are
 * +10000), down instead where up would pass the highest value `readClusterConfig` accepts.
 */
function suggestion(setting: ClusterPort['setting'], ports: ClusterPort[]): number {
  const own = ports.filter((p) => p.setting === setting).map((p) => p.port);
  const first = Math.min(...own);
  if (setting === 'BASE_PORT' && first < 4000) return 4001;
  // One port (the database, a single redis-server) moves by one; a group of ports by 100.
  const step = setting === 'BASE_PORT' || own.length > 1 ? 100 : 1;
  return first + step <= highestValue(setting, own.length) ? first + step : first - step;
}

/** The highest value `readClusterConfig` takes for `setting`, which sets `count` ports. */
function highestValue(setting: ClusterPort['setting'], count: number): number {
  // The instances' ports end at 65535; a Redis Cluster's six nodes, bus ports included, too.
  if (setting === 'BASE_PORT') return 65_536 - count;
  if (setting === 'REDIS_PORT') return count > 1 ? 55_530 : 65_530;
  return 65_535;
}

/**
 * The process id of the live process that serves the embedded database's data directory, or
 * `undefined` when none does (or the cluster uses `DATABASE_URL`).
 */
export function dataDirHolder(config: ClusterConfig): number | undefined {
  return config.databaseUrl ? undefined : lockHolder(config.dbDataDir);
}

/** A line saying which process holds the data directory, for `npm start` and `npm run reset`. */
export function dataDirInUse(config: ClusterConfig, pid: number): string {
  return `DB_DATA_DIR ${displayPath(config.dbDataDir)} is in use by process ${pid} (the database of a running npm start)`;
}

/** Whether an executable called `name` is on PATH. */
export function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** What to do when `npm start` should run its own Redis and `redis-server` is not on PATH. */
export const INSTALL_REDIS = [
  'redis-server (Redis 7 or later) is not on PATH, and npm start runs its own Redis with it.',
  '  Install it: sudo apt-get install redis-server (Debian, Ubuntu), brew install redis (macOS),',
  '  or see https://redis.io/docs/latest/operate/oss_and_stack/install/ ;',
  '  or set REDIS_URL to a Redis you run yourself (npm start then uses it and starts none).',
].join('\n');
