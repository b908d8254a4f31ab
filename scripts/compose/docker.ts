/**
 * The few Docker and Compose commands the compose test (scripts/compose-test.sh) runs, each with a
 * deadline. They act on the project named by `COMPOSE_PROJECT_NAME` in the environment, with the
 * repository's docker-compose.yml, and go through `docker compose` (v2, or v1 behind the CLI-plugin
 * shim the test installs).
 */
import { execFile } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Compose project the test brings up. */
export const PROJECT = process.env.COMPOSE_PROJECT_NAME ?? 'cachelab-compose-test';

/**
 * Runs `docker ARGS` and resolves with its standard output; rejects with the command, its exit
 * and the end of its standard error when it fails or outlives `timeoutMs` (default 120 000 ms).
 */
export async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run('docker', args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const { stderr = '', message } = error as { stderr?: string; message: string };
    throw new Error(
      `docker ${args.join(' ')}: ${stderr.trim().split('\n').slice(-5).join(' | ') || message}`,
    );
  }
}

/** `docker compose ARGS` for the test's project (see {@link docker} for errors and timeout). */
export function compose(args: string[], timeoutMs?: number): Promise<string> {
  return docker(['compose', '-p', PROJECT, ...args], timeoutMs);
}

/** The health of each container of the project: `healthy`, `starting`, `unhealthy`, or its state. */
export async function containerHealth(): Promise<Map<string, string>> {
  const ids = (await compose(['ps', '-q'])).split('\n').filter(Boolean);
  if (ids.length === 0) return new Map();
  const format =
    '{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}';
  const lines = (await docker(['inspect', '-f', format, ...ids])).trim().split('\n');
  return new Map(lines.map((line) => line.replace(/^\//, '').split(' ', 2) as [string, string]));
}

/**
 * Polls until `check` returns a value other than `undefined`, every `intervalMs` (default 250),
 * and returns it; rejects with `what` and the last error once `timeoutMs` has passed.
 */
export async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = `: ${(error as Error).message}`;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    await delay(intervalMs);
  }
}

/**
 * What the project still owns on the engine, by Compose's project label: containers, networks and
 * volumes (one `kind name` string each; empty when nothing is left).
 */
export async function leftovers(): Promise<string[]> {
  const filter = `label=com.docker.compose.project=${PROJECT}`;
  const found: string[] = [];
  for (const kind of ['container', 'network', 'volume'] as const) {
    const listed = await docker(
      kind === 'container'
        ? ['ps', '-a', '-q', '--filter', filter]
        : [kind, 'ls', '-q', '--filter', filter],
    );
    // Volumes and networks are named after the project, whoever labelled them.
    const named =
      kind === 'container' ? '' : await docker([kind, 'ls', '-q', '--filter', `name=${PROJECT}_`]);
    const names = new Set(`${listed}\n${named}`.split('\n').filter(Boolean));
    for (const name of names) found.push(`${kind} ${name}`);
  }
  return found;
}
