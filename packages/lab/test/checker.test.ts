import { checkHistory, distribution, summarize } from '@cachelab/lab/lab/checker.ts';
import type { FaultMark, History, Operation } from '@cachelab/lab/lab/history.ts';
import { resultRows } from '@cachelab/lab/lab/report-data.ts';
import { renderHtml } from '@cachelab/lab/lab/report-html.ts';
import {
  comparisonMarkdown,
  formatComparison,
  formatReport,
} from '@cachelab/lab/lab/report-text.ts';
import { TIMELINE_MAX_KEYS, timelineRows } from '@cachelab/lab/lab/timeline-rows.ts';
import { describe, expect, it } from 'vitest';

/** An ok read taking 2 ms, served from L1 by `app-1` to session 0 unless told otherwise. */
function read(fields: Partial<Operation> & { key: string; invokeMs: number }): Operation {
  return {
    session: 0,
    kind: 'read',
    instance: 'app-1',
    completeMs: fields.invokeMs + 2,
    ok: true,
    tier: 'L1',
    ...fields,
  };
}

/** An ok write taking 10 ms whose value is `<key><version>`, unless told otherwise. */
function write(fields: Partial<Operation> & { key: string; invokeMs: number }): Operation {
  return {
    session: 9,
    kind: 'write',
    instance: 'app-1',
    completeMs: fields.invokeMs + 10,
    ok: true,
    value: `${fields.key}${fields.version}`,
    ...fields,
  };
}

/** A history of `operations`; writes stop at the last write's completion. */
function historyOf(operations: Operation[], faults: FaultMark[] = []): History {
  const writes = operations.filter((op) => op.kind === 'write');
  return {
    settings: {
      strategy: 'versioned',
      seed: 1,
      sessions: 10,
      keys: 10,
      writeRatio: 0.2,
      durationMs: 10_000,
      tokenSessions: 2,
      instances: ['app-1', 'app-2', 'app-3'],
      quietMs: 1000,
      startedAt: '2025-01-01T00:00:00.000Z',
    },
    operations,
    faults,
    writesStoppedMs: writes.reduce((max, op) => Math.max(max, op.completeMs), 0),
  };
}

/** The final sweep: `key` read at `version` on every instance at `atMs`. */
function sweep(key: string, version: number, atMs: number): Operation[] {
  return ['app-1', 'app-2'].map((instance) =>
    read({
      session: 99,
      key,
      instance,
      invokeMs: atMs,
      version,
      value: `${key}${version}`,
      final: true,
    }),
  );
}

/** A run with no anomaly: writes, fresh reads on every tier, a final sweep that agrees. */
const clean = historyOf([
  read({ key: 'a', invokeMs: 0, version: 1, value: 'seed' }),
  write({ key: 'a', invokeMs: 10, version: 2 }),
  read({
    session: 1,
    key: 'a',
    invokeMs: 30,
    version: 2,
    value: 'a2',
    tier: 'MISS',
    instance: 'app-2',
  }),
  read({ session: 1, key: 'a', invokeMs: 40, version: 2, value: 'a2', tier: 'L2', token: 2 }),
  // Concurrent with the write: either version is fresh.
  write({ key: 'b', invokeMs: 50, version: 4 }),
  read({ session: 2, key: 'b', invokeMs: 55, version: 3, value: 'seed' }),
  ...sweep('a', 2, 2000),
  ...sweep('b', 4, 2010),
]);

/** One of each anomaly (see the comments); the only stale read is the RYW violation. */
const oneOfEach = historyOf([
  // Stale read and read-your-writes violation (no token): session 1 wrote v2, then reads v1.
  write({ session: 1, key: 'a', invokeMs: 100, version: 2 }), // completes at 110
  write({ session: 7, key: 'a', invokeMs: 200, version: 3 }), // completes at 210
  read({
    session: 1,
    key: 'a',
    invokeMs: 300,
    version: 1,
    value: 'seed',
    instance: 'app-2',
    tier: 'L2',
  }),
  // Monotonic-read violation with a token: v5 then v4, no writes of `b` in the run.
  read({ session: 2, key: 'b', invokeMs: 100, version: 5, value: 'seed' }),
  read({ session: 2, key: 'b', invokeMs: 200, version: 4, value: 'seed', token: 5 }),
  // Value/version mismatch: v2 of `e` was written as `e2`.
  write({ session: 4, key: 'e', invokeMs: 140, version: 2 }),
  read({
    session: 5,
    key: 'e',
    invokeMs: 400,
    version: 2,
    value: 'other',
    instance: 'app-3',
    tier: 'MISS',
  }),
  // Error 1: a failed write.
  write({
    session: 6,
    key: 'f',
    invokeMs: 500,
    ok: false,
    version: undefined,
    instance: 'app-3',
    error: 'timeout',
  }),
  // Stuck key and error 2: `d` written, then the final read on app-2 fails.
  write({ session: 3, key: 'd', invokeMs: 390, version: 2 }),
  ...sweep('a', 3, 2000),
  ...sweep('e', 2, 2010),
  read({ session: 99, key: 'd', invokeMs: 2020, version: 2, value: 'd2', final: true }),
  read({
    session: 99,
    key: 'd',
    invokeMs: 2020,
    instance: 'app-2',
    ok: false,
    tier: undefined,
    error: 'ECONNRESET',
    final: true,
  }),
]);

