import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Development runs the sources: tsx and vitest map each `@cachelab/*` entry point to its `src/`
// file through the root tsconfig.json's `paths`, while `exports` gives everyone else `dist/`.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

interface Manifest {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
}

/** Every entry point of every workspace package, as `specifier → the dist file it runs`. */
function entryPoints(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const dir of readdirSync(join(ROOT, 'packages'))) {
    const manifest = read(`packages/${dir}/package.json`) as Manifest;
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue; // ./package.json
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`;
      entries.set(specifier, join('packages', dir, target.default));
    }
  }
  return entries;
}

describe('resolution of @cachelab/* in development', () => {
  it('maps exactly the entry points of the packages, each to the source its dist file is built from', () => {
    const paths = read('tsconfig.json').compilerOptions.paths as Record<string, string[]>;
    const fromExports = [...entryPoints()].map(([specifier, dist]) => [
      specifier,
      [`./${dist.replace('/dist/', '/src/').replace(/\.js$/, '.ts')}`],
    ]);
    expect(Object.entries(paths).sort()).toEqual(fromExports.sort());
  });

  it('gives each entry point types and default in dist/', () => {
    for (const dir of readdirSync(join(ROOT, 'packages'))) {
      const manifest = read(`packages/${dir}/package.json`) as Manifest;
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (subpath === './package.json') continue;
        expect(target, `${manifest.name} ${subpath}`).toEqual({
          types: expect.stringMatching(/^\.\/dist\/.*\.d\.ts$/),
          default: expect.stringMatching(/^\.\/dist\/.*\.js$/),
        });
      }
    }
  });
});
