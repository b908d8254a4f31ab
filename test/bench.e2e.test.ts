import type { BenchReport } from '@cachelab/lab/bench/report.ts';
import { describe, expect, it } from 'vitest';
import { runScript } from './support/lab.ts';

describe('npm run bench -- --quick', () => {
  it('runs every section end to end and writes Markdown and JSON with each of them', async () => {
    // Benchmarks are not tests: only that it runs and what it reports are checked, no timing.
    const run = await runScript('bench', ['--quick'], 420_000);
    expect(run.code, run.output).toBe(0);

    const files = Object.keys(run.files);
    expect(files).toContain('latest.md');
    const json = files.find((f) => f.endsWith('.json'));
    expect(json, files.join(', ')).toBeDefined();
    expect(files).toContain((json as string).replace(/\.json$/, '.md'));
    const report = JSON.parse(run.files[json as string] as string) as BenchReport;

    expect(report.errors).toEqual({});
    expect(report.machine).toMatchObject({ cores: expect.any(Number), node: process.version });
    expect(report.settings.mode).toBe('quick');
    const { l1, http, profile, propagation, storms, memory, outbox, cluster, languages } =
      report.results;

    expect(l1?.rows.map((r) => r.name)).toEqual([
      'Map.get',
      'await Map.get',
      'await cache.getOrLoad (L1 hit)',
    ]);

    const rows = new Map(http?.rows.map((r) => [r.name, r]));
    expect([...rows.keys()]).toEqual([
      'ceiling',
      'ceiling-node',
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
    // Both ceilings are paired with the L1-hit route in every round.
    expect(http?.l1VersusCeilingByCpu.median).toBeGreaterThan(0);
    expect(http?.l1OverNodeByCpu.median).toBeGreaterThan(0);
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
    expect(memory?.instance.rssEmptyMiB).toBeGreaterThan(0);
    expect(memory?.instance.rssEmptyTsxMiB).toBeGreaterThan(0);

    // Writes behind the instances: every one reached every instance, the bulk one included.
    const bypassRows = outbox?.bypass.map((row) => row.name) ?? [];
    expect(bypassRows[0]).toBe('embedded PGlite, polling');
    for (const row of outbox?.bypass ?? []) {
      expect(row.lost, row.name).toBe(0);
      expect(row.fromCommitMs.count, row.name).toBe(report.settings.outbox.writes);
    }
    for (const row of outbox?.bulk ?? []) {
      expect(row.staleInSweep, row.name).toBe(0);
      expect(row.servedMs, row.name).toBeGreaterThan(0);
    }
    expect(outbox?.writeCost.map((row) => row.mode).slice(0, 2)).toEqual(['outbox', 'no outbox']);
    for (const row of outbox?.writeCost ?? []) {
      expect(row.writesPerSecond.median, `${row.name} ${row.mode}`).toBeGreaterThan(0);
    }

    // On the cluster: every propagation pair saw every write; the nodes' own counters show a
    // global PUBLISH reaching all five other nodes and an SPUBLISH only the publishing master's
    // replica.
    const writes = report.settings.cluster.trafficWrites;
    for (const row of cluster?.propagation ?? []) {
      expect(row.lost, row.name).toBe(0);
      expect(row.fromWriteReturnMs.count, row.name).toBe(report.settings.propagation.writes);
    }
    const traffic = new Map(cluster?.traffic.runs.map((run) => [run.pubsub, run.nodes]));
    for (const node of traffic.get('global') ?? []) {
      if (node.role === 'publishing master') expect(node.publishSent).toBe(5 * writes);
      else expect(node.publishReceived, node.role).toBe(writes);
    }
    for (const node of traffic.get('sharded') ?? []) {
      expect(node.publishSent + node.publishReceived, node.role).toBe(0);
      const sharded = { sent: node.publishshardSent, received: node.publishshardReceived };
      if (node.role === 'publishing master') expect(sharded).toEqual({ sent: writes, received: 0 });
      else if (node.role === 'its replica') expect(sharded).toEqual({ sent: 0, received: writes });
      else expect(sharded, node.role).toEqual({ sent: 0, received: 0 });
    }
    expect(traffic.get('global')).toHaveLength(6);

    // Languages: Node always; Python when its virtual environment is there, else a line saying so.
    const measured = languages?.l1.map((row) => row.language) ?? [];
    expect(measured[0]).toBe('node');
    for (const row of languages?.l1 ?? [])
      expect(row.nsPerHit.median, row.language).toBeGreaterThan(0);
    if (measured.includes('python')) {
      expect(languages?.propagation.map((row) => row.pair)).toEqual(
        expect.arrayContaining(['node → python', 'python → node']),
      );
    } else {
      expect(languages?.skipped.join('\n')).toContain('python');
    }
    // Go when `go` is on PATH, else a line saying so.
    if (measured.includes('go')) {
      expect(languages?.propagation.map((row) => row.pair)).toEqual(
        expect.arrayContaining(['node → go', 'go → node']),
      );
    } else {
      expect(languages?.skipped.join('\n')).toContain('go');
    }
    // Every client library's own cache measured, or why not.
    expect(languages?.clientCaches.map((row) => row.language)).toEqual(
      measured.filter((language) => language !== 'node'),
    );
    for (const csc of languages?.clientCaches ?? []) {
      expect(csc.applicable || csc.reason.length > 0, csc.language).toBe(true);
      if (csc.applicable) expect(csc.lost, csc.language).toBe(0);
    }
    for (const row of languages?.propagation ?? []) {
      expect(row.allWithin2s, row.pair).toBe(true);
      expect(row.fromWriteStartMs.count, row.pair).toBe(report.settings.languages.writes);
    }

    const markdown = run.files['latest.md'] as string;
    const headings = [
      '## Targets',
      '## 1.',
      '## 2.',
      '## Where',
      '## 3.',
      '## 4.',
      '## 5.',
      '## 6.',
      '## 7.',
      '## 8.',
    ];
    for (const heading of headings) {
      expect(markdown).toContain(heading);
    }
  }, 480_000);
});
