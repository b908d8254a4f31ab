import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNodeScript, type ScriptRun } from '@cachelab/testkit';

/** What one run of the lab (`npm run consistency`) or of a demo printed and wrote. */
export interface LabRun extends ScriptRun {
  /** Reports written, by file name. */
  files: Record<string, string>;
}

/** Runs `packages/lab/src/consistency.ts` with `args` (as `npm run consistency -- args` would). */
export function runLab(args: string[], timeoutMs = 120_000): Promise<LabRun> {
  return runScript('packages/lab/src/consistency.ts', args, timeoutMs);
}

/**
 * Runs a script of the lab package that takes `--out DIR` (the lab, the demos, the benchmarks) with
 * `args` and a fresh temporary `--out`, which it reads back and removes; interrupts the script
 * (SIGINT) after `timeoutMs`.
 */
export async function runScript(
  script: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<LabRun> {
  const out = await mkdtemp(join(tmpdir(), 'cachelab-lab-out-'));
  try {
    const run = await runNodeScript(script, [...args, '--out', out], { timeoutMs });
    const files: Record<string, string> = {};
    for (const name of await readdir(out)) files[name] = await readFile(join(out, name), 'utf8');
    return { ...run, files };
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** The content of the one written file whose name ends with `suffix`. */
export function fileEnding(run: LabRun, suffix: string): string {
  const names = Object.keys(run.files).filter((name) => name.endsWith(suffix));
  if (names.length !== 1)
    throw new Error(`expected one *${suffix}, got ${names.join(', ')}\n${run.output}`);
  return run.files[names[0] as string] as string;
}
