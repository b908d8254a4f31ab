import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

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
