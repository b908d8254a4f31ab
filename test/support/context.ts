import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Redis the tests may read and write (never reconfigure): started by the setup or `REDIS_URL`. */
    redisUrl: string;
    /** The in-memory embedded database served over the Postgres wire protocol. */
    databaseUrl: string;
    /**
     * A real PostgreSQL: `TEST_DATABASE_URL`, else one the setup started (when the machine has
     * PostgreSQL's server binaries), else `''`.
     */
    postgresUrl: string;
    /**
     * `host:port,…` of every node (as `REDIS_CLUSTER_NODES` takes it) of the Redis Cluster, three
     * masters with a replica each, that the e2e project's setup starts for its tests to share
     * (not provided to the other projects). Read and write under your own namespace; never
     * change its topology, stop, freeze or flush a node, or kill others' connections: a test
     * that does starts a cluster of its own (testkit `startRedisCluster`).
     */
    redisClusterNodes: string;
  }
}
