/**
 * The timeline picture of a lab run as inline SVG: one row per key, writes as ticks, reads as
 * marks shaped by cache tier and coloured fresh/stale, staleness windows as red spans, faults that
 * last, the quiet period and the final sweep as labelled bands, instant faults as dashed lines, an
 * axis in seconds and a legend.
 */
import type { CheckResult, StaleRead } from './checker-types.ts';
import type { History, Operation } from './history.ts';
import { escapeHtml } from './report-data.ts';
import { timelineRows } from './timeline-rows.ts';

const WIDTH = 1200;
const LEFT = 160;
const RIGHT = 16;
const ROW = 20;
const LANE = 15;
const COLORS = { fresh: '#2e9d49', stale: '#d7263d', failed: '#8d8d8d', write: '#1d3557' };
const TIER_OFFSET: Record<string, number> = { L1: -5, L2: 0, MISS: 5 };

/** A band or line drawn across the rows, with its label. */
interface Band {
  fromMs: number;
  toMs?: number;
  label: string;
  kind: 'fault' | 'quiet' | 'sweep';
}

/** The faults, the quiet period and the final sweep as bands. */
function bandsOf(history: History): Band[] {
  const bands: Band[] = history.faults.map((f) => ({
    fromMs: f.atMs,
    toMs: f.endMs,
    label: f.detail ? `${f.kind} ${f.detail}` : f.kind,
    kind: 'fault',
  }));
  const finals = history.operations.filter((op) => op.final);
  const sweepStart = finals.reduce((min, op) => Math.min(min, op.invokeMs), Infinity);
  const quietEnd =
    finals.length > 0 ? sweepStart : history.writesStoppedMs + history.settings.quietMs;
  bands.push({
    fromMs: history.writesStoppedMs,
    toMs: quietEnd,
    label: 'quiet period',
    kind: 'quiet',
  });
  if (finals.length > 0) {
    const sweepEnd = finals.reduce((max, op) => Math.max(max, op.completeMs), 0);
    bands.push({ fromMs: sweepStart, toMs: sweepEnd, label: 'final sweep', kind: 'sweep' });
  }
  return bands;
}

/** A "nice" tick step (1, 2 or 5 × 10ⁿ seconds) giving about ten ticks. */
function tickStepSeconds(totalSeconds: number): number {
  const raw = Math.max(totalSeconds / 10, 0.001);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
}

/** The mark of one read: a circle (L1), square (L2), triangle (MISS), diamond (unknown) or ×. */
function readMark(op: Operation, cx: number, cy: number, color: string): string {
  if (!op.ok) {
    return `<path d="M${cx - 3},${cy - 3}l6,6m0,-6l-6,6" stroke="${color}" stroke-width="1.4"/>`;
  }
  if (op.tier === 'L1') return `<circle cx="${cx}" cy="${cy}" r="2.6" fill="${color}"/>`;
  if (op.tier === 'L2')
    return `<rect x="${cx - 2.4}" y="${cy - 2.4}" width="4.8" height="4.8" fill="${color}"/>`;
  if (op.tier === 'MISS') return `<path d="M${cx},${cy - 3}l3,5.5h-6z" fill="${color}"/>`;
  return `<path d="M${cx},${cy - 3}l3,3l-3,3l-3,-3z" fill="${color}"/>`;
}

/** The marks of one key's row: staleness spans, writes, then reads (fresh, failed, stale on top). */
function rowMarks(
  ops: Operation[],
  indexes: number[],
  stale: Map<number, StaleRead>,
  y: number,
  x: (ms: number) => number,
): string {
  const spans: string[] = [];
  const ticks: string[] = [];
  const reads: string[][] = [[], [], []];
  const seen = new Set<string>();
  for (const i of indexes) {
    const op = ops[i] as Operation;
    if (op.kind === 'write') {
      ticks.push(writeTick(op, x(op.completeMs), y));
      continue;
    }
    const cx = round(x(op.invokeMs));
    const cy = y + ROW / 2 + (TIER_OFFSET[op.tier ?? ''] ?? 0);
    const staleRead = op.ok ? stale.get(i) : undefined;
    if (staleRead) {
      const from = round(x(op.invokeMs - staleRead.windowMs));
      spans.push(`<line class="span" x1="${from}" x2="${cx}" y1="${cy}" y2="${cy}"/>`);
      reads[2]?.push(readMark(op, cx, cy, COLORS.stale));
      continue;
    }
    // Fresh (or failed) reads of one tier in the same pixel look the same: draw one.
    const dedupe = `${Math.round(cx)}|${op.tier}|${op.ok}`;
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    reads[op.ok ? 0 : 1]?.push(readMark(op, cx, cy, op.ok ? COLORS.fresh : COLORS.failed));
  }
  return [...spans, ...ticks, ...reads.flat()].join('');
}

