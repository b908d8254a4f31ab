import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CacheOptions, ReadOptions } from '../src/index.ts';
import * as api from '../src/index.ts';
import { hangingRedis } from './hanging-redis.ts';

// The package README's tables against the code: every option, read option, export and method is
// documented, and nothing documented is gone. Each record below names every key of its type, so
// the compiler fails when the type gains or loses one and the record is not updated.

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const INDEX = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8');
const MANIFEST = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
};

const CACHE_OPTIONS: Record<keyof CacheOptions, true> = {
  redis: true,
  subscriber: true,
  pubsub: true,
  strategy: true,
  origin: true,
  namespace: true,
  ttlMs: true,
  ttlJitter: true,
  negativeTtlMs: true,
  l1MaxEntries: true,
  l1TtlMs: true,
  highWaterMarkMaxEntries: true,
  heartbeatIntervalMs: true,
  heartbeatTimeoutMs: true,
  redisTimeoutMs: true,
  maxConcurrentLoads: true,
  loadLeaseMs: true,
  staleIfErrorMs: true,
  earlyRefresh: true,
  invalidateAttempts: true,
  signingSecret: true,
  serializer: true,
  onError: true,
  events: true,
  hooks: true,
};
const READ_OPTIONS: Record<keyof ReadOptions, true> = {
  consistency: true,
  minVersion: true,
  ttlMs: true,
};

/** The text of the README section `## title`, up to the next `## `. */
function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no section ${title}`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The first cells of the rows of the table whose header row starts with `| first`. */
function firstColumn(text: string, first: string): string[] {
  const lines = text.split('\n');
  const header = lines.findIndex((line) => new RegExp(`^\\|\\s*${first}\\s*\\|`).test(line));
  if (header < 0) throw new Error(`no table headed ${first}`);
  const rows: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.split('|')[1]?.trim() ?? '');
  }
  return rows;
}

/** The names in backticks of a cell: `cache.get(key)` → `cache.get`, `createKeys(ns)` → `createKeys`. */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([A-Za-z_$][\w$.]*)/g)].map((match) => match[1] as string);
}

/** Every name `index.ts` exports, values and types. */
function indexExports(): string[] {
  const blocks = [...INDEX.matchAll(/export \{([^}]*)\} from/g)];
  return blocks.flatMap((block) =>
    (block[1] as string)
      .split(',')
      .map((name) => name.trim().replace(/^type\s+/, ''))
      .filter(Boolean),
  );
}

describe('the package README matches the code', () => {
  it('lists every option of CacheOptions in the options table, and no other', () => {
    const documented = firstColumn(section('Options'), 'option').flatMap(names);
    expect(documented.sort()).toEqual(Object.keys(CACHE_OPTIONS).sort());
    for (const name of Object.keys(api.DEFAULT_CACHE_OPTIONS)) expect(documented).toContain(name);
  });

  it('lists every read option in the readOptions table, and no other', () => {
    const tables = section('Options').split('`readOptions`')[1] ?? '';
    const documented = firstColumn(tables, 'option').flatMap(names);
    expect(documented.sort()).toEqual(Object.keys(READ_OPTIONS).sort());
  });

  it('names every export of index.ts in the API section, and documents no export that is gone', () => {
    const text = section('API');
    const exported = indexExports();
    expect(exported).toEqual(expect.arrayContaining(Object.keys(api)));
    const mentioned = new Set(names(text));
    expect(exported.filter((name) => !mentioned.has(name))).toEqual([]);
    const rowNames = firstColumn(text, 'export')
      .flatMap(names)
      .filter((name) => !name.startsWith('cache.'));
    expect(rowNames.filter((name) => !exported.includes(name))).toEqual([]);
  });

  it('has a row for every method of a cache, and for no method it lacks', () => {
    const cache = api.createCache({ redis: hangingRedis(), strategy: 'none' });
    const methods = Object.keys(cache).sort();
    const rows = firstColumn(section('API'), 'export')
      .flatMap(names)
      .filter((name) => name.startsWith('cache.'))
      .map((name) => name.slice('cache.'.length));
    expect(rows.sort()).toEqual(methods);
  });

  it('names every tier a read can answer with', () => {
    for (const tier of Object.values(api.tiers)) expect(section('API')).toContain(`'${tier}'`);
  });

  it('names its runtime dependencies and claims none is absent', () => {
    expect(README).not.toMatch(/no runtime dependenc/i);
    for (const name of Object.keys(MANIFEST.dependencies)) expect(README).toContain(`\`${name}\``);
  });
});
