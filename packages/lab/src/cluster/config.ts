/**
 * The settings of `npm start` and `npm run reset`, read from the environment in this one place,
 * validated, with the defaults of ../cluster-defaults.ts.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readSettings, SETTINGS } from '@cachelab/app';
import { CLUSTER_DEFAULTS, instanceName } from '../cluster-defaults.ts';
import {
  type InstanceLanguage,
  InstanceLanguagesError,
  parseInstanceLanguages,
} from '../instance-languages.ts';

/** The repository root: where relative paths of the cluster are resolved. */
export const ROOT = fileURLToPath(new URL('../../../..', import.meta.url));

/** Where the cluster's Redis comes from. */
export type RedisSource =
  /**
   * `npm start` runs `redis-server config/redis.conf --port <port>` itself; with `REDIS_CLUSTER=1`,
   * six of them in cluster mode on `port` … `port + 5` (three masters, three replicas), and the
   * instances get `REDIS_CLUSTER_NODES`.
   */
  | { kind: 'own'; port: number; url: string; clusterPorts?: number[] }
  /**
   * `REDIS_URL`: a Redis the cluster did not start and must not stop; or `REDIS_CLUSTER_NODES`
   * (`host:port,…`, passed on to the instances): a Redis Cluster of yours, `url` its first node.
   */
  | { kind: 'external'; url: string; clusterNodes?: string[] };

/** One TCP port the cluster needs, who uses it, and the setting that moves it. */
export interface ClusterPort {
  port: number;
  /** e.g. `app-1`, `the embedded database`, `redis-server`. */
  user: string;
  setting: 'BASE_PORT' | 'DB_PORT' | 'REDIS_PORT';
}

/** The cluster's settings. */
export interface ClusterConfig {
  /** `INSTANCES`, or as many as `INSTANCE_LANGUAGES` lists. @default 3 */
  instances: number;
  /** `INSTANCE_LANGUAGES`: the language of each instance, in order. @default all `node` */
  languages: InstanceLanguage[];
  /** `BASE_PORT`: instance i (0-based) listens on basePort + i. @default 3001 */
  basePort: number;
  /** The ports of the instances, in order. */
  appPorts: number[];
  redis: RedisSource;
  /** `DATABASE_URL`: a PostgreSQL to use instead of the embedded database. @default none */
  databaseUrl: string | undefined;
  /** `DB_PORT` of the embedded database. @default 25432 */
  dbPort: number;
  /** `DB_DATA_DIR`, absolute. @default `<root>/.data/pglite` */
  dbDataDir: string;
  /** `DB_LATENCY_MS` @default 50 */
  dbLatencyMs: number;
  /** `SEED_USERS` @default 10000 */
  seedUsers: number;
  /** `CACHE_NAMESPACE`, passed on to the instances: the prefix of every key. @default 'cl' */
  namespace: string;
}

/** A setting that is invalid; its message names the variable and never quotes a URL. */
export class ClusterConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * The variables that say where `npm start`'s cluster lives: `npm run reset` must be given the same
 * ones to find it.
 */
export const CLUSTER_LOCATION_SETTINGS = [
  'INSTANCES',
  'BASE_PORT',
  'DB_PORT',
  'DB_DATA_DIR',
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_PORT',
  'REDIS_CLUSTER',
  'REDIS_CLUSTER_NODES',
  'CACHE_NAMESPACE',
] as const;

/** The instance settings npm start reads too, to check them before starting anything. */
const PASSED_ON = [
  'redisUrl',
  'redisClusterNodes',
  'databaseUrl',
  'dbLatencyMs',
  'seedUsers',
  'cacheNamespace',
] as const;

/**
 * Reads the cluster's settings from `env`. Those it passes on to the instances (`REDIS_URL`,
 * `REDIS_CLUSTER_NODES`, `DATABASE_URL`, `DB_LATENCY_MS`, `SEED_USERS`, `CACHE_NAMESPACE`) are read
 * through the instance's declaration of them, with its rules and defaults, so that npm start
 * refuses what an instance would refuse; the URLs' default differs (none: npm start runs its own).
 * @throws ClusterConfigError naming the first invalid variable.
 */
