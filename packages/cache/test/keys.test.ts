import { describe, expect, it } from 'vitest';
import { createMessageCodec, type InvalidationMessage } from '../src/bus/messages.ts';
import { CacheError, createKeys } from '../src/index.ts';
import { isValidKey, MAX_KEY_LENGTH } from '../src/keys.ts';

describe('key builder', () => {
  it('prefixes the namespace and wraps the key in a hash tag', () => {
    expect(createKeys('cl').value('user:42')).toBe('cl:{user:42}:val');
  });

  it('rejects namespaces that are empty, long or contain separators', () => {
    for (const bad of ['', 'a'.repeat(33), 'a:b', 'a b', '{x}']) {
      expect(() => createKeys(bad), bad).toThrow(/`namespace`/);
    }
  });

  it.each([
    ['empty', ''],
    ['too long', 'k'.repeat(513)],
    ['an opening brace', 'user:{42'],
    ['a closing brace', 'user:42}'],
    ['a space', 'user 42'],
    ['a newline', 'user\n42'],
    ['a NUL', 'user\u000042'],
    ['an unpaired high surrogate', 'user:\ud83d'],
    ['an unpaired low surrogate', '\ude00user'],
    ['surrogates in the wrong order', 'user:\ude00\ud83d'],
  ])('rejects a key that is %s with E_INVALID_KEY', (_what, key) => {
    const error = (() => {
      try {
        createKeys('cl').value(key);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CacheError);
    expect((error as CacheError).code).toBe('E_INVALID_KEY');
  });

  it('accepts characters outside the BMP (a surrogate pair is one character)', () => {
    expect(createKeys('cl').value('user:😀')).toBe('cl:{user:😀}:val');
  });

  it('accepts glob characters, which mean nothing in a GET', () => {
    expect(createKeys('cl').value('a*b?[c]')).toBe('cl:{a*b?[c]}:val');
  });
});

describe('announcements of valid keys', () => {
  // The longest key of each kind JSON makes longer, or that is more than one UTF-16 unit a
  // character: the worst cases of what a receiver must decode.
  const worst = [
    ['quotes', '"'.repeat(MAX_KEY_LENGTH)],
    ['backslashes', '\\'.repeat(MAX_KEY_LENGTH)],
    ['emoji', '😀'.repeat(MAX_KEY_LENGTH / 2)],
    ['non-ASCII letters', 'é'.repeat(MAX_KEY_LENGTH)],
    ['a mix', '"\\😀é/*?[]'.repeat(MAX_KEY_LENGTH / 10).padEnd(MAX_KEY_LENGTH, '"')],
  ] as const;

  it.each(worst)('decode as sent for a key of %s, signed or not', (_what, key) => {
    expect(isValidKey(key)).toBe(true);
    const message = {
      type: 'inv',
      key,
      version: Number.MAX_SAFE_INTEGER,
      origin: `${'n'.repeat(55)}/abcdefgh`,
      seq: Number.MAX_SAFE_INTEGER,
      ts: Date.now() + 0.123456789,
    } satisfies InvalidationMessage;
    for (const secrets of [[], ['a secret of 16 chars+']]) {
      const codec = createMessageCodec('cl:invalidations', secrets);
      // What crosses Redis is UTF-8: the receiver decodes what UTF-8 gives back.
      const received = Buffer.from(codec.encode(message), 'utf8').toString('utf8');
      expect(codec.decode(received)).toEqual(message);
    }
  });
});
