/** The settings an adapter reads from its environment (protocol/INTEROP.md, "Environment"). */
export interface AdapterEnv {
  /** `REDIS_URL`, when the harness runs a single Redis. */
  redisUrl: string | undefined;
  /** `REDIS_CLUSTER_NODES` as a list of `redis://` URLs, when it runs a Redis Cluster. */
  clusterNodes: string[] | undefined;
  namespace: string;
  origin: string;
  /** `CACHELAB_SECRETS`: empty when messages are not signed. */
  secrets: string[];
  heartbeatMs: number | undefined;
  heartbeatTimeoutMs: number | undefined;
  l1TtlMs: number | undefined;
}

/** Reads and checks the adapter's environment; throws a `TypeError` naming the variable. */
export function readAdapterEnv(env: NodeJS.ProcessEnv): AdapterEnv {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new TypeError(`${name} must be set`);
    return value;
  };
  const ms = (name: string) => {
    const raw = env[name];
    if (raw === undefined || raw === '') return undefined;
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${name} must be a positive integer (ms)`);
    }
    return value;
  };
  const list = (raw: string | undefined) => (raw ? raw.split(',').filter(Boolean) : []);
  const clusterNodes = list(env.REDIS_CLUSTER_NODES);
  const redisUrl = env.REDIS_URL || undefined;
  if (clusterNodes.length > 0 === (redisUrl !== undefined)) {
    throw new TypeError('exactly one of REDIS_URL and REDIS_CLUSTER_NODES must be set');
  }
  const heartbeatMs = ms('CACHELAB_HEARTBEAT_MS');
  return {
    redisUrl,
    clusterNodes: clusterNodes.length > 0 ? clusterNodes : undefined,
    namespace: required('CACHELAB_NAMESPACE'),
    origin: required('CACHELAB_ORIGIN'),
    secrets: list(env.CACHELAB_SECRETS),
    heartbeatMs,
    heartbeatTimeoutMs:
      ms('CACHELAB_HEARTBEAT_TIMEOUT_MS') ?? (heartbeatMs ? 4 * heartbeatMs : undefined),
    l1TtlMs: ms('CACHELAB_L1_TTL_MS'),
  };
}
