import { DATABASE_SESSION, DATABASE_WRITER } from '@cachelab/lab/lab/faults.ts';
import { describe, expect, it } from 'vitest';
import {
  compareSummaries,
  fileEnding,
  historyReport,
  runLab,
  shortWorkload,
} from './support/lab.ts';

// Short, bounded lab runs: each starts its own redis-server, embedded database and 3 instances.
const SHORT = shortWorkload();

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
    const of = compareSummaries(run);
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
    const { history, summary } = historyReport(run);
    expect(history.faults.map((fault) => fault.kind)).toEqual(['kill-pubsub', 'restart-redis']);
    expect(summary.stuckKeys, run.output).toBe(0);
    expect(summary.mismatches, run.output).toBe(0);
    expect(run.output).toContain('Stale read');
  }, 120_000);

  it('runs write-then-read against a cluster and reports convergence per instance', async () => {
    // --languages names each instance's language (INSTANCE_LANGUAGES): Node's alone, for now.
    const run = await runLab([
      'write-then-read',
      '--start',
      '--languages',
      'node,node,node',
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

  it('counts writes behind the instances (SQL, bulk, crash after commit): versioned serves them all', async () => {
    const run = await runLab([
      'history',
      '--start',
      '--fault',
      'crash-after-commit@300ms',
      '--fault',
      'sql-write@600ms',
      '--fault',
      'bulk-write@1200ms',
      ...SHORT,
    ]);
    expect(run.code, run.output).toBe(0);
    const { history, summary } = historyReport(run);
    expect(history.faults.map((fault) => fault.kind).sort()).toEqual([
      'bulk-write',
      'crash-after-commit',
      'sql-write',
    ]);
    // Their versions and values come from the database: a quarter of the 20 users, then all 20,
    // then the one write the armed instance committed before it killed itself.
    const behind = history.operations.filter((op) => op.session === DATABASE_SESSION);
    const direct = behind.filter((op) => op.instance === DATABASE_WRITER);
    expect(direct.filter((op) => op.value?.startsWith('sql-write-'))).toHaveLength(5);
    expect(direct.filter((op) => op.value?.startsWith('bulk-write-'))).toHaveLength(20);
    const crashed = behind.filter((op) => op.instance === 'app-3');
    expect(crashed, run.output).toHaveLength(1);
    expect(crashed[0]).toMatchObject({ ok: true, kind: 'write' });
    expect(crashed[0]?.value).toMatch(/^crash-/);
    for (const op of behind) expect(op.version).toBeGreaterThan(1);
    // Every key the faults wrote is swept on every instance after the quiet period.
    const swept = new Set(history.operations.filter((op) => op.final).map((op) => op.key));
    for (const op of behind) expect(swept.has(op.key)).toBe(true);
    expect(summary.stuckKeys, run.output).toBe(0);
    expect(summary.mismatches, run.output).toBe(0);
    // A write behind the instances is announced by the relay, one poll (250 ms) after its commit
    // at worst: a read in that window may be stale, never much longer (margin for a loaded machine).
    expect(summary.maxStalenessMs, run.output).toBeLessThan(2000);
    expect(run.output).toContain('bulk-write');
  }, 180_000);

  it('compares what delete and ttl-only make of writes behind the instances: keys stay stale', async () => {
    const run = await runLab(
      [
        'history',
        '--compare',
        'ttl-only,delete,versioned',
        '--fault',
        'sql-write@500ms',
        // Late, so that the workload rewrites few of the keys through an instance afterwards.
        '--fault',
        'bulk-write@1700ms',
        ...SHORT,
      ],
      360_000,
    );
    expect(run.code, run.output).toBe(0);
    const of = compareSummaries(run);
    // Nothing tells delete or ttl-only about a write that never passed through an instance: keys
    // cached before it are served old until their TTL (a minute), the final sweep included.
    expect(of('delete')?.stuckKeys, run.output).toBeGreaterThanOrEqual(1);
    expect(of('delete')?.staleReads, run.output).toBeGreaterThanOrEqual(1);
    expect(of('ttl-only')?.stuckKeys, run.output).toBeGreaterThanOrEqual(1);
    expect(of('versioned')?.stuckKeys, run.output).toBe(0);
    expect(of('versioned')?.mismatches).toBe(0);
    const table = fileEnding(run, '-compare.md');
    for (const strategy of ['ttl-only', 'delete', 'versioned']) expect(table).toContain(strategy);
  }, 400_000);
});
