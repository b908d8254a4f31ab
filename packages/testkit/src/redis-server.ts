import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createClient } from 'redis';
import { freePort } from './net.ts';
import { signalProcess } from './process.ts';
import { waitFor } from './wait.ts';

/** A `redis-server` owned by a test: it may be killed, restarted and reconfigured freely. */
export interface TestRedisServer {
  /** `redis://` or, with `tls`, `rediss://`; with `password`, it carries the password. */
  url: string;
  port: number;
  /** Stops the server and waits for the process to exit. */
  stop(): Promise<void>;
  /** Kills the server with `signal` (no clean shutdown) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again on the same port (empty: nothing is kept on disk) and waits for PING. */
  restart(): Promise<void>;
  /** The `redis-server` process now (a restart starts another), e.g. to SIGKILL it on exit. */
  process(): ChildProcess;
}

/** PEM files of a TLS-only server: its certificate and key, and the CA that signed them. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/**
 * Starts `redis-server` on a free loopback port, keeping nothing on disk, and waits for PING.
 * With `tls` the port speaks TLS only (no plain TCP port at all); with `password` the default
 * user requires it (`requirepass`).
 */
export async function startRedisServer(
  options: { port?: number; args?: string[]; tls?: TlsFiles; password?: string } = {},
): Promise<TestRedisServer> {
  const { tls, password } = options;
  const port = options.port ?? (await freePort());
  const listen = tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', tls.certFile]
        .concat(['--tls-key-file', tls.keyFile, '--tls-ca-cert-file', tls.caFile])
        .concat(['--tls-auth-clients', 'no'])
    : ['--port', String(port)];
  const args = listen
    .concat(['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
    .concat(password ? ['--requirepass', password] : [])
    .concat(options.args ?? []);
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  const url = `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`;
  const ca = tls ? readFileSync(tls.caFile, 'utf8') : undefined;

  async function launch(): Promise<ChildProcess> {
    const child = spawn('redis-server', args, { stdio: 'ignore' });
    child.once('error', () => {});
    await waitFor(() => ping(url, child, ca), {
      timeoutMs: 10_000,
      what: `redis-server on ${port}`,
    });
    return child;
  }

  let child = await launch();
  return {
    url,
    port,
    stop: () => signalProcess(child, 'SIGTERM'),
    kill: (signal = 'SIGKILL') => signalProcess(child, signal),
    async restart() {
      await signalProcess(child, 'SIGTERM');
      child = await launch();
    },
    process: () => child,
  };
}

async function ping(url: string, child: ChildProcess, ca?: string): Promise<boolean> {
  if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
  const socket = { reconnectStrategy: false, connectTimeout: 500 } as const;
  const client = createClient({ url, socket: ca ? { ...socket, tls: true, ca } : socket });
  client.on('error', () => {});
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } finally {
    if (client.isOpen) client.destroy();
  }
}
