/**
 * HTTP probes and lab runs of the compose test (scripts/compose/check-stack.ts), against instances
 * addressed by their published URLs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { nanoid } from 'nanoid';

const REQUEST_TIMEOUT_MS = 3000;

/** What `/readyz` says (`unreachable` when it does not answer). */
export type ReadyStatus = 'ready' | 'degraded' | 'unavailable' | 'draining' | 'unreachable';

/** The `status` of `GET url/readyz`, or `unreachable`. */
export async function readyStatus(url: string): Promise<ReadyStatus> {
  try {
    const response = await fetch(`${url}/readyz`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    return ((await response.json()) as { status: ReadyStatus }).status;
  } catch {
    return 'unreachable';
  }
}

/** One write through the first URL, and how the others saw it. */
export interface Convergence {
  version: number;
  /** Per other instance: write answered → start of its first read of the new version, in ms. */
  convergenceMs: number[];
  /** Other instances whose first read after the write was older. */
  staleFirstReads: number;
}

/**
 * PUTs user `id` with a fresh name through `urls[0]`, then reads it on every other URL until each
 * returns that name at the written version (or newer); rejects after `deadlineMs` (default 5000).
 */
export async function writeAndConverge(
  urls: string[],
  id: string,
  deadlineMs = 5000,
): Promise<Convergence> {
  const name = `compose-${nanoid(8)}`;
  const response = await fetch(`${urls[0]}/users/${id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, email: 'compose@example.com', age: 40 }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (response.status !== 200 && response.status !== 201) {
    throw new Error(`PUT ${urls[0]}/users/${id}: ${response.status} ${await response.text()}`);
  }
  const { version } = (await response.json()) as { version: number };
  const writtenAt = performance.now();
  let staleFirstReads = 0;
  const convergenceMs = await Promise.all(
    urls.slice(1).map(async (url) => {
      for (let attempt = 0; performance.now() - writtenAt < deadlineMs; attempt++) {
        const readAt = performance.now();
        const read = await fetch(`${url}/users/${id}`, {
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const body = (await read.json()) as { name?: string; version?: number };
        if (
          body.version !== undefined &&
          body.version >= version &&
          (body.version > version || body.name === name)
        ) {
          return readAt - writtenAt;
        }
        if (attempt === 0) staleFirstReads++;
      }
      throw new Error(
        `${url} did not serve version ${version} of user ${id} within ${deadlineMs} ms`,
      );
    }),
  );
  return { version, convergenceMs, staleFirstReads };
}

/** What a lab run printed and wrote. */
export interface LabOutput {
  output: string;
  /** The parsed content of the one report whose name ends with `suffix`. */
  json<T>(suffix: string): T;
}

/**
 * Runs `npm run consistency -- ARGS` with a temporary `--out`, within `timeoutMs` (default
 * 120 000); rejects with the end of its output when it exits non-zero.
 */
export async function labRun(args: string[], timeoutMs = 120_000): Promise<LabOutput> {
  const out = await mkdtemp(join(tmpdir(), 'cachelab-compose-lab-'));
  try {
    let output: string;
    try {
      const { stdout, stderr } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'packages/lab/src/cli.ts', 'consistency', ...args, '--out', out],
        { timeout: timeoutMs, maxBuffer: 64 << 20 },
      );
      output = stdout + stderr;
    } catch (error) {
      const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
      const tail = `${stdout}${stderr}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`consistency ${args[0]} failed:\n${tail}`);
    }
    const files: Record<string, string> = {};
    for (const name of await readdir(out)) files[name] = await readFile(join(out, name), 'utf8');
    return {
      output,
      json<T>(suffix: string): T {
        const name = Object.keys(files).find((file) => file.endsWith(suffix));
        if (!name) throw new Error(`consistency ${args[0]} wrote no *${suffix}\n${output}`);
        return JSON.parse(files[name] as string) as T;
      },
    };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}