export function readClusterConfig(env: Env): ClusterConfig {
  const trimmed = Object.fromEntries(
    PASSED_ON.map((name) => [SETTINGS[name].env, env[SETTINGS[name].env]?.trim()]),
  );
  const instanceSettings = readSettings(trimmed, PASSED_ON);
  const [problem] = instanceSettings.problems;
  if (problem) throw new ClusterConfigError(problem);
  const shared = instanceSettings.values;
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ClusterConfigError(
        `\`${name}\` must be an integer between ${min} and ${max} (got "${raw}")`,
      );
    }
    return value;
  };

  const count = env.INSTANCES?.trim() ? int('INSTANCES', 0, 1, 32) : undefined;
  let languages: InstanceLanguage[];
  try {
    languages = parseInstanceLanguages(env.INSTANCE_LANGUAGES, count, CLUSTER_DEFAULTS.instances);
  } catch (error) {
    if (error instanceof InstanceLanguagesError) throw new ClusterConfigError(error.message);
    throw error;
  }
  if (languages.length > 32) {
    throw new ClusterConfigError('`INSTANCE_LANGUAGES` must name at most 32 instances');
  }
  const instances = languages.length;
  const basePort = int('BASE_PORT', CLUSTER_DEFAULTS.basePort, 1, 65_536 - instances);
  // The instance's default (a Redis on 6379) is not npm start's (its own).
  const redisUrl = env.REDIS_URL?.trim() ? shared.redisUrl : undefined;
  const redisCluster = int('REDIS_CLUSTER', 0, 0, 1) === 1;
  const redisPort = int(
    'REDIS_PORT',
    redisCluster ? CLUSTER_DEFAULTS.redisClusterPort : CLUSTER_DEFAULTS.redisPort,
    1,
    65_530,
  );
  if (redisCluster && redisPort > 55_530) {
    throw new ClusterConfigError(
      `\`REDIS_PORT\` must be at most 55530 with REDIS_CLUSTER=1: six nodes from it, each with a cluster bus port 10000 above its own (got "${redisPort}")`,
    );
  }
  // As written (an IPv6 host keeps its brackets): the instances get them as they are.
  const clusterNodes = shared.redisClusterNodes
    ? (env.REDIS_CLUSTER_NODES as string).split(',').map((node) => node.trim())
    : undefined;
  if (clusterNodes && redisUrl) {
    throw new ClusterConfigError(
      'set one of `REDIS_URL` (one Redis) and `REDIS_CLUSTER_NODES` (a Redis Cluster), not both',
    );
  }
  const dataDir = env.DB_DATA_DIR?.trim() || CLUSTER_DEFAULTS.dbDataDir;
  const config: ClusterConfig = {
    instances,
    languages,
    basePort,
    appPorts: Array.from({ length: instances }, (_, i) => basePort + i),
    redis: clusterNodes
      ? { kind: 'external', url: `redis://${clusterNodes[0]}`, clusterNodes }
      : redisUrl
        ? { kind: 'external', url: redisUrl }
        : {
            kind: 'own',
            port: redisPort,
            url: `redis://127.0.0.1:${redisPort}`,
            ...(redisCluster
              ? { clusterPorts: Array.from({ length: 6 }, (_, i) => redisPort + i) }
              : {}),
          },
    databaseUrl: env.DATABASE_URL?.trim() ? shared.databaseUrl : undefined,
    dbPort: int('DB_PORT', CLUSTER_DEFAULTS.dbPort, 1, 65_535),
    dbDataDir: resolve(ROOT, dataDir),
    dbLatencyMs: shared.dbLatencyMs as number,
    seedUsers: shared.seedUsers as number,
    namespace: shared.cacheNamespace as string,
  };
  checkCollisions(clusterPorts(config));
  return config;
}

/** Every port the cluster will listen on (instances, embedded database, its own Redis). */
export function clusterPorts(config: ClusterConfig): ClusterPort[] {
  const ports: ClusterPort[] = config.appPorts.map((port, i) => ({
    port,
    user: instanceName(i),
    setting: 'BASE_PORT',
  }));
  if (!config.databaseUrl) {
    ports.push({ port: config.dbPort, user: 'the embedded database', setting: 'DB_PORT' });
  }
  if (config.redis.kind === 'own') {
    for (const port of config.redis.clusterPorts ?? [config.redis.port]) {
      ports.push({ port, user: 'redis-server', setting: 'REDIS_PORT' });
    }
    // A cluster node also listens on its cluster bus port, its port + 10000.
    for (const port of config.redis.clusterPorts ?? []) {
      ports.push({
        port: port + 10_000,
        user: `the cluster bus of redis-server ${port}`,
        setting: 'REDIS_PORT',
      });
    }
  }
  return ports;
}

function checkCollisions(ports: ClusterPort[]): void {
  for (const [i, a] of ports.entries()) {
    const b = ports.slice(i + 1).find((other) => other.port === a.port);
    if (b && a.setting !== b.setting) {
      throw new ClusterConfigError(
        `\`${b.setting}\` (${b.port}) collides with the port of ${a.user} (\`${a.setting}\`)`,
      );
    }
  }
}

/** The data directory relative to the root when inside it (for messages), else absolute. */
export function displayPath(path: string): string {
  const inside = path.startsWith(join(ROOT, '/'));
  return inside ? path.slice(ROOT.length).replace(/^\/+/, '') : path;
}
