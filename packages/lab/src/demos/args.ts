/**
 * Command-line handling shared by the demos: a commander program with the options every demo
 * takes, and where a run writes. Errors are one line and exit 2 (see `cli/program.ts`).
 */
import { Option } from '@commander-js/extra-typings';
import { createProgram, integer } from '../cli/program.ts';

/** Where a full run writes its chart and numbers unless `--out` says otherwise. */
export const DEFAULT_OUT = 'lab-results/demos';
/** Where a `--quick` run writes unless `--out` says otherwise: never over a full run's charts. */
export const QUICK_OUT = 'lab-results/demos/quick';

/**
 * The program of demo `name` (`demo:warmup`) with `--out`, `--quick` and `--seed`; the demo adds
 * its own options.
 */
export function createDemoProgram(name: string, description: string) {
  return createProgram(name)
    .description(description)
    .addOption(
      new Option(
        '--out <dir>',
        `where the chart (.svg) and the numbers (.json) go (default ${DEFAULT_OUT}; with --quick ${QUICK_OUT})`,
      ),
    )
    .addOption(new Option('--quick', 'a few seconds per phase, for tests and a first look'))
    .addOption(new Option('--seed <n>', 'seed of the workload').argParser(integer(0)).default(42))
    .addHelpText(
      'after',
      '\nDurations: 500ms, 2.5s, 1m, or a bare number of seconds. Command-line errors exit 2.',
    );
}

/** The output directory of a run: `--out`, else {@link QUICK_OUT} or {@link DEFAULT_OUT}. */
export function outDir(options: { out?: string; quick?: boolean }): string {
  return options.out ?? (options.quick ? QUICK_OUT : DEFAULT_OUT);
}

/** `--urls` as instance targets named app-1, app-2, …. */
export function targetsOf(urls: string[]): { name: string; url: string }[] {
  return urls.map((url, i) => ({ name: `app-${i + 1}`, url }));
}
