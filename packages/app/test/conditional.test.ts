import { describe, expect, it } from 'vitest';
import {
  acceptedVersions,
  etagOf,
  MAX_ENTITY_TAGS,
  noneMatchFails,
  parseEntityTags,
} from '../src/conditional.ts';
import { HttpError } from '../src/errors.ts';
import { userAnswerOf } from '../src/user-answer.ts';

describe('entity tags (pure)', () => {
  it('tags a version strongly, as "v<version>"', () => {
    expect(etagOf(7)).toBe('"v7"');
  });

  it('parses *, one tag, weak tags and lists; absent is undefined', () => {
    expect(parseEntityTags('If-Match', undefined)).toBeUndefined();
    expect(parseEntityTags('If-Match', ' * ')).toBe('*');
    expect(parseEntityTags('If-Match', '"v7"')).toEqual([{ opaque: 'v7', weak: false }]);
    expect(parseEntityTags('If-None-Match', 'W/"v7", "xyz",,"v9"')).toEqual([
      { opaque: 'v7', weak: true },
      { opaque: 'xyz', weak: false },
      { opaque: 'v9', weak: false },
    ]);
  });

  it.each(['', 'v7', '"v7', 'w/"v7"', '"v"7"', '*, "v7"', '"v 7"', ','])(
    'refuses the malformed value %j with a 400 naming the header',
    (raw) => {
      let thrown: unknown;
      try {
        parseEntityTags('If-Match', raw);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(HttpError);
      expect(thrown).toMatchObject({ status: 400, code: 'E_INVALID_HEADER' });
      expect((thrown as Error).message).toContain('`If-Match`');
    },
  );

  it(`refuses more than ${MAX_ENTITY_TAGS} tags`, () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `"v${i}"`).join(', ');
    expect(parseEntityTags('If-Match', tags(MAX_ENTITY_TAGS))).toHaveLength(MAX_ENTITY_TAGS);
    expect(() => parseEntityTags('If-Match', tags(MAX_ENTITY_TAGS + 1))).toThrow(HttpError);
  });

  it('compares If-None-Match weakly: W/"v7" and "v7" both match version 7, * matches any', () => {
    expect(noneMatchFails([{ opaque: 'v7', weak: true }], 7)).toBe(true);
    expect(noneMatchFails([{ opaque: 'v7', weak: false }], 7)).toBe(true);
    expect(noneMatchFails([{ opaque: 'v6', weak: false }], 7)).toBe(false);
    expect(noneMatchFails([{ opaque: 'x7', weak: false }], 7)).toBe(false);
    expect(noneMatchFails('*', 7)).toBe(true);
  });

  it('compares If-Match strongly: weak and foreign tags accept no version', () => {
    expect(acceptedVersions('*')).toBe('*');
    expect(
      acceptedVersions([
        { opaque: 'v7', weak: false },
        { opaque: 'v8', weak: true },
        { opaque: 'abc', weak: false },
        { opaque: 'v99999999999999999', weak: false },
      ]),
    ).toEqual([7]);
  });
});

describe('user answers (pure)', () => {
  it('serializes a user once and hands out the same bytes and header values while it lives', () => {
    const user = {
      id: '1',
      name: 'Zoë',
      email: 'z@example.com',
      age: 3,
      version: 7,
      updatedAt: 'x',
    };
    const answer = userAnswerOf(user);
    expect(answer.body).toBe(JSON.stringify(user));
    expect(answer.bodyBytes).toBe(Buffer.byteLength(JSON.stringify(user)));
    expect(answer).toMatchObject({ version: '7', etag: '"v7"' });
    expect(userAnswerOf(user)).toBe(answer);
    // Another object (a new version in L1) gets its own answer.
    const next = userAnswerOf({ ...user, name: 'Bea', version: 8 });
    expect(next.body).toContain('Bea');
    expect(next.etag).toBe('"v8"');
  });
});
