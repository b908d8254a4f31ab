import { NOTHING_LISTENS_URL } from '@cachelab/testkit';
import { describe, expect, it } from 'vitest';
import { runLabCommand } from './support/lab.ts';

// Every command users run, started as its npm script starts it (`cachelab-lab <command>`): a command-line error is one line
// naming the option, what was given and what is accepted, with exit status 2 and no stack trace.

const run = (command: string, args: string[]) =>
  runLabCommand(command, args, { timeoutMs: 30_000, signal: 'SIGKILL' });

const CASES: [command: string, args: string[], says: string][] = [
  [
    'consistency',
    ['history', '--start', '--languages', 'node,rust'],
    "consistency: option '--languages <language,...>' argument 'node,rust' is invalid. `INSTANCE_LANGUAGES`: rust has no cachelab instance yet (instances exist in: node, python, go)",
  ],
  [
    'consistency',
    ['write-then-read', '--start', '--instances', '4', '--languages', 'node,node'],
    "consistency: option '--instances 4' disagrees with the 2 languages of --languages (INSTANCE_LANGUAGES)",
  ],
  [
    'consistency',
    ['history', '--duration', '4x'],
    "consistency: option '--duration <duration>' argument '4x' is invalid. Not a duration; accepted: 500ms, 2.5s, 1m, or a bare number of seconds.",
  ],
  [
    'consistency',
    ['history', '--start', '--fault', 'pause-writes@2s+2500x'],
    `argument 'pause-writes@2s+2500x' is invalid. D "2500x" is not a duration; accepted: 500ms`,
  ],
  [
    'consistency',
    ['history', '--start', '--fault', 'kill-pubsub@500'],
    "'kill-pubsub@500' starts at 500s, after the run ends (--duration 10s); a bare number means seconds",
  ],
  [
    'consistency',
    // Without --redis-url either: the fault's own mistake is the one named.
    ['history', '--duration', '2', '--fault', 'kill-pubsub@3s'],
    "'kill-pubsub@3s' starts at 3s, after the run ends (--duration 2s)",
  ],
  [
    'consistency',
    ['history', '--fault', 'freeze:app-1@1s+1s'],
    'needs a cluster the lab started (--start or --compare)',
  ],
  [
    'consistency',
    ['history', '--start', '--fault', 'failover@1s'],
    "consistency: option '--fault <spec>' argument 'failover@1s' needs a Redis Cluster the lab started (--start --cluster)",
  ],
  [
    'consistency',
    ['history', '--cluster'],
    "consistency: option '--cluster' starts a Redis Cluster of the lab's own: add --start or --compare",
  ],
  ['consistency', ['history', '--durration', '3s'], "unknown option '--durration'"],
  ['consistency', [], 'consistency: a command is needed; accepted: write-then-read'],
  [
    'consistency',
    ['histroy'],
    'consistency: unknown command "histroy"; accepted: write-then-read, history',
  ],
  [
    'consistency',
    ['write-then-read', '--iterations', '0'],
    "option '--iterations <n>' argument '0' is invalid. Accepted: an integer from 1",
  ],
  [
    'demo warmup',
    ['--phase', '2500x'],
    "demo:warmup: option '--phase <duration>' argument '2500x' is invalid",
  ],
  ['demo warmup', ['--urls', 'http://127.0.0.1:1'], 'demo:warmup: --urls needs --redis-url'],
  [
    'demo eviction',
    ['--policies', 'lru'],
    "demo:eviction: option '--policies <policy,...>' argument 'lru' is invalid. Accepted: a comma-separated list of allkeys-lru",
  ],
  ['demo eviction', ['--urls', 'http://127.0.0.1:1'], 'only runs a cluster of its own'],
  [
    'demo consistency',
    ['--fault', 'kill-pubsub@soon'],
    `demo:consistency: option '--fault <spec>' argument 'kill-pubsub@soon' is invalid. T "soon" is not a duration`,
  ],
  ['stats', ['--interval', '2000'], '2000s (a bare number means seconds) is out of range'],
  [
    'demo consistency',
    ['--fault', 'kill-pubsub@6'],
    "argument 'kill-pubsub@6' starts after the run ends (--duration 5s)",
  ],
  [
    'bench',
    ['--only', 'l2'],
    "bench: option '--only <section,...>' argument 'l2' is invalid. Accepted: a comma-separated list of l1, http",
  ],
  [
    '',
    ['nope'],
    "cachelab-lab: unknown command 'nope'; accepted: consistency, bench, stats, demo, help",
  ],
  ['demo', ['warmpu'], "cachelab-lab: unknown command 'warmpu'"],
  ['demo', ['warmpu'], '; accepted: warmup, eviction, consistency, help'],
];

