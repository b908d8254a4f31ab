/**
 * Borderless, aligned plain-text tables for the terminal (the lab report, the demos, the stats
 * view), laid out by the `table` package: columns two spaces apart, no box, no trailing spaces.
 */
import { type TableUserConfig, table } from 'table';

/** How {@link textTable} lays out its rows. */
export interface TextTableOptions {
  /** Per column index: true aligns the column right (numbers). Default: every column left. */
  right?: readonly boolean[];
  /** Printed before every line. Default `''`. */
  indent?: string;
  /** Draws a rule of dashes under the first row (the header), as wide as each column. Default false. */
  rule?: boolean;
}

/** Columns are this many spaces apart. */
const GAP = '  ';

/**
 * Lays `rows` out as aligned columns and returns the lines, without trailing spaces. Rows may have
 * different lengths (missing cells are empty); control characters in cells (tabs, newlines, ANSI
 * escapes) print as `?` so that every row stays on one line. No rows give no lines.
 */
export function textTable(
  rows: readonly (readonly string[])[],
  options: TextTableOptions = {},
): string[] {
  const columns = rows.reduce((n, row) => Math.max(n, row.length), 0);
  if (columns === 0) return [];
  const indent = options.indent ?? '';
  const data = rows.map((row) =>
    Array.from({ length: columns }, (_, c) => (row[c] ?? '').replace(/\p{Cc}/gu, '?')),
  );
  const config: TableUserConfig = {
    border: {
      topBody: '',
      topJoin: '',
      topLeft: '',
      topRight: '',
      // A header without rows gets its rule as the table's bottom line.
      bottomBody: '-',
      bottomJoin: GAP,
      bottomLeft: indent,
      bottomRight: '',
      bodyLeft: indent,
      bodyRight: '',
      bodyJoin: GAP,
      joinBody: '-',
      joinLeft: indent,
      joinRight: '',
      joinJoin: GAP,
    },
    columnDefault: { paddingLeft: 0, paddingRight: 0 },
    columns: Array.from({ length: columns }, (_, c) => ({
      alignment: options.right?.[c] ? ('right' as const) : ('left' as const),
    })),
    drawHorizontalLine: (index) => options.rule === true && index === 1,
  };
  // `table` ends its output with a newline.
  return table(data, config)
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => line.trimEnd());
}
