import pg from 'pg';

/** Options of {@link createPool}. */
export interface PoolOptions {
  /** A `postgres://` URL. */
  connectionString: string;
  /**
   * Connections kept at most.
   * @default 10
   */
  max?: number;
  /**
   * Client-side bound on each query, so a stuck database fails requests instead of hanging them.
   * @default 5000
   */
  queryTimeoutMs?: number;
  /**
   * Bound on opening a connection.
   * @default 2000
   */
  connectTimeoutMs?: number;
}

/** Creates a `pg` Pool with bounded waits; idle-connection errors are reported, never thrown. */
export function createPool(
  options: PoolOptions,
  onError: (error: Error) => void = () => {},
): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 10,
    query_timeout: options.queryTimeoutMs ?? 5000,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2000,
    idleTimeoutMillis: 30_000,
  });
  // Without a listener, an idle client losing its connection (database restarted) would crash
  // the process with an unhandled 'error' event.
  pool.on('error', onError);
  return pool;
}
