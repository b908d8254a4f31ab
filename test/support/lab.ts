import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CheckResult, type Summary, summarize } from '@cachelab/lab/lab/checker.ts';
import type { History } from '@cachelab/lab/lab/history.ts';
import { runNodeScript, type ScriptRun } from '@cachelab/testkit';

/** The lab's one command line (`cachelab-lab`), a path from the repository root. */
export const LAB_CLI = 'packages/lab/src/cli.ts';

/**
 * Runs `cachelab-lab <command> <args>` under tsx, as the command's npm script does (`command`:
 * `consistency`, `demo warmup`, `stats`, …, or `''` for the top level); see `runNodeScript` for
 * `options`.
 */
export function runLabCommand(
  command: string,
  args: string[],
  options: Parameters<typeof runNodeScript>[2],
): Promise<ScriptRun> {
  return runNodeScript(LAB_CLI, [...command.split(' ').filter(Boolean), ...args], options);
}

/** What one run of the lab (`npm run consistency`) or of a demo printed and wrote. */
export interface LabRun extends ScriptRun {
  /** Reports written, by file name. */
  files: Record<string, string>;
}

/** Runs `cachelab-lab consistency` with `args` (as `npm run consistency -- args` would). */
export function runLab(args: string[], timeoutMs = 120_000): Promise<LabRun> {
  return runScript('consistency', args, timeoutMs);
}

/**
 * Runs a command of `cachelab-lab` that takes `--out DIR` (`consistency`, `demo warmup`, `bench`,
 * …) with `args` and a fresh temporary `--out`, which it reads back and removes; interrupts it
 * (SIGINT) after `timeoutMs`.
 */
export async function runScript(
  command: string,
  args: string[],
  timeoutMs = 120_000,
): Promise<LabRun> {
  const out = await mkdtemp(join(tmpdir(), 'cachelab-lab-out-'));
  try {
    const run = await runLabCommand(command, [...args, '--out', out], { timeoutMs });
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

/**
 * The workload options of a short, bounded lab run (`history`): 4 sessions over 20 keys for
 * `duration`, then 1 s quiet before the final sweep, 2 ms per database query.
 */
export function shortWorkload(duration = '2s'): string[] {
  return [
    '--duration',
    duration,
    '--sessions',
    '4',
    '--keys',
    '20',
    '--quiet',
    '1s',
    '--db-latency',
    '2ms',
  ];
}

/** What a `history` run wrote (`*-history.json`): the history, the checker's result, its summary. */
export function historyReport(run: LabRun): {
  history: History;
  result: CheckResult;
  summary: Summary;
} {
  const { history, result } = JSON.parse(fileEnding(run, '-history.json')) as {
    history: History;
    result: CheckResult;
  };
  return { history, result, summary: summarize(result) };
}

/** The summary of each strategy of a `history --compare` run (`*-compare.json`), by its name. */
export function compareSummaries(run: LabRun): (strategy: string) => Summary | undefined {
  const rows = JSON.parse(fileEnding(run, '-compare.json')) as {
    strategy: string;
    summary: Summary;
  }[];
  return (strategy) => rows.find((row) => row.strategy === strategy)?.summary;
}
