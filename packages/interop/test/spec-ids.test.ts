import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { scenarios } from '../src/scenarios/index.ts';

// The requirement ids that the vectors and the harness report name all exist in the spec, so that
// a reader of a FAIL line finds the rule it breaks.

const protocol = (path: string) => new URL(`../../../protocol/${path}`, import.meta.url);
const spec = readFileSync(protocol('SPEC.md'), 'utf8');
const defined = new Set(
  [...spec.matchAll(/\*\*((?:MUST|SHOULD)-[A-Z0-9]+-\d+)\*\*/g)].map((m) => m[1]),
);

describe('requirement and case ids', () => {
  it('are defined once each in SPEC.md', () => {
    const all = [...spec.matchAll(/\*\*((?:MUST|SHOULD)-[A-Z0-9]+-\d+)\*\*/g)].map((m) => m[1]);
    expect(all.length).toBe(defined.size);
    expect(defined.size).toBeGreaterThan(40);
  });

  it('named by the vectors exist in SPEC.md', () => {
    const used = new Set<string>();
    for (const name of readdirSync(protocol('vectors'))) {
      const text = readFileSync(protocol(`vectors/${name}`), 'utf8');
      for (const [id] of text.matchAll(/(?:MUST|SHOULD)-[A-Z0-9]+-\d+/g)) used.add(id);
    }
    expect([...used].filter((id) => !defined.has(id))).toEqual([]);
  });

  it('of vector cases are unique in each file', () => {
    for (const name of readdirSync(protocol('vectors'))) {
      const text = readFileSync(protocol(`vectors/${name}`), 'utf8');
      const ids = [...text.matchAll(/"id": "([^"]+)"/g)].map((m) => m[1]);
      expect(ids.length, name).toBeGreaterThan(0);
      expect(new Set(ids).size, name).toBe(ids.length);
    }
  });

  it('named by the harness scenarios exist in SPEC.md', () => {
    const used = scenarios({ writes: 1 }).flatMap((scenario) => scenario.musts);
    expect(used.filter((id) => !defined.has(id))).toEqual([]);
  });
});
