import { type ChildProcess, spawn } from 'node:child_process';
import { createClient } from 'redis';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

/** A `redis-server` owned by a test: it may be killed, restarted and reconfigured freely. */
export interface TestRedisServer {
  url: string;
  port: number;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port, keeping nothing on disk, and waits for PING. */
export async function startRedisServer(
  options: { port?: number; args?: string[] } = {},
): Promise<TestRedisServer> {
  const port = options.port ?? (await freePort());
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'].concat(
      options.args ?? [],
    ),
    { stdio: 'ignore' },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  const url = `redis://127.0.0.1:${port}`;
  await waitFor(() => ping(url, child), { timeoutMs: 10_000, what: `redis-server on ${port}` });
  return {
    url,
    port,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

async function ping(url: string, child: ChildProcess): Promise<boolean> {
  if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 500 } });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    if (client.isOpen) client.destroy();
  }
}
