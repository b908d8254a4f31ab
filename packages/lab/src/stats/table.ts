import { textTable } from '../text-table.ts';
import type { InstanceSnapshot } from './snapshot.ts';

/** A column: its header, how to show an instance, and whether it aligns right (numbers). */
interface Column {
  header: string;
  cell(now: InstanceSnapshot, before: InstanceSnapshot | undefined): string;
  right?: boolean;
}

const DASH = '-';

function percent(part: number | undefined, whole: number | undefined): string {
  if (part === undefined || whole === undefined || whole === 0) return DASH;
  return `${((100 * part) / whole).toFixed(1)}%`;
}

function count(value: number | undefined): string {
  return value === undefined ? DASH : String(value);
}

function ms(value: number | null | undefined): string {
  return value === null || value === undefined ? DASH : `${value.toFixed(2)}ms`;
}

/** Requests per second between two rounds; `-` on the first round or across a restart. */
function rate(now: InstanceSnapshot, before: InstanceSnapshot | undefined): string {
  if (!before || before.requests === undefined || now.requests === undefined) return DASH;
  const seconds = (now.at - before.at) / 1000;
  const delta = now.requests - before.requests;
  if (seconds <= 0 || delta < 0 || before.name !== now.name) return DASH;
  return (delta / seconds).toFixed(1);
}

const COLUMNS: Column[] = [
  { header: 'instance', cell: (s) => s.name ?? s.url },
  { header: 'state', cell: (s) => (s.down ? `down (${s.down})` : stateOf(s)) },
  { header: 'requests', cell: (s) => count(s.requests), right: true },
  { header: 'req/s', cell: rate, right: true },
  { header: 'reads', cell: (s) => count(s.reads), right: true },
  {
    header: 'hit',
    cell: (s) => percent(sum(s.l1Hits, s.l2Hits), s.reads),
    right: true,
  },
  { header: 'L1', cell: (s) => percent(s.l1Hits, s.reads), right: true },
  { header: 'L2', cell: (s) => percent(s.l2Hits, s.reads), right: true },
  { header: 'MISS', cell: (s) => percent(s.misses, s.reads), right: true },
  { header: 'L1 size', cell: (s) => count(s.l1Size), right: true },
  { header: 'inv sent', cell: (s) => count(s.invalidationsSent), right: true },
  { header: 'inv recv', cell: (s) => count(s.invalidationsReceived), right: true },
  { header: 'last prop', cell: (s) => (s.down ? DASH : ms(s.lastPropagationMs)), right: true },
  { header: 'p99 prop', cell: (s) => (s.down ? DASH : ms(s.p99PropagationMs)), right: true },
  { header: 'db queries', cell: (s) => count(s.dbQueries), right: true },
];

function sum(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a + b;
}

function stateOf(s: InstanceSnapshot): string {
  if (s.strategy && s.strategy !== 'versioned') return `up (${s.strategy})`;
  return s.trusted === false ? 'up (L1 untrusted)' : 'up';
}

/**
 * The table of one round: a header line, then one line per instance in `--urls` order. Hit
 * ratios are since each instance started (hit = L1 + L2 over reads); req/s is since the round
 * before.
 */
export function formatTable(
  snapshots: InstanceSnapshot[],
  previous: Map<string, InstanceSnapshot>,
): string[] {
  const rows = snapshots.map((s) => COLUMNS.map((c) => c.cell(s, previous.get(s.url))));
  return textTable([COLUMNS.map((c) => c.header), ...rows], {
    right: COLUMNS.map((c) => c.right === true),
  });
}
