/**
 * `cachelab-lab`: the one command line of the lab package. Each subcommand runs one of the lab's
 * programs in this process with the arguments that follow it, and that program parses them itself
 * (commander, one rule for every option; see `cli/program.ts`), so `cachelab-lab bench --help`
 * prints the benchmark's own generated help. The root npm scripts call it:
 *
 *   npm run consistency -- …   cachelab-lab consistency …
 *   npm run demo:warmup -- …   cachelab-lab demo warmup …   (and demo eviction, demo consistency)
 *   npm run bench -- …         cachelab-lab bench …
 *   npm run stats -- …         cachelab-lab stats …
 *
 * Run it as `node --import tsx packages/lab/src/cli.ts` (the package runs from its sources), or
 * through the `cachelab-lab` bin the workspace links into node_modules/.bin.
 */
import { Command } from '@commander-js/extra-typings';
import { createProgram } from './cli/program.ts';

/** A subcommand: what `--help` says of it, and the module whose program it runs. */
interface Entry {
  description: string;
  module: string;
}

const LAB: Record<string, Entry> = {
  consistency: {
    description: 'the consistency lab: write-then-read and history runs, faults, reports',
    module: './consistency.ts',
  },
  bench: {
    description: 'the benchmarks: writes bench/results/<date>.md and .json and latest.md',
    module: './bench/index.ts',
  },
  stats: {
    description: "a live view of the cluster: every instance's /stats, one line each",
    module: './stats.ts',
  },
};

const DEMOS: Record<string, Entry> = {
  warmup: {
    description: 'cold, flushed and uncached caches under one Zipf workload',
    module: './demos/warmup.ts',
  },
  eviction: {
    description: "Redis eviction policies under a workload larger than Redis's memory",
    module: './demos/eviction.ts',
  },
  consistency: {
    description: 'the strategies compared under the same faults, with short settings',
    module: './demos/consistency.ts',
  },
};

/**
 * A subcommand that hands every argument after its name, `--help` included, to `entry`'s program:
 * it sets `process.argv` to what that program would see when run on its own, then imports it.
 */
function delegate(name: string, entry: Entry): Command {
  return new Command(name)
    .description(entry.description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (_options, command) => {
      const module = new URL(entry.module, import.meta.url);
      process.argv = [process.argv[0] as string, module.pathname, ...command.args];
      await import(module.href);
    });
}

const program = createProgram('cachelab-lab')
  .description('The lab, the demos, the benchmarks and the stats view of cachelab.')
  .enablePositionalOptions()
  .usage('<command> [options]');
for (const [name, entry] of Object.entries(LAB)) {
  program.addCommand(delegate(name, entry).passThroughOptions());
}
const demo = program
  .command('demo')
  .description('the demos: warmup, eviction, consistency (each writes a report and a chart)')
  .usage('<demo> [options]')
  .enablePositionalOptions()
  .passThroughOptions();
for (const [name, entry] of Object.entries(DEMOS)) {
  demo.addCommand(delegate(name, entry).passThroughOptions());
}

await program.parseAsync();
