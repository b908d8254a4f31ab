import { SETTINGS, type Setting, settingDefault } from '@cachelab/app';

/**
 * The settings table of docs/configuration.md against the declaration of every instance setting
 * (`SETTINGS` of packages/app/src/settings.ts): each declared setting has a row, each row a
 * declared setting, with the default the declaration parses an unset variable to and its
 * description as the meaning.
 */

/** One row of a `| variable | default | meaning |` table. */
export interface SettingRow {
  variable: string;
  default: string;
  meaning: string;
  /** 1-based line in the markdown. */
  line: number;
}

/** The value of an unset variable, as the table shows it: `none`, `1`, `` `cl` ``, `3000`. */
export function shownDefault(setting: Setting): string {
  const value: unknown = settingDefault(setting);
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return 'none';
  if (typeof value === 'boolean') return value ? '`1`' : '`0`';
  if (typeof value === 'number') return String(value);
  return `\`${String(value)}\``;
}

/** The rows of the first table headed `| variable | default | meaning |` after `heading`. */
export function settingRows(markdown: string, heading: string): SettingRow[] {
  const lines = markdown.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading ${JSON.stringify(heading)}`);
  const header = lines.findIndex(
    (line, i) => i > start && /^\|\s*variable\s*\|\s*default\s*\|\s*meaning\s*\|$/.test(line),
  );
  if (header < 0) throw new Error(`no | variable | default | meaning | table after ${heading}`);
  const rows: SettingRow[] = [];
  for (let i = header + 2; i < lines.length && lines[i]?.startsWith('|'); i++) {
    const cells = (lines[i] as string)
      .slice(1, -1)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    const [variable = '', shown = '', meaning = ''] = cells;
    rows.push({ variable: variable.replace(/^`|`$/g, ''), default: shown, meaning, line: i + 1 });
  }
  return rows;
}

/** The row of a setting, as the declaration writes it. */
export function settingRow(setting: Setting): string {
  return `| \`${setting.env}\` | ${shownDefault(setting)} | ${setting.description} |`;
}

/** What differs between `rows` and the declared `settings`, one line each; empty when nothing. */
export function settingsTableProblems(
  rows: SettingRow[],
  settings: readonly Setting[] = Object.values(SETTINGS),
): string[] {
  const problems: string[] = [];
  const byName = new Map(rows.map((row) => [row.variable, row]));
  for (const setting of settings) {
    const row = byName.get(setting.env);
    if (!row) {
      problems.push(`${setting.env} is declared but not documented; add ${settingRow(setting)}`);
      continue;
    }
    const shown = shownDefault(setting);
    if (row.default !== shown) {
      problems.push(
        `line ${row.line}: ${setting.env} is documented with default ${row.default}, declared with ${shown}`,
      );
    }
    if (row.meaning !== setting.description) {
      problems.push(
        `line ${row.line}: ${setting.env}'s meaning is not its declared description; write ${settingRow(setting)}`,
      );
    }
  }
  const declared = new Set(settings.map((setting) => setting.env));
  for (const row of rows) {
    if (!declared.has(row.variable)) {
      problems.push(`line ${row.line}: ${row.variable} is documented but not declared`);
    }
  }
  return problems;
}
