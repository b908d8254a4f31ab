/**
 * What `npm start` (scripts/cluster.ts) runs when no environment variable says otherwise. Kept
 * apart from that script, which starts processes as soon as it is imported, so that tests can
 * check other ways of running the cluster (docker-compose.yml) against the same numbers.
 */
import { SETTINGS, settingDefault } from '@cachelab/app';

export const CLUSTER_DEFAULTS = {
  /** `INSTANCES` */
  instances: 3,
  /** `BASE_PORT`: instance i (0-based) listens on basePort + i. */
  basePort: 3001,
  /** `DB_PORT`: where the embedded database listens. */
  dbPort: 25_432,
  /** `DB_DATA_DIR`: where the embedded database persists, from the repository root. */
  dbDataDir: '.data/pglite',
  /**
   * `REDIS_PORT`: where the `redis-server` that `npm start` runs itself listens. Not 6379, so that
   * the cluster never takes (nor runs the tutorial's commands against) a Redis someone else runs.
   */
  redisPort: 26_379,
  /**
   * `REDIS_PORT` with `REDIS_CLUSTER=1`: the first of six cluster-mode nodes. At most 55530, as a
   * node's cluster bus listens 10000 above its port and Redis refuses ports above 55535.
   */
  redisClusterPort: 21_380,
  /** `DB_LATENCY_MS`: the instance's default, which npm start passes on. */
  dbLatencyMs: settingDefault(SETTINGS.dbLatencyMs),
  /** `SEED_USERS`: the instance's default, which npm start passes on. */
  seedUsers: settingDefault(SETTINGS.seedUsers),
} as const;

/** The `INSTANCE_NAME` of instance `index` (0-based): `app-1`, `app-2`, … */
export function instanceName(index: number): string {
  return `app-${index + 1}`;
}
