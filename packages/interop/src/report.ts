/** One observation of a MUST: where it was made and whether it held. */
export interface Check {
  must: string;
  ok: boolean;
  /** What was checked, and on failure what was seen. */
  what: string;
  scenario: string;
  /** `x → y`, the writer then the reader. */
  pair: string;
  topology: string;
}

/** Propagation delays of one pair on one topology, in ms. */
export interface Propagation {
  pair: string;
  topology: string;
  samples: number[];
}

/** Everything a run observed. */
export interface Report {
  checks: Check[];
  propagation: Propagation[];
  /** Adapters skipped (`--allow-missing`), with why. */
  skipped: string[];
}

/** The p-th percentile (nearest rank) of `samples`, `NaN` when there are none. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Per MUST id, in order: how many checks passed, and the failed ones. */
export function byMust(checks: readonly Check[]): Map<string, { passed: number; failed: Check[] }> {
  const musts = new Map<string, { passed: number; failed: Check[] }>();
  const order = [...new Set(checks.map((c) => c.must))].sort(compareIds);
  for (const must of order) musts.set(must, { passed: 0, failed: [] });
  for (const check of checks) {
    const entry = musts.get(check.must) as { passed: number; failed: Check[] };
    if (check.ok) entry.passed++;
    else entry.failed.push(check);
  }
  return musts;
}

/** The report as text: one line per MUST, then the propagation times. */
export function formatReport(report: Report): string {
  const lines: string[] = [];
  for (const skipped of report.skipped) lines.push(`SKIPPED ${skipped}`);
  lines.push('', 'MUST                 result  checks');
  for (const [must, { passed, failed }] of byMust(report.checks)) {
    const result = failed.length === 0 ? 'PASS' : 'FAIL';
    lines.push(`${must.padEnd(20)} ${result.padEnd(7)} ${passed}/${passed + failed.length}`);
    for (const f of failed.slice(0, 3)) {
      lines.push(`    ${f.scenario} (${f.pair}, ${f.topology}): ${f.what}`);
    }
  }
  lines.push(
    '',
    'propagation (set sent by the writer → the reader no longer serves the old version)',
  );
  for (const { pair, topology, samples } of report.propagation) {
    const ms = (p: number) => `${percentile(samples, p).toFixed(2)} ms`;
    lines.push(
      `  ${pair} on ${topology}: p50 ${ms(50)}, p99 ${ms(99)}, max ${ms(100)} (${samples.length} writes)`,
    );
  }
  const failed = report.checks.filter((c) => !c.ok).length;
  const musts = byMust(report.checks);
  const failedMusts = [...musts.values()].filter((m) => m.failed.length > 0).length;
  lines.push(
    '',
    failed === 0
      ? `interop: PASS — ${musts.size} MUST(s), ${report.checks.length} check(s)`
      : `interop: FAIL — ${failedMusts} of ${musts.size} MUST(s) failed (${failed} of ${report.checks.length} checks)`,
  );
  return lines.join('\n');
}

/** `MUST-KEY-3` before `MUST-KEY-10`. */
function compareIds(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
