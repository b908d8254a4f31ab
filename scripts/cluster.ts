/**
 * `npm start`: runs a local cluster — N app instances, its own `redis-server` (unless `REDIS_URL`
 * names another Redis) and the embedded database — with `concurrently`, waits until every
 * instance of this run is ready and prints how to talk to it. Before starting anything it checks
 * that every port is free and that no other process serves the data directory, and refuses with
 * one line per problem naming the setting that moves it. Once ready it records its run in
 * `.data/run-<BASE_PORT>.json` (./cluster/run-file.ts), where the checkout's scripts find it.
 * Ctrl-C (SIGINT) or SIGTERM stops every process it started.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redactUrl } from '@cachelab/app';
import {
  CLUSTER_LOCATION_SETTINGS,
  type ClusterConfig,
  ClusterConfigError,
  clusterPorts,
  displayPath,
  ROOT,
  readClusterConfig,
} from '@cachelab/lab/cluster/config.ts';
import {
  dataDirHolder,
  dataDirInUse,
  ephemeralPorts,
  INSTALL_REDIS,
  onPath,
  takenPorts,
} from '@cachelab/lab/cluster/preflight.ts';
import { waitUntilReady } from '@cachelab/lab/cluster/readiness.ts';
import { removeRunFile, writeRunFile } from '@cachelab/lab/cluster/run-file.ts';
import { instanceName } from '@cachelab/lab/cluster-defaults.ts';
import { INSTANCE_LAUNCHERS, prepareCommands } from '@cachelab/lab/instance-languages.ts';
import { type ConcurrentlyCommandInput, concurrently } from 'concurrently';

const READY_DEADLINE_MS = 60_000;
const FORCE_KILL_AFTER_MS = 10_000;
const APP_COLORS = ['green', 'cyan', 'magenta', 'yellow'];
/** How `npm start` runs its own Redis; `--port` is added, overriding the file's. */
const REDIS_COMMAND = 'exec redis-server config/redis.conf';

/** Prints why the cluster cannot start (one line per problem) and exits with status 1. */
function fail(...problems: string[]): never {
  for (const problem of problems) console.error(`cluster: ${problem}`);
  process.exit(1);
}

// --- Preflight: nothing is started until every check has passed. ---

let config: ClusterConfig;
try {
  config = readClusterConfig(process.env);
} catch (error) {
  if (error instanceof ClusterConfigError) fail(error.message);
  throw error;
}
if (config.redis.kind === 'own' && !onPath('redis-server')) fail(INSTALL_REDIS);
const holder = dataDirHolder(config);
if (holder !== undefined) {
  fail(
    `${dataDirInUse(config, holder)}: stop that cluster, or set DB_DATA_DIR to another directory`,
  );
}
const taken = await takenPorts(clusterPorts(config));
if (taken.length > 0) fail(...taken);
for (const note of ephemeralPorts(clusterPorts(config))) console.log(`cluster: ${note}`);

/** A token per run: every instance reports it on /readyz, so readiness cannot be someone else's. */
const runId = randomBytes(9).toString('base64url');
const dbUrl = config.databaseUrl ?? `postgres://postgres@127.0.0.1:${config.dbPort}/postgres`;
console.log(
  config.redis.kind === 'own'
    ? config.redis.clusterPorts
      ? `cluster: Redis Cluster: starting six cluster-mode redis-server nodes (3 masters, 3 replicas) on 127.0.0.1:${config.redis.clusterPorts[0]}-${config.redis.clusterPorts.at(-1)} (REDIS_PORT moves them)`
      : `cluster: Redis: starting redis-server with config/redis.conf on 127.0.0.1:${config.redis.port} (REDIS_PORT moves it; REDIS_URL uses a Redis of yours instead)`
    : config.redis.clusterNodes
      ? `cluster: Redis Cluster: using ${config.redis.clusterNodes.join(',')} from REDIS_CLUSTER_NODES, not started by npm start (keys under "${config.namespace}:")`
      : `cluster: Redis: using ${redactUrl(config.redis.url)} from REDIS_URL, not started by npm start (keys under "${config.namespace}:")`,
);
if (!config.databaseUrl) {
  console.log(
    `cluster: database: embedded, data in ${displayPath(config.dbDataDir)} (DB_DATA_DIR), port ${config.dbPort} (DB_PORT)`,
  );
}

// --- Commands and readiness. ---

/**
 * Builds the concurrently commands. Each starts with `exec` so that the child replaces its
 * shell: signals and tree-kill then reach the real process, and no shell outlives it. The database
 * and the instances run the compiled JavaScript in `dist/` (`npm start` builds it first).
 */
function buildCommands(): ConcurrentlyCommandInput[] {
  const commands: ConcurrentlyCommandInput[] = [];
  if (!config.databaseUrl) {
    commands.push({
      name: 'db',
      prefixColor: 'blue',
      command: 'exec node packages/store/dist/server/main.js',
      env: { DB_PORT: String(config.dbPort), DB_DATA_DIR: config.dbDataDir },
    });
  }
  if (config.redis.kind === 'own') {
    if (redisNodePorts) commands.push(...redisClusterCommands(redisNodePorts));
    else {
      commands.push({
        name: 'redis',
        prefixColor: 'red',
        command: `${REDIS_COMMAND} --port ${config.redis.port}`,
      });
    }
  }
  config.appPorts.forEach((port, i) => {
    commands.push({
      name: instanceName(i),
      prefixColor: APP_COLORS[i % APP_COLORS.length],
      command: `exec ${INSTANCE_LAUNCHERS[config.languages[i] ?? 'node'].start.join(' ')}`,
      env: {
        PORT: String(port),
        INSTANCE_NAME: instanceName(i),
        CLUSTER_RUN_ID: runId,
        REDIS_URL: config.redis.url,
        ...(redisNodePorts
          ? { REDIS_CLUSTER_NODES: redisNodePorts.map((port) => `127.0.0.1:${port}`).join(',') }
          : config.redis.kind === 'external' && config.redis.clusterNodes
            ? { REDIS_CLUSTER_NODES: config.redis.clusterNodes.join(',') }
            : { REDIS_CLUSTER_NODES: '' }),
        DATABASE_URL: dbUrl,
        DB_LATENCY_MS: String(config.dbLatencyMs),
        SEED_USERS: String(config.seedUsers),
      },
    });
  });
  return commands;
}

