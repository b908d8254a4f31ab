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
  }
}
