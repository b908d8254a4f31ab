import { formatDuration, parseDuration } from '@cachelab/lab/cli/duration.ts';
import { outDir } from '@cachelab/lab/demos/args.ts';
import { hotSetCheck, type PolicyResult } from '@cachelab/lab/demos/eviction-report.ts';
import { FAULT_HELP, faultNeeds, parseFaultSpec } from '@cachelab/lab/lab/faults.ts';
import { describe, expect, it } from 'vitest';

describe('durations on the command line', () => {
  it.each([
    ['500ms', 500],
    ['2.5s', 2500],
    ['1m', 60_000],
    ['4', 4000],
    ['1.5', 1500],
    ['0', 0],
    [' 3s ', 3000],
  ])('reads %s as %i ms (a bare number is seconds)', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each(['4x', '', 's', '-1s', '1e3', 'soon', '2 parsecs'])(
    'refuses %j, saying what is accepted',
    (text) => {
      expect(() => parseDuration(text)).toThrow(
        'not a duration; accepted: 500ms, 2.5s, 1m, or a bare number of seconds',
      );
    },
  );

  it('refuses a duration out of range, and says that a bare number meant seconds', () => {
    expect(() => parseDuration('2000', { maxMs: 60_000 })).toThrow(
      '2000s (a bare number means seconds) is out of range; accepted: 0ms to 1m',
    );
    expect(() => parseDuration('50ms', { minMs: 100 })).toThrow(
      '50ms is out of range; accepted: at least 100ms',
    );
    expect(parseDuration('100ms', { minMs: 100, maxMs: 100 })).toBe(100);
  });

  it('formats milliseconds in a form it reads back', () => {
    for (const ms of [0, 1, 400, 1000, 1500, 2500, 60_000, 90_000, 120_000]) {
      expect(parseDuration(formatDuration(ms)), formatDuration(ms)).toBe(ms);
    }
    expect(formatDuration(1500)).toBe('1.5s');
    expect(formatDuration(120_000)).toBe('2m');
  });
});

describe('fault specs (--fault KIND[:app-N]@T[+D])', () => {
  it('reads the time and the duration with units, a bare number as seconds', () => {
    expect(parseFaultSpec('kill-pubsub@3s')).toMatchObject({ kind: 'kill-pubsub', atMs: 3000 });
    expect(parseFaultSpec('kill-pubsub@3')).toMatchObject({ atMs: 3000 });
    expect(parseFaultSpec('pause-writes@2s+2500ms')).toMatchObject({
      kind: 'pause-writes',
      atMs: 2000,
      durationMs: 2500,
    });
    expect(parseFaultSpec('freeze:app-2@500ms+1.5s')).toMatchObject({
      kind: 'freeze',
      target: 'app-2',
      atMs: 500,
      durationMs: 1500,
    });
    expect(parseFaultSpec('restart-redis@1m')).toMatchObject({ atMs: 60_000 });
  });

  it('reads the faults that write behind the instances: sql-write, bulk-write, crash-after-commit', () => {
    expect(parseFaultSpec('sql-write@500ms')).toMatchObject({ kind: 'sql-write', atMs: 500 });
    expect(parseFaultSpec('bulk-write@2')).toMatchObject({ kind: 'bulk-write', atMs: 2000 });
    expect(parseFaultSpec('crash-after-commit@1.5s')).toMatchObject({
      kind: 'crash-after-commit',
      atMs: 1500,
      target: undefined,
      durationMs: undefined,
    });
    for (const kind of ['sql-write', 'bulk-write', 'crash-after-commit']) {
      expect(FAULT_HELP.some((line) => line.startsWith(`${kind}@T `))).toBe(true);
      // They write through the lab's own database: never against --urls.
      const spec = parseFaultSpec(`${kind}@1s`);
      expect(faultNeeds(spec, { ownCluster: false, redisUrl: 'redis://h:1' })).toMatch(
        /needs a cluster the lab started/,
      );
      expect(faultNeeds(spec, { ownCluster: true })).toBeUndefined();
    }
  });

  it.each([
    ['kill-pubsub', 'accepted: KIND[:app-N]@T[+D]'],
    ['explode@1s', 'unknown fault "explode"; accepted: kill-pubsub, pause-writes'],
    ['pause-writes@2s', 'pause-writes needs a duration: pause-writes@T+D'],
    ['pause-writes@2s+2500x', 'D "2500x" is not a duration; accepted: 500ms, 2.5s, 1m'],
    ['kill-pubsub@soon', 'T "soon" is not a duration'],
    ['pause-writes@2s:2500ms', '"@2s:2500ms": a duration follows a +, e.g. pause-writes@2s+2500ms'],
    ['kill-pubsub@1s+1s', 'kill-pubsub takes no duration (+1s)'],
    ['freeze@1s+1s', 'freeze needs an instance: freeze:app-N@T'],
    ['slow-db:app-1@1s+1s', 'slow-db takes no instance (:app-1)'],
    ['sql-write@1s+1s', 'sql-write takes no duration (+1s)'],
    ['bulk-write:app-1@1s', 'bulk-write takes no instance (:app-1)'],
    ['crash-after-commit:app-2@1s', 'crash-after-commit takes no instance (:app-2)'],
  ])('refuses %s: %s', (spec, message) => {
    expect(() => parseFaultSpec(spec)).toThrow(message);
  });

  it('says before anything starts what a fault needs that the run lacks', () => {
    const kill = parseFaultSpec('kill-pubsub@1s');
    const freeze = parseFaultSpec('freeze:app-1@1s+1s');
    expect(faultNeeds(kill, { ownCluster: false })).toMatch(/needs --redis-url/);
    expect(faultNeeds(kill, { ownCluster: false, redisUrl: 'redis://h:1' })).toBeUndefined();
    expect(faultNeeds(freeze, { ownCluster: false, redisUrl: 'redis://h:1' })).toMatch(
      /needs a cluster the lab started/,
    );
    expect(faultNeeds(freeze, { ownCluster: true })).toBeUndefined();
    expect(faultNeeds(freeze, { ownCluster: true, instances: 3 })).toBeUndefined();
    expect(faultNeeds(parseFaultSpec('kill:app-9@1s'), { ownCluster: true, instances: 3 })).toBe(
      "names no instance of the lab's 3 (app-1 … app-3)",
    );
    expect(
      faultNeeds(parseFaultSpec('freeze:db@1s+1s'), { ownCluster: true, instances: 3 }),
    ).toMatch(/names no instance/);
    // A single Redis's pause has no meaning on a cluster: refused before the cluster starts.
    expect(
      faultNeeds(parseFaultSpec('pause-writes@1s+1s'), { ownCluster: true, redisCluster: true }),
    ).toMatch(/on a cluster \(--cluster\) use failover@T/);
  });

  it('reads the Redis Cluster faults, which take neither an instance nor a duration', () => {
    for (const kind of ['failover', 'kill-master', 'migrate-slot']) {
      expect(parseFaultSpec(`${kind}@2s`)).toMatchObject({ kind, atMs: 2000 });
      expect(() => parseFaultSpec(`${kind}@2s+1s`)).toThrow(`${kind} takes no duration (+1s)`);
      expect(() => parseFaultSpec(`${kind}:app-1@2s`)).toThrow(
        `${kind} takes no instance (:app-1)`,
      );
    }
  });

  it('runs the Redis Cluster faults only on a Redis Cluster the lab started', () => {
    const failover = parseFaultSpec('failover@1s');
    const needsCluster = /needs a Redis Cluster the lab started \(--start --cluster\)/;
    expect(faultNeeds(failover, { ownCluster: true, redisCluster: true })).toBeUndefined();
    expect(faultNeeds(failover, { ownCluster: true })).toMatch(needsCluster);
    expect(faultNeeds(failover, { ownCluster: false, redisUrl: 'redis://h:1' })).toMatch(
      needsCluster,
    );
    // A single Redis's faults: restart-redis has no meaning on a cluster, kill-pubsub does.
    const restart = parseFaultSpec('restart-redis@1s');
    expect(faultNeeds(restart, { ownCluster: true, redisCluster: true })).toMatch(
      /on a cluster \(--cluster\) use kill-master@T/,
    );
    const kill = parseFaultSpec('kill-pubsub@1s');
    expect(faultNeeds(kill, { ownCluster: true, redisCluster: true })).toBeUndefined();
  });
});

describe('where the demos write', () => {
  it('sends a --quick run elsewhere than a full run, unless --out says where', () => {
    expect(outDir({})).toBe('lab-results/demos');
    expect(outDir({ quick: true })).toBe('lab-results/demos/quick');
    expect(outDir({ quick: true, out: 'x' })).toBe('x');
  });
});

describe("the eviction demo's hot-set check", () => {
  const result = (policy: string, hotResident: number) => ({ policy, hotResident }) as PolicyResult;

  it('holds when every use-based policy kept more of the hot set than every other', () => {
    const check = hotSetCheck([
      result('allkeys-lru', 0.87),
      result('allkeys-lfu', 0.89),
      result('allkeys-random', 0.4),
      result('volatile-ttl', 0.19),
    ]);
    expect(check).toEqual({
      holds: true,
      line: 'hot set in Redis: allkeys-lru 87%, allkeys-lfu 89% > allkeys-random 40%, volatile-ttl 19%',
    });
  });

  it('fails when one use-based policy kept less than one other, and cannot judge one kind alone', () => {
    expect(hotSetCheck([result('allkeys-lfu', 0.21), result('allkeys-random', 0.28)]).holds).toBe(
      false,
    );
    expect(hotSetCheck([result('allkeys-lru', 0.9)]).holds).toBeUndefined();
  });
});