/** A write as a vertical tick at its completion; dashed grey when it failed. */
function writeTick(op: Operation, x: number, y: number): string {
  const style = op.ok
    ? `stroke="${COLORS.write}"`
    : `stroke="${COLORS.failed}" stroke-dasharray="2,2"`;
  return `<line x1="${round(x)}" x2="${round(x)}" y1="${y + 2}" y2="${y + ROW - 2}" ${style} stroke-width="1.6"/>`;
}

const round = (n: number) => Math.round(n * 10) / 10;
const BAND_STYLE = {
  fault: { fill: '#f4a261', opacity: 0.22, text: '#9c4a00' },
  quiet: { fill: '#6c757d', opacity: 0.14, text: '#495057' },
  sweep: { fill: '#457b9d', opacity: 0.18, text: '#1d4e6e' },
} as const;

/** Label placement: the lane and x of each band's label, kept inside the picture. */
function placeLabels(bands: Band[], x: (ms: number) => number) {
  const laneEnds: number[] = [];
  return bands.map((band) => {
    const width = 6.4 * band.label.length + 6;
    const start = Math.min(x(band.fromMs), WIDTH - RIGHT - width);
    let lane = laneEnds.findIndex((laneEnd) => laneEnd <= start);
    if (lane === -1) lane = laneEnds.push(start + width) - 1;
    else laneEnds[lane] = start + width;
    return { lane, labelX: start };
  });
}

/** Bands behind the rows and their labels above them. */
function drawBands(bands: Band[], x: (ms: number) => number, top: number, bottom: number) {
  const labels = placeLabels(bands, x);
  const shapes = bands.map((band, b) => {
    const style = BAND_STYLE[band.kind];
    const x1 = round(x(band.fromMs));
    const { lane, labelX } = labels[b] ?? { lane: 0, labelX: x1 };
    const labelY = lane * LANE + 11;
    const shape =
      band.toMs === undefined || x(band.toMs) - x1 < 1.5
        ? `<line x1="${x1}" x2="${x1}" y1="${top}" y2="${bottom}" stroke="${style.fill}" stroke-width="2" stroke-dasharray="4,3"/>`
        : `<rect x="${x1}" y="${top}" width="${round(x(band.toMs) - x1)}" height="${bottom - top}" fill="${style.fill}" fill-opacity="${style.opacity}"/>`;
    const leader = `<line x1="${x1}" x2="${x1}" y1="${labelY + 3}" y2="${top}" stroke="${style.fill}" stroke-width="1"/>`;
    const text = `<text x="${round(labelX) + 2}" y="${labelY}" fill="${style.text}">${escapeHtml(band.label)}</text>`;
    return { shape, label: leader + text };
  });
  return {
    behind: shapes.map((s) => s.shape).join(''),
    labels: shapes.map((s) => s.label).join(''),
  };
}

