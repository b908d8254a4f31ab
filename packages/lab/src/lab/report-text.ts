/**
 * The lab's terminal report: the metric definitions, the settings, the numbers and their
 * breakdowns as aligned plain-text tables; and the strategy comparison, also as Markdown.
 */

import { textTable } from '../text-table.ts';
import type { CheckResult } from './checker-types.ts';
import { METRIC_DEFINITIONS } from './checker-types.ts';
import type { History } from './history.ts';
import {
  breakdownTables,
  type ComparisonRow,
  comparisonTable,
  NUMERIC,
  printable,
  type ReportTable,
  resultRows,
  settingsRows,
  WINDOW_NOTE,
} from './report-data.ts';

export type { ComparisonRow } from './report-data.ts';

/**
 * Aligns rows under headers, with a rule of dashes under the headers, every line prefixed with
 * `indent`; columns after the first whose cells all look numeric align right.
 */
export function formatTable(headers: string[], rows: string[][], indent = '  '): string {
  const right = headers.map(
    (_, c) => c > 0 && rows.length > 0 && rows.every((r) => NUMERIC.test(r[c] ?? '')),
  );
  return textTable([headers, ...rows], { right, indent, rule: true }).join('\n');
}

/** A titled table, or its `empty` text when it has no rows. */
function section(table: ReportTable): string {
  const body =
    table.rows.length === 0 ? `  ${table.empty}` : formatTable(table.headers, table.rows);
  return `${table.title}\n${body}${table.note ? `\n  ${table.note}` : ''}`;
}

/** Name/value pairs as two aligned columns. */
function pairs(rows: [string, string][]): string {
  return textTable(rows, { indent: '  ' }).join('\n');
}

/** Wraps `text` at `width` columns, every line prefixed with `indent`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(/\s+/)) {
    if (current && indent.length + current.length + 1 + word.length > width) {
      lines.push(indent + current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(indent + current);
  return lines.join('\n');
}

/** The full terminal report of one run: definitions, settings, results, breakdowns, warnings. */
export function formatReport(history: History, result: CheckResult): string {
  const title = `cachelab consistency report — ${printable(history.settings.strategy)}`;
  const definitions = METRIC_DEFINITIONS.map((d) => wrap(`${d.term}: ${d.text}`, 100, '  '));
  const sections = [
    `${title}\n${'='.repeat(title.length)}`,
    `Definitions\n${definitions.join('\n')}`,
    `Settings\n${pairs(settingsRows(history))}`,
    `Results\n${pairs(resultRows(result))}`,
    ...breakdownTables(result).map(section),
  ];
  if (result.warnings.length > 0) {
    sections.push(`Warnings\n${result.warnings.map((w) => `  ! ${printable(w)}`).join('\n')}`);
  }
  return `${sections.join('\n\n')}\n`;
}

/** One aligned table comparing strategies. */
export function formatComparison(rows: ComparisonRow[]): string {
  const table = comparisonTable(rows);
  return `${formatTable(table.headers, table.rows)}\n${wrap(`max staleness window: ${WINDOW_NOTE}.`, 100, '  ')}\n`;
}

/** The comparison as a Markdown table, for docs. */
export function comparisonMarkdown(rows: ComparisonRow[]): string {
  const table = comparisonTable(rows);
  const escapeCell = (cell: string) => cell.replace(/[\\|]/g, '\\$&');
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  const align = table.headers.map((_, c) => (c === 0 ? ':---' : '---:'));
  return `${[line(table.headers), `| ${align.join(' | ')} |`, ...table.rows.map(line)].join('\n')}\n`;
}
