import { readFileSync } from 'node:fs';
import { SETTINGS, type Setting } from '@cachelab/app';
import { describe, expect, it } from 'vitest';
import {
  type SettingRow,
  settingRows,
  settingsTableProblems,
  shownDefault,
} from '../scripts/docs/settings.ts';

// docs/configuration.md's table of an instance's settings against their declaration
// (packages/app/src/settings.ts), so that neither can change without the other.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const CONFIGURATION = read('docs/configuration.md');
const rows = () => settingRows(CONFIGURATION, '## Each instance');

describe("docs/configuration.md's settings of an instance", () => {
  it('document every declared setting, no other, with its default and description', () => {
    expect(rows().length).toBeGreaterThan(30);
    expect(settingsTableProblems(rows())).toEqual([]);
  });

  it("are shown with the same defaults in npm start's table, where it passes them on", () => {
    const passedOn = ['DB_LATENCY_MS', 'SEED_USERS', 'CACHE_NAMESPACE'];
    const cluster = settingRows(CONFIGURATION, '## The cluster: `npm start`');
    const declared = new Map(Object.values(SETTINGS).map((s: Setting) => [s.env, s]));
    for (const name of passedOn) {
      const row = cluster.find((r) => r.variable === name);
      expect(row?.default, name).toBe(shownDefault(declared.get(name) as Setting));
    }
  });

  it("show the defaults the Node tutorial's table shows", () => {
    const tutorial = settingRows(
      read('docs/tutorial/node/02-setup.md'),
      '## The cache and its TTLs',
    );
    const declared = new Map(Object.values(SETTINGS).map((s: Setting) => [s.env, s]));
    for (const row of tutorial) {
      const setting = declared.get(row.variable);
      expect(setting, `${row.variable} is not declared`).toBeDefined();
      expect(row.default, row.variable).toBe(shownDefault(setting as Setting));
    }
  });
});

describe('the settings table check', () => {
  const port = SETTINGS.port;
  const row = (over: Partial<SettingRow>): SettingRow => ({
    variable: 'PORT',
    default: '3000',
    meaning: port.description,
    line: 7,
    ...over,
  });

  it('reads the rows of the table after a heading', () => {
    const markdown = [
      '## A',
      '',
      '| variable | default | meaning |',
      '| -------- | ------- | ------- |',
      '| `PORT`   | 3000    | it      |',
      '| `HOST`   | none    | a \\| b  |',
      '',
      'after',
    ].join('\n');
    expect(settingRows(markdown, '## A')).toEqual([
      { variable: 'PORT', default: '3000', meaning: 'it', line: 5 },
      { variable: 'HOST', default: 'none', meaning: 'a \\| b', line: 6 },
    ]);
  });

  it('names a setting missing from the docs, one documented but not declared, and another default', () => {
    expect(settingsTableProblems([row({})], [port])).toEqual([]);
    expect(settingsTableProblems([], [port])).toEqual([
      `PORT is declared but not documented; add | \`PORT\` | 3000 | ${port.description} |`,
    ]);
    expect(settingsTableProblems([row({}), row({ variable: 'PROT', line: 8 })], [port])).toEqual([
      'line 8: PROT is documented but not declared',
    ]);
    expect(settingsTableProblems([row({ default: '8080' })], [port])).toEqual([
      'line 7: PORT is documented with default 8080, declared with 3000',
    ]);
    expect(settingsTableProblems([row({ meaning: 'the port' })], [port])).toHaveLength(1);
  });

  it('shows defaults as the variable would be written', () => {
    expect(shownDefault(SETTINGS.outboxListen)).toBe('`1`');
    expect(shownDefault(SETTINGS.cacheNamespace)).toBe('`cl`');
    expect(shownDefault(SETTINGS.ttlJitter)).toBe('0.1');
    expect(shownDefault(SETTINGS.invalidationSecrets)).toBe('none');
    expect(shownDefault(SETTINGS.runId)).toBe('none');
  });
});