describe('checkHistory', () => {
  it('reports zero of everything for a clean history', () => {
    const result = checkHistory(clean);
    expect(summarize(result)).toEqual({
      reads: 8,
      staleReads: 0,
      staleReadRate: 0,
      p99StalenessMs: 0,
      maxStalenessMs: 0,
      stuckKeys: 0,
      mismatches: 0,
      monotonicViolations: 0,
      rywViolations: 0,
      errors: 0,
      hitRatio: 7 / 8,
    });
    expect(result.warnings).toEqual([]);
  });

  it('reports exactly one of each anomaly in a history that has one of each', () => {
    const result = checkHistory(oneOfEach);
    expect(result.stale.list).toEqual([
      expect.objectContaining({
        key: 'a',
        instance: 'app-2',
        version: 1,
        latestVersion: 3,
        windowMs: 190,
      }),
    ]);
    expect(result.stale.staleReadRate).toBeCloseTo(1 / result.reads.ok);
    expect(result.stuckKeys).toEqual([
      expect.objectContaining({ key: 'd', latestVersion: 2, instances: ['app-2'] }),
    ]);
    expect(result.monotonic).toMatchObject({ withTokens: 1, withoutTokens: 0 });
    expect(result.monotonic.violations[0]).toMatchObject({
      key: 'b',
      version: 4,
      expectedAtLeast: 5,
    });
    expect(result.readYourWrites).toMatchObject({ withTokens: 0, withoutTokens: 1 });
    expect(result.readYourWrites.violations[0]).toMatchObject({
      key: 'a',
      expectedAtLeast: 2,
      causeIndex: 0,
    });
    expect(result.mismatches).toEqual([
      expect.objectContaining({ key: 'e', version: 2, value: 'other', writtenValue: 'e2' }),
    ]);
    expect(result.errors).toEqual({
      total: 2,
      byKind: { read: 1, write: 1 },
      byInstance: { 'app-2': { read: 1, write: 0 }, 'app-3': { read: 0, write: 1 } },
      inFaultWindows: 0,
    });
  });

  it('measures the window from the first write that made the read stale, not the latest', () => {
    const result = checkHistory(
      historyOf([
        write({ key: 'k', invokeMs: 0, version: 2 }), // completes at 10: the read of v2 is not stale for it
        write({ key: 'k', invokeMs: 20, version: 3 }), // completes at 30: makes v2 stale
        write({ key: 'k', invokeMs: 40, version: 4 }), // completes at 50
        write({ key: 'k', invokeMs: 95, version: 5 }), // completes at 105, after the read started
        read({ key: 'k', invokeMs: 100, version: 2, value: 'k2' }),
      ]),
    );
    expect(result.stale.list).toEqual([
      expect.objectContaining({ latestVersion: 4, windowMs: 70 }),
    ]);
  });

  it('does not count a write that completes exactly when the read starts', () => {
    const result = checkHistory(
      historyOf([
        write({ key: 'k', invokeMs: 0, version: 2 }),
        read({ key: 'k', invokeMs: 10, version: 1 }),
      ]),
    );
    expect(result.stale.staleReads).toBe(0);
  });

  it('splits session violations by whether the read carried a token', () => {
    const result = checkHistory(
      historyOf([
        write({ session: 1, key: 'k', invokeMs: 0, version: 2 }),
        read({ session: 1, key: 'k', invokeMs: 20, version: 1, token: 2 }),
        write({ session: 2, key: 'k', invokeMs: 30, version: 3 }),
        read({ session: 2, key: 'k', invokeMs: 50, version: 2, value: 'k2' }),
        read({ session: 2, key: 'k', invokeMs: 60, version: 1, token: 3 }),
      ]),
    );
    expect(result.readYourWrites).toMatchObject({
      withTokens: 2,
      withoutTokens: 1,
      readsWithTokens: 2,
      readsWithoutTokens: 1,
    });
    expect(result.monotonic).toMatchObject({ withTokens: 1, withoutTokens: 0 });
  });

  it('ignores an earlier read of the session that had not completed when the next one started', () => {
    const result = checkHistory(
      historyOf([
        read({ session: 1, key: 'k', invokeMs: 0, completeMs: 100, version: 5 }),
        read({ session: 1, key: 'k', invokeMs: 50, version: 4 }),
      ]),
    );
    expect(result.monotonic.violations).toEqual([]);
  });

  it('marks a key stuck when a final read serves an old version (also a stale read)', () => {
    const result = checkHistory(
      historyOf([write({ key: 'k', invokeMs: 0, version: 2 }), ...sweep('k', 1, 2000)]),
    );
    expect(result.stuckKeys).toEqual([
      expect.objectContaining({ key: 'k', latestVersion: 2, instances: ['app-1', 'app-2'] }),
    ]);
    expect(result.stale.staleReads).toBe(2);
  });

  it('counts late non-final reads for stuck keys once twice the propagation bound has passed', () => {
    const history = historyOf([
      write({ key: 'k', invokeMs: 0, version: 2 }), // writes stop at 10
      read({ key: 'k', invokeMs: 100, version: 1 }), // before 10 + 2 × 100
      read({ key: 'j', invokeMs: 300, ok: false }), // after it
      ...sweep('k', 2, 2000),
    ]);
    expect(checkHistory(history).stuckKeys).toEqual([]);
    const bounded = checkHistory(history, { propagationBoundMs: 100 });
    expect(bounded.stuckKeys.map((s) => s.key)).toEqual(['j']);
    expect(bounded.options.stuckFromMs).toBe(210);
  });

  it('warns when there is no final sweep to check stuck keys with', () => {
    const result = checkHistory(historyOf([read({ key: 'k', invokeMs: 0, version: 1 })]));
    expect(result.warnings).toContain('no final-sweep reads: stuck keys were not checked');
  });

  it('attributes stale reads to the faults whose window they start in', () => {
    const writes = [write({ key: 'k', invokeMs: 0, version: 2 })]; // completes at 10
    const staleAt = [900, 1200, 3400, 3600, 6000];
    const history = historyOf(
      [...writes, ...staleAt.map((invokeMs) => read({ key: 'k', invokeMs, version: 1 }))],
      [
        { kind: 'kill-pubsub', atMs: 1000, endMs: 1500 },
        { kind: 'restart-redis', atMs: 5000 },
      ],
    );
    const [pubsub, restart] = checkHistory(history).faults;
    expect(pubsub).toMatchObject({
      fromMs: 1000,
      toMs: 3500,
      reads: 2,
      staleReads: 2,
      maxWindowMs: 3390,
    });
    expect(restart).toMatchObject({ fromMs: 5000, toMs: 7000, staleReads: 1, maxWindowMs: 5990 });
    const narrow = checkHistory(history, { faultWindowAfterMs: 0 });
    expect(narrow.faults.map((f) => f.staleReads)).toEqual([1, 0]);
  });

  it("counts the errors a fault caused in its window, and says so next to the total (crash-after-commit's restarts)", () => {
    const failed = (invokeMs: number) =>
      read({ key: 'k', invokeMs, instance: 'app-3', ok: false, tier: undefined });
    const history = historyOf(
      [
        write({ key: 'k', invokeMs: 0, version: 1 }),
        ...[5100, 5200, 6900].map(failed),
        failed(9500),
      ],
      [{ kind: 'crash-after-commit', detail: 'app-3', atMs: 5000, endMs: 6000 }],
    );
    const result = checkHistory(history);
    expect(result.faults[0]).toMatchObject({ fromMs: 5000, toMs: 8000, errors: 3 });
    expect(result.errors).toMatchObject({ total: 4, inFaultWindows: 3 });
    expect(Object.fromEntries(resultRows(result)).errors).toBe(
      "4  (reads 4, writes 0; 3 started in a fault's window: see By fault)",
    );
  });

  it('breaks stale reads down by instance and by tier', () => {
    const result = checkHistory(
      historyOf([
        write({ key: 'k', invokeMs: 0, version: 2 }),
        read({ key: 'k', invokeMs: 20, version: 1, instance: 'app-1', tier: 'L1' }),
        read({ key: 'k', invokeMs: 40, version: 1, instance: 'app-1', tier: 'L1' }),
        read({ key: 'k', invokeMs: 60, version: 2, value: 'k2', instance: 'app-1', tier: 'L2' }),
        read({ key: 'k', invokeMs: 80, version: 1, instance: 'app-2', tier: 'L2' }),
        read({ key: 'k', invokeMs: 80, version: 2, value: 'k2', instance: 'app-2', tier: 'MISS' }),
      ]),
    );
    expect(result.stale.byInstance['app-1']).toMatchObject({
      reads: 3,
      staleReads: 2,
      windowMs: { max: 30 },
    });
    expect(result.stale.byInstance['app-2']).toMatchObject({
      reads: 2,
      staleReads: 1,
      staleReadRate: 0.5,
    });
    expect(result.stale.byTier.L1).toMatchObject({
      reads: 2,
      staleReads: 2,
      windowMs: { p50: 10, max: 30 },
    });
    expect(result.stale.byTier.L2).toMatchObject({ reads: 2, staleReads: 1 });
    expect(result.stale.byTier.MISS).toMatchObject({ reads: 1, staleReads: 0 });
    expect(result.tiers).toEqual({ L1: 2, L2: 2, MISS: 1, none: 0 });
    expect(result.hitRatio).toBe(4 / 5);
  });

  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(distribution(values)).toEqual({ count: 100, p50: 50, p99: 99, max: 100 });
    expect(distribution([7])).toEqual({ count: 1, p50: 7, p99: 7, max: 7 });
  });

  it('checks a 100k-operation history without quadratic work', () => {
    const history = generatedHistory(100_000);
    const result = checkHistory(history);
    expect(result.reads.total + result.writes.total).toBe(100_000);
    expect(result.stale.staleReads).toBeGreaterThan(0);
    expect(renderHtml(history, result)).toContain('<svg');
  }, 20_000);
});

