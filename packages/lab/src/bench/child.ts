import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: workers run from there, like the npm scripts. */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Options of {@link runWorker}. */
export interface WorkerOptions {
  /** Extra Node flags, e.g. `--expose-gc`. */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Killed (and the promise rejected) after this long. */
  timeoutMs: number;
}

/**
 * Runs `packages/lab/src/bench/workers/<name>.ts` in its own Node process with `input` as its only
 * argument (JSON) and resolves with the JSON object it printed last on stdout.
 */
export async function runWorker<T>(
  name: string,
  input: unknown,
  options: WorkerOptions,
): Promise<T> {
  return lastJsonLine<T>(`bench worker ${name}`, spawnWorker(name, input, options), options);
}

/**
 * Runs `command` (a program and its arguments, from the repository root, without a shell) with
 * `input` as its last argument (JSON) and resolves with the JSON object it printed last on
 * stdout: the contract of the other languages' bench harnesses (`../bench/languages.ts`).
 */
export async function runCommand<T>(
  command: readonly string[],
  input: unknown,
  options: WorkerOptions,
): Promise<T> {
  const [program, ...args] = command as [string, ...string[]];
  const child = track(
    spawn(program, [...args, JSON.stringify(input)], {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  return lastJsonLine<T>(command.join(' '), child, options);
}

async function lastJsonLine<T>(
  what: string,
  child: ChildProcess,
  options: WorkerOptions,
): Promise<T> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const code = await new Promise<number | null | string>((resolve) => {
    child.once('exit', resolve);
    child.once('error', (error) => resolve(error.message));
  });
  clearTimeout(timer);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) {
    throw new Error(`${what} failed (exit ${code}):\n${stderr}${stdout}`);
  }
  return JSON.parse(last) as T;
}

/** Every process the bench started and that has not exited yet. */
const children = new Set<ChildProcess>();

/** Remembers `child` until it exits, so that {@link killChildren} can end it. */
export function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Kills every process the bench started that is still running (on Ctrl-C or a timeout). */
export function killChildren(): void {
  for (const child of children) child.kill('SIGKILL');
}

/** Spawns a worker with an IPC channel (for workers driven step by step). */
export function spawnWorker(name: string, input: unknown, options: WorkerOptions): ChildProcess {
  const entry = `packages/lab/src/bench/workers/${name}.ts`;
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', entry, JSON.stringify(input)];
  return track(
    spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
}

/** A worker driven by commands over IPC: `{id, cmd, …}` in, `{id, result}` or `{id, error}` out. */
export interface Worker {
  /** Settles once the worker said it is ready (`{id: 0}`); rejects if it exited first. */
  started: Promise<void>;
  /** Sends a command and resolves with its result. */
  call<T>(command: Record<string, unknown>): Promise<T>;
  /** Closes the IPC channel; the worker exits on it. */
  stop(): void;
}

/** Starts `packages/lab/src/bench/workers/<name>.ts` as a command-driven worker. */
export function startWorker(name: string, input: unknown, nodeArgs: string[] = []): Worker {
  const child = spawnWorker(name, input, { timeoutMs: 0, nodeArgs });
  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let ready: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    ready = resolve;
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  child.on('message', (reply: { id: number; result?: unknown; error?: string }) => {
    if (reply.id === 0) return ready();
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.error) waiter?.reject(new Error(reply.error));
    else waiter?.resolve(reply.result);
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${name} worker exited (${code}):\n${stderr}`))),
  );
  exited.catch(() => {});
  return {
    started: Promise.race([started, exited]),
    call<T>(command: Record<string, unknown>): Promise<T> {
      const id = nextId++;
      const reply = new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      });
      child.send({ id, ...command });
      return Promise.race([reply, exited]);
    },
    stop() {
      if (child.connected) child.disconnect();
    },
  };
}

/** Answers the commands of a worker started with {@link startWorker}; call in the worker. */
export function serveCommands<C extends { id: number }>(
  handle: (command: C) => Promise<unknown>,
): void {
  process.on('message', (command: C) => {
    handle(command).then(
      (result) => process.send?.({ id: command.id, result }),
      (error: Error) => process.send?.({ id: command.id, error: error.stack ?? error.message }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, result: 'ready' });
}
