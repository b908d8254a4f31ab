import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answersSelect1 } from './answers-query.ts';
import { freePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The embedded database as its own process (`npm run db`), owned by a test that may kill it. */
export interface TestDatabaseServer {
  url: string;
  port: number;
  /** Kills the process with `signal` and waits for it to exit (SIGSTOP: waits for nothing). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it answers a query. */
  restart(): Promise<void>;
  /** Stops it and deletes its data directory. */
  stop(): Promise<void>;
}

/**
 * Starts `packages/store/src/server/main.ts` on a free port over a fresh temporary data directory
 * (so that its data survives a kill and restart), waits until it says that it listens on that
 * port (so that the port is its own), then until it answers `SELECT 1`.
 */
export async function startDatabaseServer(): Promise<TestDatabaseServer> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'cachelab-db-'));
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;

  async function launch(): Promise<ChildProcess> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'packages/store/src/server/main.ts'],
      {
        cwd: ROOT,
        env: { ...process.env, DB_PORT: String(port), DB_DATA_DIR: dataDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // Its own "listening" line first: on a port taken meanwhile by another Postgres (the free
    // port is only free when it was picked), a query would be answered by the wrong server.
    // Generous: PGlite took over 20 s to start on a loaded 2-core machine.
    await listening(child, port, 90_000);
    await waitFor(() => answersSelect1(url, child, 'database'), {
      timeoutMs: 30_000,
      what: `database on ${port}`,
    });
    return child;
  }

  let child = await launch();
  return {
    url,
    port,
    kill: (signal = 'SIGKILL') => signalProcess(child, signal),
    async restart() {
      await signalProcess(child, 'SIGKILL');
      child = await launch();
    },
    async stop() {
      child.kill('SIGCONT');
      await signalProcess(child, 'SIGTERM');
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits until the database process `child` prints that it listens on `port` (main.ts prints
 * `listening on postgres://…:port/…`); fails with its output if it exits first (e.g. the port was
 * taken), or after `timeoutMs`. Its output is drained afterwards so that its pipes never fill.
 */
async function listening(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const line = new RegExp(`listening on postgres://[^\\s]*:${port}/`);
  let output = '';
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  try {
    await waitFor(
      () => {
        if (line.test(output)) return true;
        if (child.exitCode !== null || child.signalCode !== null) {
          const how = child.exitCode ?? child.signalCode;
          throw new Error(
            `database exited (${how}) before it listened on ${port}: ${output.trim()}`,
          );
        }
        return false;
      },
      { timeoutMs, what: `the database to listen on ${port}` },
    );
  } finally {
    child.stdout?.off('data', onData);
    child.stderr?.off('data', onData);
    child.stdout?.resume();
    child.stderr?.resume();
  }
}
