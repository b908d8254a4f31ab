import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * Sends `signal` to `child` and waits for it to exit; nothing if it has exited already. SIGSTOP and
 * SIGCONT are only sent: the process stays.
 */
export async function signalProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (signal === 'SIGSTOP' || signal === 'SIGCONT') {
    child.kill(signal);
    return;
  }
  const exited = once(child, 'exit');
  child.kill(signal);
  await exited;
}

/** How a script run by {@link runNodeScript} ended and what it printed (stdout and stderr). */
export interface ScriptRun {
  code: number | null;
  output: string;
}

/**
 * Runs `script` (a path from the repository root) under tsx with `args`, as its npm script would,
 * and waits for it to exit; sends `signal` if it is still running after `timeoutMs`. `env` is laid
 * over this process's environment.
 */
export async function runNodeScript(
  script: string,
  args: string[],
  options: { timeoutMs: number; signal?: NodeJS.Signals; env?: Record<string, string> },
): Promise<ScriptRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += chunk));
  child.stderr?.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit');
  const timer = setTimeout(() => child.kill(options.signal ?? 'SIGINT'), options.timeoutMs);
  const [code] = (await exited) as [number | null];
  clearTimeout(timer);
  return { code, output };
}
