import type { Pool } from 'pg';
import { pg } from './pg.ts';

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
export function createPool(options: PoolOptions, onError: (error: Error) => void = () => {}): Pool {
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
  // A query that timed out leaves its client released with the error, which makes the pool
  // destroy it rather than reuse it. Its idle siblings may have died the same silent death (a
  // path that black-holes, a peer host gone): they are checked at once, in parallel, so that
  // each one costs a probe, not a user's query its timeout.
  const checkIdle = idleClientCheck(pool);
  pool.on('release', (error: Error | undefined) => {
    if (error && /timeout/i.test(error.message)) checkIdle();
  });
  return pool;
}

/**
 * Returns a function that runs `SELECT 1` on every idle client of `pool` (one round at a time);
 * a client whose check fails or times out is released with the error, so the pool destroys it.
 */
function idleClientCheck(pool: Pool): () => void {
  let checking = false;
  return () => {
    if (checking || pool.idleCount === 0) return;
    checking = true;
    const checks = Array.from({ length: pool.idleCount }, async () => {
      const client = await pool.connect();
      try {
        await client.query('SELECT 1');
        client.release();
      } catch (error) {
        client.release(error as Error);
      }
    });
    void Promise.allSettled(checks).then(() => {
      checking = false;
    });
  };
}