/** The time axis in seconds, with grid lines across the rows. */
function drawAxis(endMs: number, x: (ms: number) => number, top: number, bottom: number): string {
  const step = tickStepSeconds(endMs / 1000);
  const decimals = step < 1 ? Math.ceil(-Math.log10(step)) : 0;
  const parts = [
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
  ];
  // Count ticks in integers: adding a fractional step up would drift.
  for (let tick = 0; tick * step * 1000 <= endMs; tick++) {
    const seconds = tick * step;
    const tx = round(x(seconds * 1000));
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${top}" y2="${bottom}" stroke="#000" stroke-opacity="0.07"/>`,
      `<line x1="${tx}" x2="${tx}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
      `<text x="${tx}" y="${bottom + 16}" text-anchor="middle">${seconds.toFixed(decimals)}</text>`,
    );
  }
  parts.push(`<text x="${LEFT - 8}" y="${bottom + 16}" text-anchor="end">time (s)</text>`);
  return parts.join('');
}

/** Legend entries: a small drawing and its text. */
function legendItems(): [string, string][] {
  const dot = (op: Partial<Operation>, color: string) => readMark(op as Operation, 6, 0, color);
  return [
    [
      `<line x1="6" x2="6" y1="-7" y2="7" stroke="${COLORS.write}" stroke-width="1.6"/>`,
      'write (at completion)',
    ],
    [dot({ ok: true, tier: 'L1' }, COLORS.fresh), 'read, L1 hit'],
    [dot({ ok: true, tier: 'L2' }, COLORS.fresh), 'read, L2 hit'],
    [dot({ ok: true, tier: 'MISS' }, COLORS.fresh), 'read, miss (database)'],
    [dot({ ok: true, tier: 'L1' }, COLORS.stale), 'stale read'],
    ['<line class="span" x1="-4" x2="12" y1="0" y2="0"/>', 'staleness window'],
    [dot({ ok: false }, COLORS.failed), 'failed read'],
    [
      `<rect x="0" y="-6" width="12" height="12" fill="${BAND_STYLE.fault.fill}" fill-opacity="0.5"/>`,
      'fault that lasts',
    ],
    [
      `<line x1="6" x2="6" y1="-7" y2="7" stroke="${BAND_STYLE.fault.fill}" stroke-width="2" stroke-dasharray="4,3"/>`,
      'instant fault',
    ],
    [
      `<rect x="0" y="-6" width="12" height="12" fill="${BAND_STYLE.quiet.fill}" fill-opacity="0.35"/>`,
      'quiet period',
    ],
    [
      `<rect x="0" y="-6" width="12" height="12" fill="${BAND_STYLE.sweep.fill}" fill-opacity="0.4"/>`,
      'final sweep',
    ],
  ];
}

/** The legend, wrapped onto as many lines as it needs; returns its markup and height. */
function drawLegend(y: number): { svg: string; height: number } {
  let cx = LEFT;
  let cy = y + 10;
  const parts: string[] = [];
  for (const [icon, text] of legendItems()) {
    const width = 22 + 6.4 * text.length + 18;
    if (cx + width > WIDTH - RIGHT) {
      cx = LEFT;
      cy += 20;
    }
    parts.push(
      `<g transform="translate(${round(cx)},${cy})">${icon}<text x="18" y="4">${escapeHtml(text)}</text></g>`,
    );
    cx += width;
  }
  return { svg: parts.join(''), height: cy - y + 14 };
}

/** The time the picture spans: the run, its quiet period and its faults, at least 1 ms. */
function endOf(history: History): number {
  const faultEnd = history.faults.reduce((max, f) => Math.max(max, f.endMs ?? f.atMs), 0);
  const opsEnd = history.operations.reduce((max, op) => Math.max(max, op.completeMs), 0);
  return Math.max(1, history.writesStoppedMs + history.settings.quietMs, faultEnd, opsEnd);
}

/** Stripes, key labels and marks of every row. */
function drawRows(history: History, result: CheckResult, top: number, x: (ms: number) => number) {
  const timeline = timelineRows(history, result);
  const rowOf = new Map(timeline.map(({ key }, row) => [key, row]));
  const rows = timeline.map((): number[] => []);
  history.operations.forEach((op, i) => {
    rows[rowOf.get(op.key) ?? -1]?.push(i);
  });
  const stale = new Map(result.stale.list.map((s) => [s.index, s]));
  const drawn = timeline.map(({ key, reason }, r) => {
    const y = top + r * ROW;
    const shown = key.length > 16 ? `${key.slice(0, 15)}…` : key;
    const stripe =
      r % 2 === 0
        ? `<rect x="${LEFT}" y="${y}" width="${WIDTH - LEFT - RIGHT}" height="${ROW}" fill="#f4f6f8"/>`
        : '';
    const label = `<text x="${LEFT - 8}" y="${y + ROW / 2 + 4}" text-anchor="end"><title>${escapeHtml(key)}</title>${escapeHtml(shown)}</text>`;
    const tag = `<text x="4" y="${y + ROW / 2 + 4}" class="why">${reason}</text>`;
    return {
      back: stripe + tag + label,
      marks: rowMarks(history.operations, rows[r] ?? [], stale, y, x),
    };
  });
  const empty =
    timeline.length === 0 ? `<text x="${LEFT + 8}" y="${top + 14}">no operations</text>` : '';
  return {
    count: Math.max(1, timeline.length),
    back: drawn.map((d) => d.back).join('') + empty,
    marks: drawn.map((d) => d.marks).join(''),
  };
}

/** The whole timeline as one `<svg>` element. */
export function renderTimeline(history: History, result: CheckResult): string {
  const endMs = endOf(history);
  const x = (ms: number) => LEFT + (Math.max(0, ms) / endMs) * (WIDTH - LEFT - RIGHT);
  const bands = bandsOf(history);
  const lanes = Math.max(0, ...placeLabels(bands, x).map((l) => l.lane + 1));
  const top = lanes * LANE + 8;
  const rows = drawRows(history, result, top, x);
  const bottom = top + rows.count * ROW;
  const { behind, labels } = drawBands(bands, x, top, bottom);
  const legend = drawLegend(bottom + 30);
  const height = Math.ceil(bottom + 30 + legend.height);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="100%" role="img" aria-label="Timeline of operations per key">`,
    `<style>text{font:11px system-ui,-apple-system,Segoe UI,sans-serif;fill:#222}.span{stroke:${COLORS.stale};stroke-opacity:.35;stroke-width:2}.why{font-size:10px;fill:#6c757d}</style>`,
    rows.back,
    behind,
    drawAxis(endMs, x, top, bottom),
    rows.marks,
    labels,
    legend.svg,
    '</svg>',
  ].join('\n');
}
