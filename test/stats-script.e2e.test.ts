import type { ScriptRun } from '@cachelab/testkit';
import {
  type InstanceProcess,
  NOTHING_LISTENS_URL,
  startInstance,
  uniqueName,
} from '@cachelab/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runLabCommand } from './support/lab.ts';

/** Runs `npm run stats -- args` (as node would) and returns its exit code and output. */
function runStats(args: string[]): Promise<ScriptRun> {
  return runLabCommand('stats', args, { timeoutMs: 20_000, signal: 'SIGKILL' });
}

/** The data line of the table naming `instance`, split into cells. */
function row(output: string, instance: string): string[] {
  const line = output.split('\n').find((l) => l.startsWith(instance));
  if (!line) throw new Error(`no line for ${instance} in:\n${output}`);
  return line.split(/\s{2,}/);
}

describe('npm run stats', () => {
  let instance: InstanceProcess;

  beforeAll(async () => {
    instance = await startInstance({
      REDIS_URL: inject('redisUrl'),
      DATABASE_URL: inject('databaseUrl'),
      DB_LATENCY_MS: '0',
      SEED_USERS: '100',
      INSTANCE_NAME: 'stats-1',
      CACHE_NAMESPACE: uniqueName(),
    });
  });
  afterAll(async () => {
    instance?.child.kill('SIGTERM');
    await instance?.exited;
  });

  it('--once prints each instance with its hit ratio by tier, and a down one as down', async () => {
    // One miss, then three L1 hits (once the bus is trusted): 75% hit, all from L1.
    await (await fetch(`${instance.url}/users/9`)).body?.cancel();
    let hits = 0;
    while (hits < 3) {
      const response = await fetch(`${instance.url}/users/9`);
      await response.body?.cancel();
      if (response.headers.get('x-cache') === 'L1') hits++;
    }
    const stats = (await (await fetch(`${instance.url}/stats`)).json()) as {
      cache: { reads: number; l1Hits: number; l2Hits: number };
    };
    const down = NOTHING_LISTENS_URL;

    const { code, output } = await runStats(['--once', '--urls', `${instance.url},${down}`]);
    expect(code, output).toBe(0);
    const header = row(output, 'instance');
    const up = Object.fromEntries(header.map((name, i) => [name, row(output, 'stats-1/')[i]]));
    const { reads, l1Hits, l2Hits } = stats.cache;
    expect(up).toMatchObject({ state: 'up', reads: String(reads), 'L1 size': '1' });
    expect(up.hit).toBe(`${((100 * (l1Hits + l2Hits)) / reads).toFixed(1)}%`);
    expect(up.L1).toBe(`${((100 * l1Hits) / reads).toFixed(1)}%`);
    expect(row(output, down)[1]).toBe('down (ECONNREFUSED)');
    expect(output.match(/^# \d\d:\d\d:\d\d$/gm)).toHaveLength(1);
  });

  it('--count N prints N plain tables when not on a terminal, then exits', async () => {
    const { code, output } = await runStats([
      '--count',
      '3',
      '--interval',
      '100ms',
      '--urls',
      instance.url,
    ]);
    expect(code, output).toBe(0);
    expect(output.match(/^# \d\d:\d\d:\d\d$/gm)).toHaveLength(3);
    expect(output).not.toContain('\x1b[');
    // The fetch timeout does not shrink with --interval (it is at least 1 s), so a busy machine
    // still sees the instance up in every round; the request rate is known once the round
    // before was up, i.e. from the second round on.
    const rows = output
      .split('\n')
      .filter((l) => l.startsWith('stats-1/'))
      .map((l) => l.split(/\s{2,}/));
    expect(
      rows.map((cells) => cells[1]),
      output,
    ).toEqual(['up', 'up', 'up']);
    const rates = rows.map((cells) => cells[3]);
    expect(rates[0]).toBe('-');
    expect(rates[2]).toMatch(/^\d+\.\d$/);
  });

  it('rejects a bad option with one line naming it, and exit status 2', async () => {
    for (const [args, named] of [
      [['--interval', 'soon'], "'--interval <duration>' argument 'soon'"],
      [['--interval', '2000'], 'a bare number means seconds'],
      [['--count', '0'], "'--count <n>' argument '0'"],
      [['--urls', 'ftp://x'], "'--urls <url,...>' argument 'ftp://x'"],
      [['--bogus'], "unknown option '--bogus'"],
    ] as const) {
      const { code, output } = await runStats([...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(output.trim().split('\n'), output).toHaveLength(1);
      expect(output).toMatch(/^stats: /);
      expect(output).toContain(named);
    }
  });
});
