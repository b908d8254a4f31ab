/**
 * The command line of `npm run consistency` (scripts/consistency.ts): its two commands and every
 * option, with defaults and parsers; the script attaches what each command does.
 */
import { InvalidArgumentError, Option } from '@commander-js/extra-typings';
import {
  createProgram,
  decimal,
  duration,
  integer,
  listOf,
  redisUrl,
  repeatable,
  sentence,
  urlList,
  usageError,
} from '../cli/program.ts';
import { InstanceLanguagesError, parseInstanceLanguages } from '../instance-languages.ts';
import { FAULT_HELP, type FaultSpec, parseFaultSpec } from './faults.ts';

/** The strategies a lab cluster can run (`CACHE_STRATEGY`). */
const STRATEGIES = ['ttl-only', 'delete', 'versioned', 'none'] as const;

/** Options both commands take: where the instances are, or how to start a cluster of its own. */
const clusterOptions = {
  urls: () =>
    new Option(
      '--urls <url,...>',
      'instances to test (default: the cluster npm start of this checkout runs on BASE_PORT, INSTANCES)',
    ).argParser(urlList),
  start: () =>
    new Option(
      '--start',
      "start a cluster of the lab's own instead (own redis-server, embedded DB)",
    ),
  cluster: () =>
    new Option(
      '--cluster',
      'with --start or --compare: on a Redis Cluster of its own (3 masters, 3 replicas) instead of one Redis',
    ),
  strategy: () =>
    new Option('--strategy <name>', 'strategy of a --start cluster')
      .choices(STRATEGIES)
      .default('versioned' as const),
  instances: () =>
    new Option('--instances <n>', 'instances of a lab cluster')
      .argParser(integer(1, 16))
      .default(3),
  languages: () =>
    new Option(
      '--languages <language,...>',
      'the language of each instance of a lab cluster, e.g. node,node,python (sets --instances)',
    )
      .env('INSTANCE_LANGUAGES')
      .argParser((raw) => {
        try {
          return parseInstanceLanguages(raw, undefined, 0);
        } catch (error) {
          if (error instanceof InstanceLanguagesError)
            throw new InvalidArgumentError(error.message);
          throw error;
        }
      }),
  dbLatency: () =>
    new Option('--db-latency <duration>', 'simulated database latency of a lab cluster')
      .argParser(duration({ maxMs: 10_000 }))
      .default(5, '5ms'),
  keys: (what: string) =>
    new Option('--keys <n>', `${what}: users 1…N`).argParser(integer(1, 1_000)).default(50),
  seed: () => new Option('--seed <n>', 'seed of the workload').argParser(integer(0)).default(42),
  out: () => new Option('--out <dir>', 'where the JSON and HTML reports go').default('lab-results'),
};

/**
 * The lab's program and its two commands, `write-then-read` and `history`, without their actions.
 * Run with no command or an unknown one, the program stops with one line (exit 2).
 */
export function createLabProgram() {
  const program = createProgram('consistency')
    .description(
      'The consistency lab (docs/lab.md): stale reads, staleness windows, convergence and stuck keys.',
    )
    .addHelpText(
      'after',
      `
  Durations (--duration, --quiet, --fill-delay, --db-latency, fault times): 500ms, 2.5s, 1m, or a
  bare number of seconds. Command-line errors exit 2; a cluster that does not answer exits 1.
  Every option of a command: npm run consistency -- history --help`,
    )
    .usage('<command> [options]')
    .argument('[command]')
    .action((command) => {
      const what = command === undefined ? 'a command is needed' : `unknown command "${command}"`;
      usageError(program, `${what}; accepted: write-then-read, history`);
    });

  const writeThenRead = program
    .command('write-then-read')
    .description(
      'write a marker through one instance (round robin), then read it back on every instance',
    )
    .addOption(clusterOptions.urls())
    .addOption(clusterOptions.start())
    .addOption(clusterOptions.cluster())
    .addOption(clusterOptions.strategy())
    .addOption(clusterOptions.instances())
    .addOption(clusterOptions.languages())
    .addOption(clusterOptions.dbLatency())
    .addOption(
      new Option('--iterations <n>', 'writes in total, round robin over the instances')
        .argParser(integer(1, 100_000))
        .default(200),
    )
    .addOption(clusterOptions.keys('keys the writes pick from'))
    .addOption(clusterOptions.seed())
    .addOption(clusterOptions.out());

  const historyCommand = program
    .command('history')
    .description('a randomized concurrent workload, optionally with faults, checked afterwards')
    .addOption(clusterOptions.urls())
    .addOption(clusterOptions.start())
    .addOption(clusterOptions.cluster())
    .addOption(
      new Option(
        '--compare <strategy,...>',
        'one own cluster per strategy, the same workload, one table at the end',
      ).argParser(listOf(STRATEGIES)),
    )
    .addOption(clusterOptions.strategy())
    .addOption(clusterOptions.instances())
    .addOption(clusterOptions.languages())
    .addOption(clusterOptions.dbLatency())
    .addOption(
      new Option('--sessions <n>', 'concurrent sessions, one operation at a time each')
        .argParser(integer(1, 1_000))
        .default(8),
    )
    .addOption(clusterOptions.keys('the workload'))
    .addOption(
      new Option('--write-ratio <r>', 'share of operations that are writes')
        .argParser(decimal(0, 1))
        .default(0.2),
    )
    .addOption(
      new Option('--duration <duration>', 'length of the workload')
        .argParser(duration({ minMs: 100, maxMs: 3_600_000 }))
        .default(10_000, '10s'),
    )
    .addOption(
      new Option('--token-sessions <n>', 'sessions that send X-Min-Version tokens')
        .argParser(integer(0, 1_000))
        .default(4),
    )
    .addOption(
      new Option('--quiet <duration>', 'wait after the last write before the final sweep')
        .argParser(duration({ maxMs: 60_000 }))
        .default(2000, '2s'),
    )
    .addOption(clusterOptions.seed())
    .addOption(
      new Option(
        '--stale-set',
        'provoke the stale-set race: app-1 holds its cache fills (--fill-delay) while other instances write the keys it is loading (--races times, on cold keys 500, 501, …)',
      ),
    )
    .addOption(
      new Option(
        '--fill-delay <duration>',
        'with --stale-set: how long app-1 holds each cache fill',
      )
        .argParser(duration({ minMs: 1, maxMs: 10_000 }))
        .default(400, '400ms'),
    )
    .addOption(
      new Option('--races <n>', 'with --stale-set: races provoked')
        .argParser(integer(1, 500))
        .default(20),
    )
    .addOption(
      new Option('--fault <spec>', 'inject a fault (repeatable; see below)')
        .argParser(repeatable(faultSpec))
        .default([] as FaultSpec[]),
    )
    .addOption(
      new Option('--redis-url <url>', 'Redis to inject faults into when testing --urls').argParser(
        redisUrl,
      ),
    )
    .addOption(clusterOptions.out())
    .addHelpText('after', `\nFaults (--fault SPEC):\n  ${FAULT_HELP.join('\n  ')}`);

  return { program, writeThenRead, history: historyCommand };
}

function faultSpec(text: string): FaultSpec {
  try {
    return parseFaultSpec(text);
  } catch (error) {
    throw new InvalidArgumentError(sentence((error as Error).message));
  }
}
