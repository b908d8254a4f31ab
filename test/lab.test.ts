import type { CheckResult } from '@cachelab/lab/lab/checker.ts';
import { summarize } from '@cachelab/lab/lab/checker.ts';
import { describe, expect, it } from 'vitest';
import { fileEnding, runLab } from './support/lab.ts';

// Short, bounded lab runs: each starts its own redis-server, embedded database and 3 instances.
const SHORT = [
  '--duration',
  '2s',
  '--sessions',
  '4',
  '--keys',
  '20',
  '--quiet',
  '1s',
  '--db-latency',
  '2ms',
];

describe('the consistency lab', () => {
  it('tells delete from versioned: the stale-set race leaves stuck keys only with delete', async () => {
    const run = await runLab([
      'history',
      '--compare',
      'delete,versioned',
      '--stale-set',
      '--races',
      '6',
      ...SHORT,
    ]);
    expect(run.code, run.output).toBe(0);
    const rows = JSON.parse(fileEnding(run, '-compare.json')) as {
      strategy: string;
      summary: ReturnType<typeof summarize>;
    }[];
    const of = (strategy: string) => rows.find((row) => row.strategy === strategy)?.summary;
    expect(of('delete')?.stuckKeys, run.output).toBeGreaterThanOrEqual(1);
    expect(of('versioned')?.stuckKeys, run.output).toBe(0);
    expect(of('versioned')?.mismatches).toBe(0);
    expect(fileEnding(run, '-compare.md')).toContain('versioned');
    expect(fileEnding(run, '-versioned.html')).toContain('<svg');
  }, 120_000);

  it('versioned survives a pubsub kill and a Redis restart: no stuck keys, no mismatches', async () => {
    const run = await runLab([
      'history',
      '--start',
      '--fault',
      'kill-pubsub@500ms',
      '--fault',
      'restart-redis@1200ms',
      ...SHORT,
    ]);
    expect(run.code, run.output).toBe(0);
    const { history, result } = JSON.parse(fileEnding(run, '-history.json')) as {
      history: { faults: { kind: string }[] };
      result: CheckResult;
    };
    expect(history.faults.map((fault) => fault.kind)).toEqual(['kill-pubsub', 'restart-redis']);
    const summary = summarize(result);
    expect(summary.stuckKeys, run.output).toBe(0);
    expect(summary.mismatches, run.output).toBe(0);
    expect(run.output).toContain('Stale read');
  }, 120_000);

  it('runs write-then-read against a cluster and reports convergence per instance', async () => {
    const run = await runLab([
      'write-then-read',
      '--start',
      '--iterations',
      '30',
      '--db-latency',
      '2ms',
    ]);
    expect(run.code, run.output).toBe(0);
    const results = JSON.parse(fileEnding(run, '-write-then-read.json')) as {
      instance: string;
      writes: number;
      timedOut: number;
    }[];
    expect(results.map((r) => r.instance)).toEqual(['app-1', 'app-2', 'app-3']);
    expect(results.every((r) => r.writes === 30 && r.timedOut === 0)).toBe(true);
    expect(run.output).toContain('first read stale');
  }, 120_000);
});
