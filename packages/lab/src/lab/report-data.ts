/**
 * What the lab's reports show, as strings: number formats, settings, the headline results, the
 * breakdown tables and the strategy comparison. The text and HTML reports only lay these out.
 */
import type { CheckResult, StaleGroup, StaleRead, Summary } from './checker-types.ts';
import type { History, RunSettings } from './history.ts';

/** One row of a strategy comparison. */
export interface ComparisonRow {
  strategy: string;
  summary: Summary;
  /** Database queries the cluster made during the run, when known. */
  dbQueries?: number;
}

/** How many stuck keys the reports list. */
export const STUCK_KEYS_SHOWN = 20;

/** Cells that start like a number (`12`, `0.5%`, `<0.001%`, `—`): tables align them right. */
export const NUMERIC = /^[\d<.,%—-]/;

/** A duration for people: `0.8 ms`, `12 ms`, `3.40 s`. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  if (ms === 0) return '0 ms';
  if (Math.abs(ms) >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(Math.abs(ms) < 10 ? 1 : 0)} ms`;
}

/** A ratio as a percentage with three significant digits; `0%` only when exactly zero. */
export function formatPercent(ratio: number): string {
  if (ratio === 0) return '0%';
  const percent = ratio * 100;
  return `${percent < 0.001 ? '<0.001' : Number(percent.toPrecision(3))}%`;
}

/** Replaces control characters so a hostile key cannot break a table. */
export function printable(text: string): string {
  return text.replace(/\p{Cc}/gu, '?');
}

