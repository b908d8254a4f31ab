import { describe, expect, it } from 'vitest';
import { CacheError, createKeys } from '../src/index.ts';

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

  it('accepts glob characters, which mean nothing in a GET', () => {
    expect(createKeys('cl').value('a*b?[c]')).toBe('cl:{a*b?[c]}:val');
  });
});
