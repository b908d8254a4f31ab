import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AdapterSpec } from './registry.ts';

/** A response line of an adapter: `ok` with the op's fields, or an error. */
export type Response = { id: number; ok: true; [field: string]: unknown } | FailedResponse;
type FailedResponse = { id: number; ok: false; error: { code: string; message: string } };

/** A running adapter process (protocol/INTEROP.md). */
export interface AdapterProcess {
  /** The adapter's name in adapters.json, and the origin it was given. */
  readonly name: string;
  readonly origin: string;
  /** Sends a request and resolves to its response (an error response too). */
  request(op: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Response>;
  /** {@link request}, rejecting on an error response. */
  call(op: string, fields?: Record<string, unknown>, timeoutMs?: number): Promise<Response>;
  /** `close`, then waits for the exit (killed after `timeoutMs`). */
  close(timeoutMs?: number): Promise<void>;
  /** The last lines the adapter wrote on stderr. */
  stderrTail(): string;
}

const STDERR_LINES = 20;

/** Spawns an adapter and waits for its `ready` line (at most `readyTimeoutMs`). */
export async function startAdapter(options: {
  name: string;
  spec: AdapterSpec;
  root: string;
  env: Record<string, string>;
  readyTimeoutMs?: number;
}): Promise<AdapterProcess> {
  const { name, spec, env } = options;
  const [program, ...args] = spec.command as [string, ...string[]];
  const child = spawn(program, args, {
    cwd: join(options.root, spec.cwd),
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > STDERR_LINES) stderr.shift();
  });
  const pending = new Map<number, (response: Response) => void>();
  let nextId = 1;
  let onReady: ((line: string) => void) | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (onReady) return onReady(line);
    const response = parseLine(line);
    if (response) pending.get(response.id)?.(response);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('error', () => {});
  const tail = () => stderr.join('\n');
  const origin = env.CACHELAB_ORIGIN ?? name;

  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => fail(`no ready line within ${options.readyTimeoutMs ?? 30_000} ms`),
      options.readyTimeoutMs ?? 30_000,
    );
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`adapter ${name}: ${why}\n${tail()}`));
    };
    void exited.then(() => fail(`exited with ${child.exitCode ?? child.signalCode}`));
    onReady = (line) => {
      onReady = undefined;
      clearTimeout(timer);
      const ready = safeParse(line) as { event?: string } | undefined;
      if (ready?.event === 'ready') resolve();
      else fail(`first line is not {"event":"ready",…}: ${line}`);
    };
  });

  function request(op: string, fields: Record<string, unknown> = {}, timeoutMs = 10_000) {
    const id = nextId++;
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`adapter ${origin}: no answer to ${op} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, (response) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(response);
      });
      child.stdin.write(`${JSON.stringify({ id, op, ...fields })}\n`);
    });
  }

  return {
    name,
    origin,
    request,
    async call(op, fields, timeoutMs) {
      const response = await request(op, fields, timeoutMs);
      if (!response.ok) {
        throw new Error(
          `adapter ${origin}: ${op} failed: ${response.error.code} ${response.error.message}`,
        );
      }
      return response;
    },
    async close(timeoutMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        await request('close', {}, timeoutMs).catch(() => {});
        child.stdin.end();
      }
      await stopWithin(child, exited, timeoutMs);
    },
    stderrTail: tail,
  };
}

/** Waits for the exit; kills the process (by its own pid) when it takes longer. */
async function stopWithin(child: ChildProcess, exited: Promise<void>, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), timeoutMs);
  });
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

function parseLine(line: string): Response | undefined {
  const parsed = safeParse(line) as Response | undefined;
  return parsed && typeof parsed.id === 'number' ? parsed : undefined;
}

function safeParse(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
