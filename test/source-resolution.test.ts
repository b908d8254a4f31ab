import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Development runs the sources: tsx and vitest map each `@cachelab/*` entry point to its `src/`
// file through the root tsconfig.json's `paths`, while `exports` gives everyone else `dist/`.
// The private packages that are never built (the testkit, the lab) export their sources instead.

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (path: string) => JSON.parse(readFileSync(join(ROOT, path), 'utf8'));

interface Manifest {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
}

/** Whether the package at `packages/<dir>` is one of those that export their sources. */
const runsFromSource = (manifest: Manifest) =>
  Object.values(manifest.exports).some(
    (target) => typeof target === 'string' && target.startsWith('./src/'),
  );

/** The workspace packages that build to dist/, as `[dir, manifest]`. */
function builtPackages(): [string, Manifest][] {
  return readdirSync(join(ROOT, 'packages'))
    .map((dir): [string, Manifest] => [dir, read(`packages/${dir}/package.json`) as Manifest])
    .filter(([, manifest]) => !runsFromSource(manifest));
}

/** Every entry point of every built workspace package, as `specifier → the dist file it runs`. */
function entryPoints(): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [dir, manifest] of builtPackages()) {
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
    for (const [, manifest] of builtPackages()) {
      for (const [subpath, target] of Object.entries(manifest.exports)) {
        if (subpath === './package.json') continue;
        expect(target, `${manifest.name} ${subpath}`).toEqual({
          types: expect.stringMatching(/^\.\/dist\/.*\.d\.ts$/),
          default: expect.stringMatching(/^\.\/dist\/.*\.js$/),
        });
      }
    }
  });

  it('keeps the packages that export their sources private', () => {
    for (const dir of readdirSync(join(ROOT, 'packages'))) {
      const manifest = read(`packages/${dir}/package.json`) as Manifest & { private?: boolean };
      if (runsFromSource(manifest)) expect(manifest.private, manifest.name).toBe(true);
    }
  });
});
