import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: workers run from there, like the npm scripts. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** Extra Node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Killed (and the promise rejected) after this long. */
  timeoutMs: number;
}

/**
 * Runs `scripts/bench/workers/<name>.ts` in its own Node process with `input` as its only
 * argument (JSON) and resolves with the JSON object it printed last on stdout.
 */
export async function runWorker<T>(
  name: string,
  input: unknown,
  options: WorkerOptions,
): Promise<T> {
  const child = spawnWorker(name, input, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) {
    throw new Error(`bench worker ${name} failed (exit ${code}):\n${stderr}${stdout}`);
  }
  return JSON.parse(last) as T;
}

/** Spawns a worker with an IPC channel (for workers driven step by step). */
export function spawnWorker(name: string, input: unknown, options: WorkerOptions): ChildProcess {
  const entry = `scripts/bench/workers/${name}.ts`;
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', entry, JSON.stringify(input)];
  return spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}
