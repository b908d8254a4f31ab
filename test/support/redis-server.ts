import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createClient } from 'redis';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

/** A `redis-server` owned by a test: it may be killed, restarted and reconfigured freely. */
export interface TestRedisServer {
  url: string;
  port: number;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
  /** Kills the server with `signal` (no clean shutdown) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port (empty: nothing is kept on disk) and waits for PING. */
  restart(): Promise<void>;
}

/** Starts `redis-server` on a free loopback port, keeping nothing on disk, and waits for PING. */
export async function startRedisServer(
  options: { port?: number; args?: string[] } = {},
): Promise<TestRedisServer> {
  const port = options.port ?? (await freePort());
  const url = `redis://127.0.0.1:${port}`;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];

  async function launch(): Promise<ChildProcess> {
    const child = spawn('redis-server', args.concat(options.args ?? []), { stdio: 'ignore' });
    child.once('error', () => {});
    await waitFor(() => ping(url, child), { timeoutMs: 10_000, what: `redis-server on ${port}` });
    return child;
  }

  async function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  let child = await launch();
  return {
    url,
    port,
    stop: () => end(child, 'SIGTERM'),
    kill: (signal = 'SIGKILL') => end(child, signal),
    async restart() {
      await end(child, 'SIGTERM');
      child = await launch();
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
