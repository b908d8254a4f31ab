import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What one run of the lab (`npm run consistency`) or of a demo printed and wrote. */
export interface LabRun {
  code: number | null;
  output: string;
  /** Reports written, by file name. */
  files: Record<string, string>;
}

/** Runs `scripts/consistency.ts` with `args` (as `npm run consistency -- args` would). */
export function runLab(args: string[], timeoutMs = 120_000): Promise<LabRun> {
  return runScript('scripts/consistency.ts', args, timeoutMs);
}

/**
 * Runs a script of `scripts/` that takes `--out DIR` (the lab, the demos) with `args` and a fresh
 * temporary `--out`; interrupts it (SIGINT) after `timeoutMs`.
 */
export async function runScript(
  script: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<LabRun> {
  const out = await mkdtemp(join(tmpdir(), 'cachelab-lab-out-'));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args, '--out', out], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  const files: Record<string, string> = {};
  for (const name of await readdir(out)) files[name] = await readFile(join(out, name), 'utf8');
  return { code, output, files };
}

/** The content of the one written file whose name ends with `suffix`. */
export function fileEnding(run: LabRun, suffix: string): string {
  const names = Object.keys(run.files).filter((name) => name.endsWith(suffix));
  if (names.length !== 1)
    throw new Error(`expected one *${suffix}, got ${names.join(', ')}\n${run.output}`);
  return run.files[names[0] as string] as string;
}