describe('reports', () => {
  const hostile = historyOf([
    write({ key: '<script>alert(1)</script>', invokeMs: 0, version: 2 }),
    read({ key: '<script>alert(1)</script>', invokeMs: 50, version: 1 }),
  ]);

  it('renders one self-contained HTML page with an SVG timeline and escaped text', () => {
    const html = renderHtml(hostile, checkHistory(hostile));
    expect(html).toContain('<svg');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toMatch(/<script|src=|href=/i);
  });

  it('prints the definitions and the numbers in the terminal report', () => {
    const report = formatReport(oneOfEach, checkHistory(oneOfEach));
    expect(report).toContain('Stale read: an ok read returning a version lower than');
    expect(report).toMatch(/stale reads\s+1 {2}\(/);
    expect(report).toMatch(/staleness window\s+p50 190 ms, p99 190 ms, max 190 ms/);
    expect(report).toMatch(/stuck keys\s+1\n/);
    expect(report).toMatch(/d\s+2\s+app-2: failed/);
  });

  it('compares strategies as an aligned table and as Markdown', () => {
    const rows = [
      { strategy: 'ttl-only', summary: summarize(checkHistory(oneOfEach)), dbQueries: 12 },
      { strategy: 'versioned', summary: summarize(checkHistory(clean)) },
    ];
    expect(formatComparison(rows)).toMatch(/versioned\s+8\s+0% \(0\)\s+0 ms\s+0\s+0\s+—\s+87\.5%/);
    const markdown = comparisonMarkdown(rows).split('\n');
    expect(markdown[0]).toBe(
      '| strategy | reads | stale-read rate | max staleness window | stuck keys | mismatches | database queries | hit ratio |',
    );
    expect(markdown[1]).toBe('| :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    expect(markdown[2]).toMatch(
      /^\| ttl-only \| \d+ \| [\d.]+% \(1\) \| 190 ms \| 1 \| 1 \| 12 \|/,
    );
  });
});

/** A seeded random workload: sequential sessions, some reads lagging a few versions behind. */
function generatedHistory(size: number): History {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const versions = new Map<string, number>();
  const operations: Operation[] = [];
  const sessions = 200;
  const clock = Array.from({ length: sessions }, () => 0);
  for (let n = 0; n < size; n++) {
    const session = n % sessions;
    const key = String(Math.floor(random() * 1000));
    const invokeMs = (clock[session] ?? 0) + random() * 5;
    const completeMs = invokeMs + 1 + random() * 10;
    clock[session] = completeMs;
    const current = versions.get(key) ?? 1;
    const instance = `app-${1 + Math.floor(random() * 3)}`;
    if (random() < 0.2) {
      versions.set(key, current + 1);
      operations.push(
        write({ session, key, instance, invokeMs, completeMs, version: current + 1 }),
      );
    } else {
      const version = Math.max(1, current - (random() < 0.05 ? 1 : 0));
      operations.push(
        read({ session, key, instance, invokeMs, completeMs, version, value: `${key}${version}` }),
      );
    }
  }
  return historyOf(operations);
}

/**
 * A clean versioned run of 60 keys where keys `k0`…`k49` have many writes and one stale read
 * each, the race sessions (10 and 11: right after the workload's) touch `500`…`505` without any
 * stale read, and a subscriber kill at 5 s lands while only `quiet-key` is read.
 */
function busyCleanRun(): History {
  const operations: Operation[] = [];
  for (let k = 0; k < 50; k++) {
    for (let w = 0; w < 5; w++) {
      operations.push(write({ key: `k${k}`, invokeMs: 100 + w * 20 + k, version: 2 + w }));
    }
    operations.push(read({ session: 1, key: `k${k}`, invokeMs: 400 + k, version: 5 }));
  }
  for (let r = 0; r < 6; r++) {
    const key = String(500 + r);
    operations.push(read({ session: 10, key, invokeMs: 1000 + r * 10, version: 1, value: 'seed' }));
    operations.push(write({ session: 11, key, invokeMs: 1005 + r * 10, version: 2 }));
  }
  operations.push(
    read({ session: 2, key: 'quiet-key', invokeMs: 5100, version: 1, value: 'seed' }),
  );
  const history = historyOf(operations, [{ kind: 'kill-pubsub', atMs: 5000 }]);
  history.settings.staleSetRaces = 6;
  return history;
}

describe('the HTML timeline', () => {
  it('shows the stale-set race keys and the keys of each fault even when others have more stale reads', () => {
    const history = busyCleanRun();
    const result = checkHistory(history);
    expect(result.stale.staleReads).toBeGreaterThanOrEqual(50);
    const rows = timelineRows(history, result);
    expect(rows).toHaveLength(TIMELINE_MAX_KEYS);
    const reasons = Object.fromEntries(rows.map((row) => [row.key, row.reason]));
    for (let r = 0; r < 6; r++) expect(reasons[String(500 + r)]).toBe('race');
    expect(reasons['quiet-key']).toBe('fault');
    expect(rows.filter((row) => row.reason === 'stale').length).toBeGreaterThan(0);
    const html = renderHtml(history, result);
    expect(html).toContain('>race</text>');
    expect(html).toContain('>fault</text>');
  });

  it('says in its caption and legend that instant faults are dashed lines and lasting ones bands', () => {
    const html = renderHtml(busyCleanRun(), checkHistory(busyCleanRun()));
    expect(html).toContain('an instant fault (kill-pubsub, restart-redis, kill) is a dashed line');
    expect(html).toContain('A fault that lasts (pause-writes, freeze, slow-db) is a band');
    expect(html).toContain('instant fault</text>');
    expect(html).not.toContain('Fault bands are the fault itself');
  });
});

describe('the longest staleness window', () => {
  it('is printed with the read that had it and what a window is measured from', () => {
    // `d` is written at 390-400 ms and read stale in the final sweep at 12 s: a 11.6 s window in
    // a run whose workload lasted 10 s.
    const history = historyOf([
      write({ key: 'd', invokeMs: 390, version: 2 }),
      read({ session: 1, key: 'd', invokeMs: 450, version: 2, value: 'd2' }),
      read({
        session: 99,
        key: 'd',
        invokeMs: 12_000,
        version: 1,
        value: 'seed',
        final: true,
        instance: 'app-2',
      }),
    ]);
    const rows = Object.fromEntries(resultRows(checkHistory(history)));
    expect(rows['longest window']).toContain(
      '11.60 s: key d on app-2, read in the final sweep at 12.00 s after the start, version 1 while version 2 had been written; the first write it missed completed at 400 ms',
    );
    expect(rows['longest window']).toContain('final-sweep reads count');
    expect(formatReport(history, checkHistory(history))).toContain('longest window');
    const comparison = formatComparison([
      { strategy: 'delete', summary: summarize(checkHistory(history)) },
    ]);
    // Wrapped at 100 columns under the table.
    expect(comparison.replace(/\s+/g, ' ')).toContain(
      "max staleness window: a window runs from the completion of the first write a read missed to the read's start",
    );
  });
});
