import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { answersSelect1 } from './answers-query.ts';
import { freePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

const run = promisify(execFile);

/** A PostgreSQL server of its own (initdb in a temporary directory), on a free loopback port. */
export interface TestPostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust authentication, loopback only). */
  url: string;
  process(): ChildProcess;
  /** Stops it (SIGINT: fast shutdown) and deletes its data directory. */
  stop(): Promise<void>;
}

/** The directory of PostgreSQL's server binaries (Debian: /usr/lib/postgresql/N/bin), if any. */
export function postgresBinaries(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/**
 * Starts a throw-away PostgreSQL (fsync off: nothing survives it anyway). PostgreSQL refuses to
 * run as root: under root it runs as the system user `postgres`.
 *
 * @throws {Error} when no PostgreSQL binaries are installed, or the server does not start.
 */
export async function startPostgresServer(): Promise<TestPostgresServer> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const dir = await mkdtemp(join(tmpdir(), 'cachelab-pg-'));
  const asUser = process.getuid?.() === 0 ? await systemUser('postgres') : undefined;
  try {
    if (asUser) {
      await chmod(dir, 0o777);
      await run('chown', ['-R', `${asUser.uid}:${asUser.gid}`, dir]);
    }
    const data = join(dir, 'data');
    await new Promise<void>((resolve, reject) => {
      const init = spawn(
        join(bin, 'initdb'),
        ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'],
        { stdio: 'ignore', ...asUser },
      );
      init.once('error', reject);
      init.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`initdb exited ${code}`)),
      );
    });
    const port = await freePort();
    const child = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1'].concat([
        '-c',
        'fsync=off',
        '-c',
        'synchronous_commit=off',
        '-c',
        'max_connections=200',
      ]),
      { stdio: 'ignore', ...asUser },
    );
    child.once('error', () => {});
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    await waitFor(() => answersSelect1(url, child, 'postgres'), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `postgres on ${port}`,
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

async function systemUser(name: string): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await run('id', [flag, name])).stdout.trim())),
  );
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error(`no user ${name}`);
  return { uid: uid as number, gid: gid as number };
}