/**
 * `REDIS_CLUSTER=1`: six cluster-mode nodes (their nodes-<port>.conf in a directory of this run,
 * deleted on exit) and the one-shot command that joins them once they answer.
 */
function redisClusterCommands(ports: number[]): ConcurrentlyCommandInput[] {
  const dir = mkdtempSync(join(tmpdir(), 'cachelab-redis-cluster-'));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  const nodes = ports.map((port) => ({
    name: `redis-${port}`,
    prefixColor: 'red',
    command:
      `${REDIS_COMMAND} --port ${port} --cluster-enabled yes --cluster-config-file nodes-${port}.conf` +
      ` --cluster-node-timeout 2000 --dir ${dir}`,
  }));
  const create = {
    name: 'redis-cluster',
    prefixColor: 'red',
    command: `exec node --import tsx packages/lab/src/cluster/create-redis-cluster.ts ${ports.join(' ')}`,
  };
  return [...nodes, create];
}

/** " with the same settings (BASE_PORT, …)" when the cluster was moved by any, so reset finds it. */
function sameSettings(): string {
  const set = CLUSTER_LOCATION_SETTINGS.filter((name) => process.env[name]?.trim());
  return set.length > 0 ? ` with the same settings (${set.join(', ')})` : '';
}

/** Prints the ready banner, with paste-able examples and the line tests wait for. */
function printReady(urls: string[]): void {
  const body = `'{"name":"Ada","email":"ada@example.com","age":36}'`;
  const redis =
    config.redis.kind === 'external'
      ? config.redis.clusterNodes
        ? `Redis Cluster from REDIS_CLUSTER_NODES ${config.redis.clusterNodes.join(',')}`
        : `redis from REDIS_URL ${redactUrl(config.redis.url)}`
      : config.redis.clusterPorts
        ? `its own Redis Cluster on 127.0.0.1:${config.redis.clusterPorts[0]}-${config.redis.clusterPorts.at(-1)}`
        : `its own redis ${redactUrl(config.redis.url)}`;
  console.log(
    [
      '',
      `cachelab: ${urls.length} instance(s) ready (${redis}, database ${redactUrl(dbUrl)})`,
      ...urls.map((url, i) => `  ${instanceName(i)}  ${url}`),
      '',
      'Try:',
      `  curl -i ${urls[0]}/users/42`,
      `  curl -i -X PUT ${urls[0]}/users/42 -H 'content-type: application/json' -d ${body}`,
      `  curl -i ${urls[urls.length - 1]}/users/42`,
      '',
      `Ctrl-C stops everything; then \`npm run reset\`${sameSettings()} starts the next run from a fresh database.`,
      '',
      `cachelab cluster ready: ${urls.join(',')}`,
    ].join('\n'),
  );
}

// --- Main. ---

const redisNodePorts = config.redis.kind === 'own' ? config.redis.clusterPorts : undefined;
// Each language's one-time preparation (the Python instance's virtual environment) before any
// instance of it starts; its output shows only when it fails.
for (const [program = 'true', ...args] of prepareCommands(config.languages)) {
  const prepared = spawnSync(program, args, { encoding: 'utf8' });
  if (prepared.status !== 0) {
    fail(
      `preparing instances failed: ${[program, ...args].join(' ')} exited ${prepared.status ?? prepared.signal}`,
      `${prepared.stdout ?? ''}${prepared.stderr ?? prepared.error?.message ?? ''}`.trim(),
    );
  }
}

const running = concurrently(buildCommands(), {
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
// adds the SIGKILL fallback. It is installed after the preflight on purpose: until then no
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

const urls = config.appPorts.map((port) => `http://127.0.0.1:${port}`);
// Ready means every instance answers /readyz and trusts its L1 (subscribed, its own heartbeat
// back): an instance of a Redis Cluster still forming serves, but only from the database.
const outcome = await waitUntilReady(urls, runId, {
  deadlineMs: READY_DEADLINE_MS,
  stopped: () => stopRequested,
  requireTrustedL1: true,
});
if (!stopRequested && (outcome.foreign.length > 0 || outcome.pending.length > 0)) {
  for (const { url, detail } of outcome.foreign) {
    console.error(`cluster: ${url} is not an instance of this run: ${detail}; stopping`);
  }
  if (outcome.foreign.length === 0) {
    console.error(
      `cluster: not ready after ${READY_DEADLINE_MS / 1000}s: ${outcome.pending.join(', ')}`,
    );
  }
  readinessFailed = true;
  for (const command of running.commands) command.kill();
  forceKillLater();
} else if (!stopRequested) {
  // Recorded before the ready line, so that a script started on that line finds it; removed
  // on exit, whatever ends the run.
  process.on('exit', () => removeRunFile(config, runId));
  writeRunFile(config, { runId, urls, redisUrl: config.redis.url, pid: process.pid });
  printReady(urls);
}
