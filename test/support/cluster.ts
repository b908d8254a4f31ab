import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ephemeralPortRange, freePort } from '@cachelab/testkit';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How a spawned process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** `npm start` (scripts/cluster.ts) running in its own process group, with its output captured. */
export interface ClusterProcess {
  /** Process id of the cluster script, also the id of its process group. */
  pid: number;
  /** Everything written to stdout and stderr so far, interleaved. */
  output(): string;
  /** Settles when the cluster script has exited. */
  exited: Promise<Exit>;
  /** The URLs of the `cachelab cluster ready:` line; rejects on timeout or early exit. */
  ready(timeoutMs: number): Promise<string[]>;
  /** Whether any process of the group (the script or a child it left behind) still exists. */
  groupAlive(): boolean;
  /** Sends `signal` to every process of the group; a no-op once the group is gone. */
  killGroup(signal: NodeJS.Signals): void;
}

const READY_LINE = /^cachelab cluster ready: (\S+)$/m;

/** Spawns `node --import tsx scripts/cluster.ts` from the repo root with `env` on top of ours. */
export function startCluster(env: Record<string, string>): ClusterProcess {
  // detached: the script leads a new process group, so the test can see (and kill) every
  // process it starts, including any that would outlive it.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/cluster.ts'], {
    cwd: ROOT,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn scripts/cluster.ts');
  const pid = child.pid;
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });

  const groupAlive = () => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw error;
    }
  };

  return {
    pid,
    output: () => output,
    exited,
    groupAlive,
    killGroup(signal) {
      if (groupAlive()) process.kill(-pid, signal);
    },
    async ready(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      let hasExited = false;
      void exited.then(() => {
        hasExited = true;
      });
      for (;;) {
        const match = READY_LINE.exec(output);
        if (match?.[1]) return match[1].split(',');
        if (hasExited) throw new Error(`cluster exited before it was ready:\n${output}`);
        if (Date.now() > deadline)
          throw new Error(`cluster not ready in ${timeoutMs}ms:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether `port` can be bound on every interface right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive TCP ports that could all be bound a moment ago, all outside
 * the kernel's ephemeral range: a port inside it can be taken meanwhile as the local port of
 * any outgoing connection (an instance of a CI run once failed with EADDRINUSE on such a port).
 * Starts from a random free port, so that concurrent test runs are unlikely to choose the same
 * range.
 */
export async function freePortRange(count: number): Promise<number> {
  const [low, high] = ephemeralPortRange();
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort();
    const last = base + count - 1;
    if (last > 65_535 || (last >= low && base <= high)) continue;
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(canListen))).every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found outside the ephemeral range`);
}
