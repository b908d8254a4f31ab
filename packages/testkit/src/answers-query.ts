import type { ChildProcess } from 'node:child_process';
import pg from 'pg';

/**
 * Whether the server at `url` answers `SELECT 1` over a fresh connection (1 s to connect): resolves
 * `true`, or throws why not, so that `waitFor` can name the last reason when it gives up.
 *
 * @throws {Error} `<name> exited with <code or signal>` once `child` (the server process) has exited; the
 *   connection or query error otherwise.
 */
export async function answersSelect1(
  url: string,
  child: ChildProcess,
  name: string,
): Promise<true> {
  // A server killed by a signal has no exit code, only a signal code.
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}`);
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}
