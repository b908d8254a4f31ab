import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { freePort } from './net.ts';
import { waitFor } from './wait.ts';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** An app instance running as its own process, as `npm start` runs it. */
export interface InstanceProcess {
  url: string;
  child: ChildProcess;
  /** Everything it printed so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Options of {@link startInstance}. */
export interface StartInstanceOptions {
  /** Longest wait for `/readyz`; then the process is killed. */
  timeoutMs?: number;
  /** Node flags before the script, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /**
   * Run the compiled `packages/app/dist/main.js` with plain Node, as `npm start` does, instead of
   * the sources under tsx (build first: `npm run build`).
   * @default false
   */
  compiled?: boolean;
  /** Told about the process as soon as it is spawned (before it is ready), e.g. to kill it. */
  onSpawn?: (child: ChildProcess) => void;
}

/**
 * Spawns `packages/app/src/main.ts` (or `dist/main.js`: `compiled`) with `env` and waits until
 * `/readyz` answers 200 (at most `timeoutMs`) with the run token it was given (`CLUSTER_RUN_ID`, a
 * fresh one unless `env` sets it), so that a process which took the port first (another test's
 * app) is never taken for it. If it does not, the process is killed and the error carries what it
 * printed. Pass `PORT` in `env` to start it where an earlier instance was (a restart); else a free
 * port is used.
 */
export async function startInstance(
  env: Record<string, string>,
  options: StartInstanceOptions = {},
): Promise<InstanceProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const runId = env.CLUSTER_RUN_ID ?? randomBytes(9).toString('base64url');
  const entry = options.compiled
    ? ['packages/app/dist/main.js']
    : ['--import', 'tsx', 'packages/app/src/main.ts'];
  const args = [...(options.nodeArgs ?? []), ...entry];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), CLUSTER_RUN_ID: runId, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  options.onSpawn?.(child);
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const url = `http://127.0.0.1:${port}`;
  const ours = async () => {
    const response = await fetch(`${url}/readyz`);
    const body = (await response.json()) as { run?: unknown };
    return response.status === 200 && body.run === runId;
  };
  const ready = waitFor(ours, {
    timeoutMs: options.timeoutMs ?? 30_000,
    intervalMs: 100,
    what: `instance on ${port}`,
  });
  const diedFirst = exited.then((code) => {
    throw new Error(`instance exited with ${code} before it was ready:\n${output}`);
  });
  diedFirst.catch(() => {});
  try {
    await Promise.race([ready, diedFirst]);
  } catch (error) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`, { cause: error });
  }
  return { url, child, output: () => output, exited };
}
