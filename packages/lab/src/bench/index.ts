/**
 * `npm run bench`: measures cachelab on this machine in one run, next to its baselines, and writes
 * `bench/results/<date>.md` and `.json` plus `bench/results/latest.md` (docs/benchmarks.md).
 *
 *   --quick          tiny durations and counts: only proves every section runs (CI); writes to a
 *                    temporary directory unless --out is given
 *   --out DIR        where the results go
 *   --only a,b       run only these sections (l1, http, profile, propagation, storms, memory,
 *                    outbox, cluster, languages);
 *                    like --quick, writes to a temporary directory unless --out is given
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Option } from '@commander-js/extra-typings';
import { createProgram, listOf } from '../cli/program.ts';
import { killChildren, ROOT } from './child.ts';
import { stopLoad } from './load.ts';
import { describeMachine } from './machine.ts';
import { type BenchReport, renderMarkdown } from './report.ts';
import { runCluster } from './sections/cluster.ts';
import { runHttp } from './sections/http.ts';
import { runL1 } from './sections/l1.ts';
import { runLanguages } from './sections/languages.ts';
import { runMemory } from './sections/memory.ts';
import { runOutbox } from './sections/outbox.ts';
import { runProfile } from './sections/profile.ts';
import { runPropagation } from './sections/propagation.ts';
import { runStorms } from './sections/storms.ts';
import { startServices } from './services.ts';
import { FULL, QUICK } from './settings.ts';

const SECTIONS = [
  'l1',
  'http',
  'profile',
  'propagation',
  'storms',
  'memory',
  'outbox',
  'cluster',
  'languages',
] as const;
type Section = (typeof SECTIONS)[number];

const program = createProgram('bench')
  .description(
    'Measures cachelab on this machine next to its baselines; writes bench/results/<date>.md and .json and latest.md.',
  )
  .addOption(
    new Option(
      '--quick',
      'tiny durations and counts: only proves every section runs (CI); writes to a temporary directory unless --out is given',
    ),
  )
  .addOption(new Option('--out <dir>', 'where the results go (default bench/results)'))
  .addOption(
    new Option(
      '--only <section,...>',
      'run only these sections; like --quick, writes to a temporary directory unless --out is given',
    ).argParser(listOf(SECTIONS)),
  )
  .addHelpText('after', `\nSections: ${SECTIONS.join(', ')}. Command-line errors exit 2.`)
  .parse();
const values = program.opts();
/** As this run was asked for, after `npm run bench` (the CLI set argv to this program's own). */
const args = process.argv.slice(2);
const only = values.only ?? [...SECTIONS];
const selected = new Set(only as Section[]);
const settings = values.quick ? QUICK : FULL;
const partial = values.quick || values.only !== undefined;
const out =
  values.out ??
  (partial ? await mkdtemp(join(tmpdir(), 'cachelab-bench-')) : join(ROOT, 'bench/results'));

const startedAt = new Date();
const started = performance.now();
const log = (line: string) => console.log(line);
log(`cachelab bench (${settings.mode}): ${[...selected].join(', ')}; results into ${out}`);

const services = await startServices(settings.seedUsers);
// Interrupted (Ctrl-C, a timeout): nothing the bench started may outlive it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    void services.stop().finally(() => process.exit(130));
  });
}
const results: BenchReport['results'] = {};
const errors: Record<string, string> = {};
try {
  const machine = await describeMachine(services.redisUrl);
  // One section failing is reported and the others still run.
  const timed = async <K extends keyof BenchReport['results']>(
    name: K,
    run: () => Promise<BenchReport['results'][K]>,
  ): Promise<void> => {
    const t0 = performance.now();
    log(`- ${name}`);
    try {
      results[name] = await run();
    } catch (error) {
      errors[name] = (error as Error).stack ?? String(error);
      console.error(`  ${name} failed: ${errors[name]}`);
    }
    log(`  ${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  };
  if (selected.has('l1')) await timed('l1', () => runL1(settings, services));
  if (selected.has('http')) await timed('http', () => runHttp(settings, services, log));
  if (selected.has('profile')) await timed('profile', () => runProfile(settings, services));
  if (selected.has('propagation')) {
    await timed('propagation', () => runPropagation(settings, services));
  }
  if (selected.has('storms')) await timed('storms', () => runStorms(settings, services, log));
  if (selected.has('memory')) await timed('memory', () => runMemory(settings, services));
  if (selected.has('outbox')) await timed('outbox', () => runOutbox(settings, services, log));
  if (selected.has('cluster')) await timed('cluster', () => runCluster(settings, services));
  if (selected.has('languages')) {
    await timed('languages', () => runLanguages(settings, services, log));
  }

  const report: BenchReport = {
    date: startedAt.toISOString(),
    command: ['npm run bench', ...(args.length > 0 ? ['--', ...args] : [])].join(' '),
    durationSeconds: Math.round((performance.now() - started) / 100) / 10,
    machine,
    settings,
    sections: [...selected],
    results,
    errors,
  };
  const stamp = startedAt.toISOString().slice(0, 19).replaceAll(':', '-');
  const markdown = renderMarkdown(report);
  await mkdir(out, { recursive: true });
  await writeFile(join(out, `${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, `${stamp}.md`), markdown);
  await writeFile(join(out, 'latest.md'), markdown);
  log(`\n${markdown}`);
  log(`wrote ${join(out, `${stamp}.md`)}, .json and latest.md in ${report.durationSeconds} s`);
} finally {
  stopLoad();
  await services.stop();
}
process.exit(Object.keys(errors).length > 0 ? 1 : 0);
