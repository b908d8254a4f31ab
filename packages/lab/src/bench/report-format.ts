import { markdownTable } from 'markdown-table';
import { round, type Spread } from './stats.ts';

/** One performance target (e.g. an L1 hit under 500 ns) and whether this run met it. */
export interface Check {
  target: string;
  measured: string;
  met: boolean;
}

/** A number for reports: 3 significant digits below 100, integers above. */
export const n = (value: number) => String(round(value));
/** Milliseconds with 3 decimals below 10. */
export const ms = (value: number) =>
  Number.isFinite(value) ? value.toFixed(value < 10 ? 3 : 1) : '–';
/** A share as a percentage. */
export const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
/** Median (min–max). */
export const range = (s: Spread, format = n) =>
  `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
/**
 * A Markdown table (markdown-table): `head`, then `rows`; `align` per column as a delimiter cell,
 * `---:` for a right-aligned column (numbers), anything else for the default.
 */
export const table = (head: string[], rows: string[][], align?: string[]) =>
  markdownTable([head, ...rows], {
    align: head.map((_, i) => (align?.[i]?.endsWith(':') ? 'r' : '')),
  });
