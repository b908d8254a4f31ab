import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type LabRun, runScript } from './support/lab.ts';

// Each demo in --quick mode: bounded, its own cluster (redis-server on a free port, an embedded
// database, 3 instances), a chart and its numbers written to a temporary --out.

/** The chart a demo wrote: a standalone SVG document. */
function svgOf(run: LabRun, name: string): string {
  const svg = run.files[`${name}.svg`];
  expect(svg, run.output).toBeDefined();
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]*>/);
  expect(svg?.trimEnd().endsWith('</svg>')).toBe(true);
  return svg as string;
}

function jsonOf<T>(run: LabRun, name: string): T {
  const json = run.files[`${name}.json`];
  expect(json, run.output).toBeDefined();
  return JSON.parse(json as string) as T;
}

describe('the demos', () => {
  it('demo:warmup warms a cold cache, flushes every tier, and compares with no cache', async () => {
    const run = await runScript('demo warmup', ['--quick', '--phase', '2s']);
    expect(run.code, run.output).toBe(0);
    const { phases } = jsonOf<{
      phases: { name: string; seconds: unknown[]; summary: { hitRatio: number; reads: number } }[];
    }>(run, 'warmup');
    expect(phases.map((p) => p.name)).toEqual(['cold', 'flushed', 'no cache']);
    for (const phase of phases) {
      expect(phase.seconds).toHaveLength(2);
      expect(phase.summary.reads).toBeGreaterThan(0);
    }
    const [cold, flushed, uncached] = phases;
    expect(cold?.summary.hitRatio).toBeGreaterThan(0);
    expect(flushed?.summary.hitRatio).toBeGreaterThan(0);
    expect(uncached?.summary.hitRatio).toBe(0);
    // The flush is verified through /stats: every L1 empty before the second phase.
    expect(run.output).toMatch(/L1 entries after: app-1 0, app-2 0, app-3 0/);
    expect(svgOf(run, 'warmup')).toContain('no cache');
    expect(run.output).toContain('Per phase');
  }, 120_000);

  it('demo:eviction evicts keys under a small maxmemory and serves no stale read', async () => {
    const run = await runScript('demo eviction', ['--quick']);
    expect(run.code, run.output).toBe(0);
    const { results } = jsonOf<{
      results: { policy: string; evictedKeys: number; staleReads: number; stuckKeys: number }[];
    }>(run, 'eviction');
    expect(results.map((r) => r.policy)).toEqual([
      'allkeys-lru',
      'allkeys-lfu',
      'allkeys-random',
      'volatile-ttl',
    ]);
    for (const result of results) {
      expect(result.evictedKeys, `${result.policy}\n${run.output}`).toBeGreaterThan(0);
      expect(result.staleReads, `${result.policy}\n${run.output}`).toBe(0);
      expect(result.stuckKeys, result.policy).toBe(0);
    }
    expect(run.output).toContain('stale reads: 0');
    // Too short to turn the cache over: the hot-set comparison is printed, not asserted.
    expect(run.output).toMatch(/hot set in Redis: allkeys-lru \d+%.*\(not asserted: --quick/);
    expect(svgOf(run, 'eviction')).toContain('allkeys-');
  }, 120_000);

  it('demo:consistency runs the lab comparison and draws it', async () => {
    const labOut = await mkdtemp(join(tmpdir(), 'cachelab-demo-lab-'));
    const run = await runScript('demo consistency', [
      '--quick',
      '--strategies',
      'delete,versioned',
      '--lab-out',
      labOut,
    ]);
    expect(run.code, run.output).toBe(0);
    const { rows } = jsonOf<{ rows: { strategy: string; summary: { stuckKeys: number } }[] }>(
      run,
      'consistency',
    );
    expect(rows.map((r) => r.strategy)).toEqual(['delete', 'versioned']);
    expect(rows[1]?.summary.stuckKeys).toBe(0);
    expect(run.output).toMatch(/strategy\s+reads\s+stale-read rate/);
    expect(svgOf(run, 'consistency')).toContain('Stuck keys');
  }, 150_000);
});
