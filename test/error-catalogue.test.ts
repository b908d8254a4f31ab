// The error catalogues: each package's map of codes and the table in its docs say the same, every
// code any document names exists, and the Python and Go instances answer with the HTTP API's codes.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appErrorCodes } from '@cachelab/app';
import { cacheErrorCodes } from '@cachelab/cache';
import { storeErrorCodes } from '@cachelab/store';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** The codes in the first column of the table under `## Errors` of a Markdown file, in order. */
function catalogue(path: string): string[] {
  const text = read(path);
  const section = text.split(/^## Errors\n/m)[1];
  if (section === undefined) throw new Error(`${path} has no "## Errors" section`);
  const codes: string[] = [];
  for (const line of section.split('\n## ')[0]?.split('\n') ?? []) {
    const cell = /^\| `(E_[A-Z_]+)`\s*\|/.exec(line);
    if (cell?.[1]) codes.push(cell[1]);
  }
  return codes;
}

const catalogues = [
  { name: '@cachelab/cache', doc: 'packages/cache/README.md', codes: cacheErrorCodes },
  { name: '@cachelab/store', doc: 'packages/store/README.md', codes: storeErrorCodes },
  { name: 'the HTTP API', doc: 'docs/http-api.md', codes: appErrorCodes },
];

describe('error catalogues', () => {
  for (const { name, doc, codes } of catalogues) {
    it(`${name}: ${doc} lists every code of the map once, and nothing else`, () => {
      const listed = catalogue(doc);
      expect(new Set(listed).size, `a code listed twice in ${doc}`).toBe(listed.length);
      expect([...listed].sort()).toEqual(Object.values(codes).sort());
    });
  }

  it('every E_ code a document names is in a catalogue (or is the interop adapter protocol’s)', () => {
    const known = new Set<string>([
      ...catalogues.flatMap(({ codes }) => Object.values(codes) as string[]),
      // protocol/INTEROP.md: the adapters' own answers to the harness, not an API's errors.
      'E_BAD_REQUEST',
      'E_FAILED',
    ]);
    const documents = execFileLines('git', ['ls-files', '*.md']);
    const unknown: string[] = [];
    for (const path of documents) {
      for (const match of read(path).matchAll(/`(E_[A-Z][A-Z_]*[A-Z])`/g)) {
        if (!known.has(match[1] as string)) unknown.push(`${path}: ${match[1]}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('the Python and Go instances answer with the codes of the HTTP API, each of them', () => {
    const http = Object.values(appErrorCodes).sort();
    const python = read('languages/python/src/cachelab_instance/errors.py');
    const go = read('languages/go/instance/internal/api/errors.go');
    const codesIn = (source: string) =>
      [...new Set([...source.matchAll(/"(E_[A-Z_]+)"/g)].map((match) => match[1]))].sort();
    expect(codesIn(python)).toEqual(http);
    expect(codesIn(go)).toEqual(http);
  });
});

function execFileLines(command: string, args: string[]): string[] {
  return execFileSync(command, args, { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((line) => line !== '');
}