/** Escapes text for HTML and SVG content and attributes. */
export function escapeHtml(text: string): string {
  const entities: Record<string, string> = {
    '&': '&amp;',
    '<': '&lt;',
    '>': '&gt;',
    '"': '&quot;',
    "'": '&#39;',
  };
  return text.replace(/[&<>"']/g, (c) => entities[c] ?? c);
}

/** A version as stored, or `—` for none (an absent user). */
export function formatVersion(version: number | undefined): string {
  return version === undefined || !Number.isFinite(version) ? '—' : String(version);
}

/** A settings value as one line. */
export function formatSetting(name: string, value: unknown): string {
  if (typeof value === 'number' && /Ms$/.test(name)) return formatMs(value);
  if (Array.isArray(value)) return value.length === 0 ? '—' : value.map(String).join(', ');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The settings, plus what the history itself says about the run, as name/value pairs. */
export function settingsRows(history: History): [string, string][] {
  const settings: RunSettings = history.settings;
  const rows = Object.entries(settings).map(([name, value]): [string, string] => [
    name,
    printable(formatSetting(name, value)),
  ]);
  rows.push(['writesStoppedMs', formatMs(history.writesStoppedMs)]);
  return rows;
}

/** A table of the report: its title, columns and rows, and what to say when it has no rows. */
export interface ReportTable {
  title: string;
  headers: string[];
  rows: string[][];
  empty: string;
  /** Shown under the table, e.g. how many rows were left out. */
  note?: string;
}

/** The cells of one stale-read breakdown row. */
function groupCells(name: string, group: StaleGroup): string[] {
  const { reads, staleReads, staleReadRate, windowMs } = group;
  return [
    printable(name),
    String(reads),
    String(staleReads),
    formatPercent(staleReadRate),
    formatMs(windowMs.p50),
    formatMs(windowMs.p99),
    formatMs(windowMs.max),
  ];
}

const GROUP_HEADERS = ['reads', 'stale', 'rate', 'p50 window', 'p99 window', 'max window'];

/** Violations of a session guarantee, split by tokens, as one line. */
function sessionLine(check: CheckResult['monotonic']): string {
  return `${check.withTokens + check.withoutTokens}  (with tokens ${check.withTokens} of ${check.readsWithTokens} reads, without tokens ${check.withoutTokens} of ${check.readsWithoutTokens} reads)`;
}

/** What a staleness window is measured from, said wherever the longest one is printed. */
export const WINDOW_NOTE =
  "a window runs from the completion of the first write a read missed to the read's start; final-sweep reads count, and the sweep starts only after the last write (stale-set races may write past --duration) and the quiet period, so a key that stays stale can show a window longer than --duration";

/** Where the longest staleness window comes from, with {@link WINDOW_NOTE}; none without one. */
function longestWindow(result: CheckResult): [string, string][] {
  const longest = result.stale.list.reduce<StaleRead | undefined>(
    (max, s) => (max === undefined || s.windowMs > max.windowMs ? s : max),
    undefined,
  );
  if (!longest) return [];
  const when = longest.final ? 'in the final sweep' : 'during the workload';
  const missedAt = longest.invokeMs - longest.windowMs;
  return [
    [
      'longest window',
      `${formatMs(longest.windowMs)}: key ${printable(longest.key)} on ${longest.instance}, read ${when} at ${formatMs(longest.invokeMs)} after the start, version ${formatVersion(longest.version)} while version ${longest.latestVersion} had been written; the first write it missed completed at ${formatMs(missedAt)} (${WINDOW_NOTE})`,
    ],
  ];
}

/** The headline numbers as name/value pairs. */
export function resultRows(result: CheckResult): [string, string][] {
  const { stale, errors, tiers } = result;
  const w = stale.windowMs;
  return [
    ['reads (ok / all)', `${result.reads.ok} / ${result.reads.total}`],
    ['writes (ok / all)', `${result.writes.ok} / ${result.writes.total}`],
    ['stale reads', `${stale.staleReads}  (${formatPercent(stale.staleReadRate)} of ok reads)`],
    ['staleness window', `p50 ${formatMs(w.p50)}, p99 ${formatMs(w.p99)}, max ${formatMs(w.max)}`],
    ...longestWindow(result),
    ['stuck keys', String(result.stuckKeys.length)],
    ['value/version mismatches', String(result.mismatches.length)],
    ['monotonic-read violations', sessionLine(result.monotonic)],
    ['read-your-writes violations', sessionLine(result.readYourWrites)],
    ['errors', errorLine(errors)],
    ['tiers', `L1 ${tiers.L1}, L2 ${tiers.L2}, MISS ${tiers.MISS}, none ${tiers.none}`],
    ['hit ratio', formatPercent(result.hitRatio)],
  ];
}

/** The errors line: by kind, and how many started in a fault's window (the fault caused them). */
function errorLine(errors: CheckResult['errors']): string {
  const kinds = `reads ${errors.byKind.read}, writes ${errors.byKind.write}`;
  if (errors.inFaultWindows === 0) return `${errors.total}  (${kinds})`;
  return `${errors.total}  (${kinds}; ${errors.inFaultWindows} started in a fault's window: see By fault)`;
}

const NO_READS: StaleGroup = {
  reads: 0,
  staleReads: 0,
  staleReadRate: 0,
  windowMs: { count: 0, p50: 0, p99: 0, max: 0 },
};

/** Stale reads and errors per instance. */
function instanceTable(result: CheckResult): ReportTable {
  const { byInstance } = result.stale;
  const names = [
    ...new Set([...Object.keys(byInstance), ...Object.keys(result.errors.byInstance)]),
  ];
  const rows = names.sort().map((name) => {
    const errors = result.errors.byInstance[name] ?? { read: 0, write: 0 };
    return [...groupCells(name, byInstance[name] ?? NO_READS), `${errors.read}/${errors.write}`];
  });
  const headers = ['instance', ...GROUP_HEADERS, 'errors r/w'];
  return { title: 'By instance', headers, rows, empty: '(no operations)' };
}

/** Stale reads per cache tier (`X-Cache`). */
function tierTable(result: CheckResult): ReportTable {
  const rows = Object.entries(result.stale.byTier).map(([name, group]) => groupCells(name, group));
  return { title: 'By tier', headers: ['tier', ...GROUP_HEADERS], rows, empty: '(no ok reads)' };
}

/** Stale reads attributed to each fault. */
function faultTable(result: CheckResult): ReportTable {
  const rows = result.faults.map((f) => [
    printable(f.fault.kind),
    printable(f.fault.detail ?? ''),
    formatMs(f.fromMs),
    formatMs(f.toMs),
    String(f.reads),
    String(f.staleReads),
    formatMs(f.maxWindowMs),
    String(f.errors),
  ]);
  return {
    title: `By fault (reads starting from the fault until ${formatMs(result.options.faultWindowAfterMs)} after it was undone)`,
    headers: ['fault', 'detail', 'from', 'to', 'reads', 'stale', 'max window', 'errors'],
    rows,
    empty: '(no faults injected)',
  };
}

/** The first `STUCK_KEYS_SHOWN` stuck keys and what each instance served. */
function stuckTable(result: CheckResult): ReportTable {
  const served = (o: CheckResult['stuckKeys'][number]['observations'][number]) =>
    `${printable(o.instance)}: ${o.failed ? 'failed' : `v${formatVersion(o.version)}`}`;
  const rows = result.stuckKeys
    .slice(0, STUCK_KEYS_SHOWN)
    .map((s) => [
      printable(s.key),
      formatVersion(s.latestVersion),
      s.observations.map(served).join(', '),
    ]);
  const more = result.stuckKeys.length - rows.length;
  return {
    title: `Stuck keys (${result.stuckKeys.length})`,
    headers: ['key', 'latest written', 'final reads that missed it'],
    rows,
    empty: '(none)',
    note: more > 0 ? `… and ${more} more` : undefined,
  };
}

/** The breakdown tables every report shows, in order. */
export function breakdownTables(result: CheckResult): ReportTable[] {
  return [instanceTable(result), tierTable(result), faultTable(result), stuckTable(result)];
}

/** The comparison table: one row per strategy. */
export function comparisonTable(rows: ComparisonRow[]): ReportTable {
  const headers = [
    'strategy',
    'reads',
    'stale-read rate',
    'max staleness window',
    'stuck keys',
    'mismatches',
    'database queries',
    'hit ratio',
  ];
  const cells = rows.map(({ strategy, summary: s, dbQueries }) => [
    printable(strategy),
    String(s.reads),
    `${formatPercent(s.staleReadRate)} (${s.staleReads})`,
    formatMs(s.maxStalenessMs),
    String(s.stuckKeys),
    String(s.mismatches),
    dbQueries === undefined ? '—' : String(dbQueries),
    formatPercent(s.hitRatio),
  ]);
  return { title: 'Strategies compared', headers, rows: cells, empty: '(no runs)' };
}
