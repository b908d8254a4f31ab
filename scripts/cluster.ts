/**
 * `npm start`: runs a local cluster — N app instances, one Redis and one database — with
 * `concurrently`, waits until every instance is ready and prints how to talk to it.
 * Ctrl-C (SIGINT) or SIGTERM stops every process it started.
 */
import { accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { redactUrl } from '@cachelab/app';
import { type ConcurrentlyCommandInput, concurrently } from 'concurrently';
import { CLUSTER_DEFAULTS, instanceName } from './cluster-defaults.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_DEADLINE_MS = 60_000;
const FORCE_KILL_AFTER_MS = 10_000;
const APP_COLORS = ['green', 'cyan', 'magenta', 'yellow'];

// --- Configuration: the only place this process reads its environment. ---

/** Prints a configuration error naming the offending variable and exits with status 1. */
function fail(message: string): never {
  console.error(`cluster: ${message}`);
  process.exit(1);
}

/** Reads an integer env var within [min, max], falling back to `fallback` when unset. */
function intEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`\`${name}\` must be an integer between ${min} and ${max} (got "${raw}")`);
  }
  return value;
}

/** Reads an optional URL env var whose protocol must be one of `protocols`. */
function urlEnv(name: string, protocols: string[]): string | undefined {
  const raw = process.env[name]?.trim();
  if (!raw) return undefined;
  if (!URL.canParse(raw) || !protocols.includes(new URL(raw).protocol)) {
    // Not quoted: the URL may carry a password.
    fail(`\`${name}\` must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
  }
  return raw;
}

const instances = intEnv('INSTANCES', CLUSTER_DEFAULTS.instances, 1, 32);
const config = {
  instances,
  basePort: intEnv('BASE_PORT', CLUSTER_DEFAULTS.basePort, 1, 65_536 - instances),
  redisUrl: urlEnv('REDIS_URL', ['redis:', 'rediss:']),
  databaseUrl: urlEnv('DATABASE_URL', ['postgres:', 'postgresql:']),
  dbPort: intEnv('DB_PORT', CLUSTER_DEFAULTS.dbPort, 1, 65_535),
  dbDataDir: process.env.DB_DATA_DIR?.trim()
    ? resolve(process.env.DB_DATA_DIR.trim())
    : join(ROOT, '.data/pglite'),
  dbLatencyMs: intEnv('DB_LATENCY_MS', CLUSTER_DEFAULTS.dbLatencyMs, 0, 60_000),
  seedUsers: intEnv('SEED_USERS', CLUSTER_DEFAULTS.seedUsers, 0, 10_000_000),
};
const appPorts = Array.from({ length: config.instances }, (_, i) => config.basePort + i);
if (!config.databaseUrl && appPorts.includes(config.dbPort)) {
  fail(`\`DB_PORT\` (${config.dbPort}) collides with an instance port (BASE_PORT..)`);
}

// --- Redis: reuse a reachable one, else start our own, else say what to install. ---

/** Sends a raw `PING` to host:port; resolves 'pong', 'other' (something else listens) or 'none'. */
function probeRedis(host: string, port: number): Promise<'pong' | 'other' | 'none'> {
  return new Promise((done) => {
    const socket = createConnection({ host, port, timeout: 500 });
    const finish = (answer: 'pong' | 'other' | 'none') => {
      socket.destroy();
      done(answer);
    };
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG') ? 'pong' : 'other'));
    socket.once('timeout', () => finish(socket.readyState === 'open' ? 'other' : 'none'));
    socket.once('error', () => finish('none'));
  });
}

/** Whether an executable called `name` is on PATH. */
function onPath(name: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** Decides where Redis comes from: its URL, and whether this script must start `redis-server`. */
async function resolveRedis(): Promise<{ url: string; startOwn: boolean }> {
  if (config.redisUrl) return { url: config.redisUrl, startOwn: false };
  const url = 'redis://127.0.0.1:6379';
  const probe = await probeRedis('127.0.0.1', 6379);
  if (probe === 'pong') return { url, startOwn: false };
  if (probe === 'other') {
    fail('port 6379 is taken by something that does not answer PING; set `REDIS_URL`');
  }
  if (!onPath('redis-server')) {
    fail(
      'no Redis answers on 127.0.0.1:6379 and `redis-server` is not on PATH.\n' +
        '  Install it (`sudo apt-get install redis-server` or `brew install redis`),\n' +
        '  or point `REDIS_URL` at a running Redis.',
    );
  }
  return { url, startOwn: true };
}

// --- Commands and readiness. ---

/**
 * Builds the concurrently commands. Each starts with `exec` so that the child replaces its
 * shell: signals and tree-kill then reach the real process, and no shell outlives it. The database
 * and the instances run the compiled JavaScript in `dist/` (`npm start` builds it first).
 */
function buildCommands(redis: { url: string; startOwn: boolean }, dbUrl: string) {
  const commands: ConcurrentlyCommandInput[] = [];
  if (!config.databaseUrl) {
    commands.push({
      name: 'db',
      prefixColor: 'blue',
      command: 'exec node packages/store/dist/server/main.js',
      env: { DB_PORT: String(config.dbPort), DB_DATA_DIR: config.dbDataDir },
    });
  }
  if (redis.startOwn) {
    commands.push({
      name: 'redis',
      prefixColor: 'red',
      command: 'exec redis-server config/redis.conf',
    });
  }
  appPorts.forEach((port, i) => {
    commands.push({
      name: instanceName(i),
      prefixColor: APP_COLORS[i % APP_COLORS.length],
      command: 'exec node packages/app/dist/main.js',
      env: {
        PORT: String(port),
        INSTANCE_NAME: instanceName(i),
        REDIS_URL: redis.url,
        DATABASE_URL: dbUrl,
        DB_LATENCY_MS: String(config.dbLatencyMs),
        SEED_USERS: String(config.seedUsers),
      },
    });
  });
  return commands;
}

/** Whether `url`/readyz answers 200 within a short timeout. */
async function isReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Polls every instance until all are ready, `stopped()` turns true or the deadline passes.
 * Returns the URLs of the instances that are not ready.
 */
async function waitUntilReady(urls: string[], stopped: () => boolean): Promise<string[]> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  let pending = urls;
  while (pending.length > 0 && !stopped() && Date.now() < deadline) {
    const ready = await Promise.all(pending.map(isReady));
    pending = pending.filter((_, i) => !ready[i]);
    if (pending.length > 0) await sleep(250);
  }
  return pending;
}

/** Prints the ready banner, with paste-able examples and the line tests wait for. */
function printReady(urls: string[], redisUrl: string, dbUrl: string): void {
  const body = `'{"name":"Ada","email":"ada@example.com","age":36}'`;
  console.log(
    [
      '',
      `cachelab: ${urls.length} instance(s) ready (redis ${redactUrl(redisUrl)}, database ${redactUrl(dbUrl)})`,
      ...urls.map((url, i) => `  ${instanceName(i)}  ${url}`),
      '',
      'Try:',
      `  curl -i ${urls[0]}/users/42`,
      `  curl -i -X PUT ${urls[0]}/users/42 -H 'content-type: application/json' -d ${body}`,
      `  curl -i ${urls[urls.length - 1]}/users/42`,
      '',
      'Ctrl-C stops everything.',
      '',
      `cachelab cluster ready: ${urls.join(',')}`,
    ].join('\n'),
  );
}

// --- Main. ---

const redis = await resolveRedis();
const dbUrl = config.databaseUrl ?? `postgres://postgres@127.0.0.1:${config.dbPort}/postgres`;
const running = concurrently(buildCommands(redis, dbUrl), {
  prefix: 'name',
  padPrefix: true,
  killOthersOn: ['failure'],
  killTimeout: FORCE_KILL_AFTER_MS,
  cwd: ROOT,
});
let stopRequested = false;
let readinessFailed = false;

/** SIGKILLs whatever child is still alive after the grace period (exited ones are skipped). */
function forceKillLater(): void {
  setTimeout(() => {
    for (const command of running.commands) command.kill('SIGKILL');
  }, FORCE_KILL_AFTER_MS).unref();
}

// concurrently already forwards these signals to every child; this only records the request and
// adds the SIGKILL fallback. It is installed after the Redis probe on purpose: until then no
// child exists, and Node's default handler must still let Ctrl-C end the process at once.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    stopRequested = true;
    forceKillLater();
  });
}

// The cluster process lives exactly as long as its children: exit once all of them have. A
// requested stop counts as success even if a child died of the signal; a failed start does not.
void running.result.then(
  () => process.exit(readinessFailed ? 1 : 0),
  () => process.exit(stopRequested && !readinessFailed ? 0 : 1),
);

const urls = appPorts.map((port) => `http://127.0.0.1:${port}`);
const notReady = await waitUntilReady(urls, () => stopRequested);
if (!stopRequested && notReady.length > 0) {
  console.error(`cluster: not ready after ${READY_DEADLINE_MS / 1000}s: ${notReady.join(', ')}`);
  readinessFailed = true;
  for (const command of running.commands) command.kill();
  forceKillLater();
} else if (!stopRequested) {
  printReady(urls, redis.url, dbUrl);
}