describe('command-line errors of the scripts', () => {
  it.each(CASES)('%s %j: one line, exit 2', async (command, args, says) => {
    const { code, output } = await run(command, args);
    expect(code, output).toBe(2);
    expect(output.trim().split('\n'), output).toHaveLength(1);
    expect(output).toContain(says);
    expect(output).not.toMatch(/^\s+at /m);
  });

  it.each([
    ['stats', [], 'stats', '--urls, --interval, --once, --count, --help'],
    ['bench', [], 'bench', '--quick, --out, --only, --help'],
    ['consistency', [], 'consistency', '--help'],
    ['consistency', ['write-then-read'], 'consistency', '--iterations'],
    ['consistency', ['history'], 'consistency', '--fault'],
    ['demo warmup', [], 'demo:warmup', '--phase'],
    ['demo eviction', [], 'demo:eviction', '--policies'],
    ['demo consistency', [], 'demo:consistency', '--strategies'],
    ['demo', [], 'cachelab-lab', '--help'],
    ['', [], 'cachelab-lab', '--help'],
  ])(
    '%s %j --bogus names the options it accepts (%s; %s); exit 2',
    async (command, args, name, lists) => {
      const { code, output } = await run(command, [...args, '--bogus']);
      expect(code, output).toBe(2);
      expect(output.trim().split('\n'), output).toHaveLength(1);
      expect(output.trim()).toMatch(
        new RegExp(`^${name}: unknown option '--bogus'; accepted: (--[a-z-]+, )*--help$`),
      );
      expect(output).toContain(lists);
    },
  );

  it.each([
    ['consistency', ['--help'], 'write-then-read'],
    ['consistency', ['history', '--help'], '--fault <spec>'],
    ['consistency', ['write-then-read', '--help'], '--iterations <n>'],
    ['demo warmup', ['--help'], '--phase <duration>'],
    ['demo eviction', ['--help'], '--policies <policy,...>'],
    ['demo consistency', ['--help'], '--strategies <strategy,...>'],
    ['stats', ['--help'], '--interval <duration>'],
    ['bench', ['--help'], '--only <section,...>'],
    ['', ['--help'], 'demo'],
    ['demo', ['--help'], 'eviction'],
  ])('%s %j prints the options and exits 0', async (command, args, lists) => {
    const { code, output } = await run(command, args);
    expect(code, output).toBe(0);
    expect(output).toContain(lists);
  });
});

describe('write-then-read with no cluster', () => {
  it('says in one line that no instance answered, where it looked and what to do; exit 1', async () => {
    // Not a free port: one that was free a moment ago may be taken by another test's app (over
    // the shared database) before the lab starts, and the lab would then write its users there.
    const url = NOTHING_LISTENS_URL;
    const { code, output } = await run('consistency', ['write-then-read', '--urls', url]);
    expect(code, output).toBe(1);
    expect(output.trim().split('\n'), output).toHaveLength(1);
    expect(output).toContain(`consistency: no instance answered at ${url} (ECONNREFUSED)`);
    expect(output).toContain('`npm start`');
    expect(output).not.toMatch(/^\s+at |fetch failed/m);
  });
});
