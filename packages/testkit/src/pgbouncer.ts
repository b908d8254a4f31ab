import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { answersSelect1 } from './answers-query.ts';
import { freePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

/** Where Debian's `pgbouncer` package installs the server. */
const PGBOUNCER = '/usr/sbin/pgbouncer';

/** A PgBouncer of its own in front of one PostgreSQL, on a free loopback port. */
export interface TestPgBouncer {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`, through the pooler. */
  url: string;
  process(): ChildProcess;
  /** Stops it (SIGINT: PgBouncer's immediate shutdown) and deletes its directory. */
  stop(): Promise<void>;
}

/** Whether PgBouncer is installed (Debian: `apt-get install pgbouncer`). */
export function pgbouncerBinary(): string | undefined {
  return existsSync(PGBOUNCER) ? PGBOUNCER : undefined;
}

/**
 * Starts PgBouncer in front of `postgresUrl` (a `postgres://postgres@127.0.0.1:PORT/postgres` URL
 * with trust authentication, as {@link startPostgresServer} gives) in `poolMode` (transaction by
 * default, where server connections are shared between clients from one transaction to the
 * next). At most `poolSize` server connections, so that clients visibly share them. PgBouncer
 * refuses to run as root: under root it runs as the system user `postgres`.
 *
 * @throws {Error} when PgBouncer is not installed, or does not start.
 */
export async function startPgBouncer(
  postgresUrl: string,
  options: { poolMode?: 'session' | 'transaction'; poolSize?: number } = {},
): Promise<TestPgBouncer> {
  const binary = pgbouncerBinary();
  if (!binary) throw new Error(`PgBouncer is not installed (${PGBOUNCER})`);
  const target = new URL(postgresUrl);
  const dir = await mkdtemp(join(tmpdir(), 'cachelab-pgbouncer-'));
  try {
    const port = await freePort();
    const config = join(dir, 'pgbouncer.ini');
    await writeFile(join(dir, 'userlist.txt'), '"postgres" ""\n');
    await writeFile(
      config,
      [
        '[databases]',
        `postgres = host=${target.hostname} port=${target.port} dbname=postgres user=postgres`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        'auth_type = trust',
        `auth_file = ${join(dir, 'userlist.txt')}`,
        `pool_mode = ${options.poolMode ?? 'transaction'}`,
        `default_pool_size = ${options.poolSize ?? 2}`,
        'max_client_conn = 500',
        'ignore_startup_parameters = extra_float_digits',
        '',
      ].join('\n'),
    );
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      await chmod(dir, 0o755);
      await run('chown', ['-R', 'postgres:postgres', dir]);
    }
    const child = spawn(binary, asRoot ? ['-u', 'postgres', config] : [config], {
      stdio: 'ignore',
    });
    child.once('error', () => {});
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitFor(() => answersSelect1(url, child, 'pgbouncer'), {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: `pgbouncer on ${port}`,
    });
    return {
      url,
      process: () => child,
      async stop() {
        await signalProcess(child, 'SIGINT');
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
