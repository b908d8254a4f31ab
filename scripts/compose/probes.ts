/**
 * HTTP probes and lab runs of the compose test (scripts/compose/check-stack.ts), against instances
 * addressed by their published URLs.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { answerOf, BAD_REQUESTS } from '@cachelab/lab/lab/bad-requests.ts';
import { nanoid } from 'nanoid';

const REQUEST_TIMEOUT_MS = 3000;

/** One instance of the stack: its compose service (= `INSTANCE_NAME`), language and URL. */
export interface Instance {
  name: string;
  language: string;
  url: string;
}

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

/**
 * Reads user `id` (one no instance has read yet) on `instance` until `X-Cache` says L1, checking
 * every answer: 200, `X-Instance` naming the instance (`name/id`), `X-Version` the body's version,
 * the first read a MISS. Resolves with e.g. `app-go MISS→L1`; rejects on a wrong answer, or when
 * no L1 hit came within `deadlineMs` (default 5000).
 */
export async function tierHeaders(instance: Instance, id: string, deadlineMs = 5000) {
  const tiers: string[] = [];
  const deadline = performance.now() + deadlineMs;
  while (tiers.at(-1) !== 'L1') {
    if (performance.now() > deadline) {
      throw new Error(`${instance.name}: no L1 hit on user ${id} within ${deadlineMs} ms`);
    }
    const response = await fetch(`${instance.url}/users/${id}`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const body = (await response.json()) as { version?: number };
    const [who, tier, version] = ['x-instance', 'x-cache', 'x-version'].map((name) =>
      response.headers.get(name),
    );
    const said = `${instance.name} GET /users/${id}: ${response.status}, X-Instance ${who}, X-Cache ${tier}, X-Version ${version}`;
    if (response.status !== 200 || !who?.startsWith(`${instance.name}/`)) throw new Error(said);
    if (!tier || !['L1', 'L2', 'MISS'].includes(tier) || version !== String(body.version)) {
      throw new Error(said);
    }
    if (tiers.length === 0 && tier !== 'MISS') throw new Error(`${said} (a first read)`);
    if (tier !== tiers.at(-1)) tiers.push(tier);
  }
  return `${instance.name} ${tiers.join('→')}`;
}

/**
 * Sends every request of the lab's bad-request list to `reference` and to each of `others`, and
 * lists those where another answered a status, error code or `Allow` other than the reference's
 * (the status only, where the list says that language's HTTP server answers by itself).
 */
export async function refusalDifferences(reference: Instance, others: Instance[]) {
  const differences: string[] = [];
  for (const request of BAD_REQUESTS) {
    const expected = await answerOf(reference.url, request);
    if (expected.status < 400 || expected.status >= 500) {
      differences.push(`${request.what}: ${reference.name} answered ${expected.status}`);
    }
    for (const other of others) {
      const answer = await answerOf(other.url, request);
      const [a, b] = request.serverAnswers?.[other.language]
        ? [expected.status, answer.status]
        : [expected, answer];
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        differences.push(
          `${request.what}: ${reference.name} ${JSON.stringify(expected)}, ${other.name} ${JSON.stringify(answer)}`,
        );
      }
    }
  }
  return { requests: BAD_REQUESTS.length, differences };
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
