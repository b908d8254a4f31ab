import { readFileSync } from 'node:fs';
import { SETTINGS, type Setting, settingDefault } from '@cachelab/app';
import { describe, expect, it } from 'vitest';

// The Python and Go instances read the Node instance's variables (packages/app/src/settings.ts)
// with the same defaults; each language reads its own way, so this reads their sources' tables.

const read = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const DECLARED = new Map(Object.values(SETTINGS).map((s: Setting) => [s.env, s]));

/** Every string literal of a source that is exactly an environment variable's name. */
function variables(source: string): string[] {
  const names = [...source.matchAll(/"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|PORT|HOST)"/g)].map(
    (m) => m[1] as string,
  );
  return [...new Set(names)].sort();
}

/** The default a source gives each variable, as text: `("NAME", default` after a reader's name. */
function defaults(source: string, readers: RegExp): Map<string, string> {
  const pattern = new RegExp(
    `${readers.source}\\(\\s*"([A-Z0-9_]+)",\\s*(?:"([^"]*)"|([0-9_.]+))`,
    'g',
  );
  return new Map(
    [...source.matchAll(pattern)].map((m) => [
      m[1] as string,
      m[2] ?? (m[3] as string).replaceAll('_', ''),
    ]),
  );
}

/** A setting's default as those sources write it. */
function declaredDefault(setting: Setting): string {
  return String(settingDefault(setting));
}

const LANGUAGES = {
  python: {
    source: read('languages/python/src/cachelab_instance/config.py'),
    readers: /(?:\binteger|\burl)/,
    // `get("HOST") or "127.0.0.1"`
    alternative: /get\("([A-Z0-9_]+)"\) or "([^"]*)"/g,
    unread: [
      'REDIS_TLS_CA_FILE',
      'LOAD_LEASE_MS',
      'STALE_IF_ERROR_MS',
      'EARLY_REFRESH',
      'LAB_FILL_DELAY_MS',
      'OUTBOX_LISTEN',
      'OUTBOX_LISTEN_URL',
      'CRASH_AFTER_COMMIT',
      // Read in main.py, for Python's logging, with Node's default (`info`).
      'LOG_LEVEL',
    ],
  },
  go: {
    source: read('languages/go/instance/internal/config/config.go'),
    readers: /r\.(?:integer|ms|str|fraction)/,
    alternative: undefined,
    unread: [
      'REDIS_TLS_CA_FILE',
      'STALE_IF_ERROR_MS',
      'EARLY_REFRESH',
      'OUTBOX_LISTEN',
      'OUTBOX_LISTEN_URL',
    ],
  },
};

describe.each(Object.entries(LANGUAGES))('the %s instance', (_language, lang) => {
  it('reads only variables the Node instance declares', () => {
    const unknown = variables(lang.source).filter((name) => !DECLARED.has(name));
    expect(unknown).toEqual([]);
  });

  it('leaves unread only the Node settings it is known not to have', () => {
    const names = new Set(variables(lang.source));
    expect([...DECLARED.keys()].filter((name) => !names.has(name))).toEqual(lang.unread);
  });

  it("gives each variable it defaults the Node instance's default", () => {
    const found = defaults(lang.source, lang.readers);
    for (const m of lang.alternative ? lang.source.matchAll(lang.alternative) : []) {
      found.set(m[1] as string, m[2] as string);
    }
    expect(found.size).toBeGreaterThan(10);
    const differ = [...found]
      .filter(([name, value]) => declaredDefault(DECLARED.get(name) as Setting) !== value)
      .map(
        ([name, value]) =>
          `${name}: ${value}, Node ${declaredDefault(DECLARED.get(name) as Setting)}`,
      );
    expect(differ).toEqual([]);
  });
});
