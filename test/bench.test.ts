import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchReport } from '../scripts/bench/report.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `npm run bench -- --quick --out <dir>`; benchmarks are not tests, so no timing is checked. */
async function runQuickBench(out: string): Promise<{ code: number | null; output: string }> {
  const child = spawn('npm', ['run', 'bench', '--', '--quick', '--out', out], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const timer = setTimeout(() => child.kill('SIGINT'), 240_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearTimeout(timer);
  return { code, output };
}

describe('npm run bench -- --quick', () => {
  let out = '';
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('runs every section end to end and writes Markdown and JSON with each of them', async () => {
    out = await mkdtemp(join(tmpdir(), 'cachelab-bench-test-'));
    const { code, output } = await runQuickBench(out);
    expect(code, output).toBe(0);

    const files = await readdir(out);
    expect(files).toContain('latest.md');
    const json = files.find((f) => f.endsWith('.json'));
    expect(json, files.join(', ')).toBeDefined();
    expect(files).toContain((json as string).replace(/\.json$/, '.md'));
    const report = JSON.parse(await readFile(join(out, json as string), 'utf8')) as BenchReport;

    expect(report.errors).toEqual({});
    expect(report.machine).toMatchObject({ cores: expect.any(Number), node: process.version });
    expect(report.settings.mode).toBe('quick');
    const { l1, http, profile, propagation, storms, memory } = report.results;

    expect(l1?.rows.map((r) => r.name)).toEqual([
      'Map.get',
      'await Map.get',
      'await cache.getOrLoad (L1 hit)',
    ]);

    const rows = new Map(http?.rows.map((r) => [r.name, r]));
    expect([...rows.keys()]).toEqual([
      'ceiling',
      'l1-hit',
      'l2-hit',
      'seed-design',
      'miss-db-0ms',
      'miss-db-5ms',
      'no-cache-db-0ms',
      'no-cache-db-5ms',
    ]);
    for (const row of rows.values()) {
      expect(row.errors, row.name).toBe(0);
      expect(row.requestsPerSecond.median, row.name).toBeGreaterThan(0);
    }
    // Each row measures what it says: the instances' own counters are the judge.
    expect(rows.get('l2-hit')?.served).toMatchObject({ L1: 0, MISS: 0 });
    expect(rows.get('seed-design')?.served).toMatchObject({ L1: 0, MISS: 0 });
    for (const name of ['miss-db-0ms', 'miss-db-5ms', 'no-cache-db-0ms', 'no-cache-db-5ms']) {
      expect(rows.get(name)?.served?.MISS, name).toBe(1);
      expect(rows.get(name)?.dbQueriesPerRequest, name).toBe(1);
    }

    expect(profile?.summaries.map((p) => p.target)).toEqual(['l1-hit', 'ceiling']);
    expect(profile?.gap.length).toBeGreaterThan(0);

    expect(propagation?.rows).toHaveLength(2);
    for (const row of propagation?.rows ?? []) {
      expect(row.lost, row.name).toBe(0);
      expect(row.fromWriteReturnMs.count, row.name).toBe(report.settings.propagation.writes);
    }

    expect(storms?.storms.map((s) => s.name)).toEqual([
      'versioned',
      'versioned, evicted',
      'delete (classic)',
    ]);
    for (const storm of storms?.storms ?? []) {
      expect(storm.olderThanWrite, storm.name).toBe(0);
      expect(storm.dbQueriesPerInstance).toHaveLength(report.settings.storms.instances);
    }
    expect(storms?.zipf.dbQueriesWithoutCache).toBe(report.settings.storms.zipfRequests);
    expect(storms?.zipf.hitRatio).toBeGreaterThan(0);

    expect(memory?.bytesPerL1Entry).toBeGreaterThan(0);
    expect(memory?.instance.l1Entries).toBe(report.settings.memory.instanceEntries);

    const markdown = await readFile(join(out, 'latest.md'), 'utf8');
    for (const heading of ['## Targets', '## 1.', '## 2.', '## Where', '## 3.', '## 4.', '## 5.']) {
      expect(markdown).toContain(heading);
    }
  }, 300_000);
});
