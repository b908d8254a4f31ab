import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The dependency arrows of the repository run one way:
//   app → cache, store;  lab → testkit, app, cache, store, interop;  interop → testkit, cache;
//   scripts/ → lab;  tests → anything;
// and no source outside the tests imports a test file. Checked on the import specifiers of every
// source file (static `from '…'`, side-effect `import '…'` and dynamic `import('…')`).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Which workspace packages each part of the tree may import (`@cachelab/<name>`). */
const ALLOWED: Record<string, string[]> = {
  cache: [],
  store: [],
  app: ['cache', 'store'],
  testkit: [],
  lab: ['testkit', 'app', 'cache', 'store', 'interop'],
  interop: ['testkit', 'cache'],
  scripts: ['lab', 'cache', 'store', 'app'],
};

/**
 * Relative imports that leave their package, each with its reason: the memory benchmark measures
 * the L1 store itself, which the library does not export.
 */
const CROSSING = new Set([
  'packages/lab/src/bench/workers/memory.ts → packages/cache/src/local/l1-store.ts',
]);

/** Every `.ts`/`.js` file under `dir` (relative to the root), skipping node_modules and dist. */
function sources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!['node_modules', 'dist'].includes(entry.name)) found.push(...sources(path));
    } else if (/\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      found.push(path);
    }
  }
  return found;
}

/** The import specifiers of `source`. */
function specifiers(source: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)['"]([^'"]+)['"]/gm;
  return [...source.matchAll(pattern)].map((match) => match[1] as string);
}

/** The part of the tree `file` belongs to: a package's directory name, or `scripts`. */
function partOf(file: string): string {
  const [top, name] = file.split(sep);
  return top === 'packages' ? (name as string) : (top as string);
}

/** The non-test source files: each package's src/ (and bin/), and scripts/. */
function nonTestSources(): string[] {
  const files = sources('scripts');
  for (const name of readdirSync(join(ROOT, 'packages'))) {
    for (const dir of ['src', 'bin']) {
      try {
        files.push(...sources(join('packages', name, dir)));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return files;
}

const isTestPath = (path: string) =>
  path === 'test' || path.startsWith(`test${sep}`) || /^packages\/[^/]+\/test(\/|$)/.test(path);

describe('the layout', () => {
  const files = nonTestSources();

  it('finds the sources it checks', () => {
    expect(files).toContain(join('packages', 'lab', 'src', 'cli.ts'));
    expect(files).toContain(join('packages', 'testkit', 'src', 'redis-server.ts'));
    expect(files).toContain(join('scripts', 'cluster.ts'));
  });

  it('imports no test file from a source outside the tests', () => {
    const offending: string[] = [];
    for (const file of files) {
      for (const specifier of specifiers(readFileSync(join(ROOT, file), 'utf8'))) {
        if (!specifier.startsWith('.')) continue;
        const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
        if (isTestPath(target)) offending.push(`${file} → ${target}`);
      }
    }
    expect(offending).toEqual([]);
  });

  it('keeps every import inside the arrows: app → cache, store; lab → testkit, app, cache, store', () => {
    const offending: string[] = [];
    for (const file of files) {
      const part = partOf(file);
      const allowed = ALLOWED[part];
      if (allowed === undefined) throw new Error(`no arrows declared for ${part} (${file})`);
      for (const specifier of specifiers(readFileSync(join(ROOT, file), 'utf8'))) {
        const workspace = /^@cachelab\/([^/]+)/.exec(specifier)?.[1];
        if (workspace !== undefined && !allowed.includes(workspace)) {
          offending.push(`${file} → ${specifier}`);
        }
        if (specifier.startsWith('.')) {
          const target = relative(ROOT, resolve(ROOT, dirname(file), specifier));
          const leaves =
            part === 'scripts' ? partOf(target) !== 'scripts' : partOf(target) !== part;
          if (leaves && !CROSSING.has(`${file} → ${target}`)) offending.push(`${file} → ${target}`);
        }
      }
    }
    expect(offending).toEqual([]);
  });

  it('would catch an import of the tests', () => {
    expect(specifiers("import { waitFor } from '../../test/support/wait.ts';")).toEqual([
      '../../test/support/wait.ts',
    ]);
    expect(isTestPath(relative(ROOT, resolve(ROOT, 'scripts', '../test/support/wait.ts')))).toBe(
      true,
    );
    expect(isTestPath(join('packages', 'cache', 'test', 'fixture.ts'))).toBe(true);
    expect(isTestPath(join('packages', 'testkit', 'src', 'wait.ts'))).toBe(false);
  });
});

// The test layers of vitest.config.ts, by file name: a test that starts processes (instances,
// `npm start`, the lab, a server it may stop or freeze) is `*.e2e.test.ts`; one that uses the
// shared Redis and databases of the setup (`inject`) is `*.integration.test.ts` or e2e; the rest
// are unit tests, which run with no services and no build.
const STARTS_PROCESSES =
  /\b(startInstances?|startCluster|runLab|runLabCommand|startRedisServer|startRedisCluster|startPostgresServer|startDatabaseServer|startPgBouncer|runNodeScript)\(/;
const USES_SERVICES = /\binject\(|\b(cacheFixture|redisClient)\(/;
/** The shared Redis Cluster, which only the e2e project's setup starts. */
const USES_SHARED_CLUSTER = /\binject\(\s*['"]redisClusterNodes['"]\s*\)/;
/** A Redis Cluster of the test's own: each call says why the shared one would not do. */
const STARTS_OWN_CLUSTER = /\bstartRedisCluster\(/g;
const OWN_CLUSTER_REASON = /^\s*\/\/ Own Redis Cluster \(not the shared one\): \S/gm;

/** The layer a test file's name puts it in. */
function layerOf(file: string): 'unit' | 'integration' | 'e2e' {
  if (file.endsWith('.e2e.test.ts')) return 'e2e';
  if (file.endsWith('.integration.test.ts')) return 'integration';
  return 'unit';
}

describe('test layers', () => {
  const tests = ['test', ...readdirSync(join(ROOT, 'packages')).map((name) => `packages/${name}`)]
    .flatMap((dir) => sources(dir))
    // This file names the helpers it looks for.
    .filter((file) => file.endsWith('.test.ts') && file !== 'test/layout.test.ts');

  it('names every test after what it needs: processes e2e, the shared services integration', () => {
    const misnamed: string[] = [];
    for (const file of tests) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const layer = layerOf(file);
      if (STARTS_PROCESSES.test(text) && layer !== 'e2e')
        misnamed.push(`${file}: starts processes`);
      else if (USES_SERVICES.test(text) && layer === 'unit')
        misnamed.push(`${file}: uses services`);
    }
    expect(tests.length).toBeGreaterThan(60);
    expect(misnamed).toEqual([]);
  });

  it('keeps the shared Redis Cluster to e2e, and says why a test starts a cluster of its own', () => {
    const offending: string[] = [];
    for (const file of tests) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      if (USES_SHARED_CLUSTER.test(text) && layerOf(file) !== 'e2e') {
        offending.push(`${file}: uses the shared Redis Cluster, which only e2e tests get`);
      }
      const calls = text.match(STARTS_OWN_CLUSTER)?.length ?? 0;
      const reasons = text.match(OWN_CLUSTER_REASON)?.length ?? 0;
      if (reasons < calls) {
        offending.push(
          `${file}: ${calls} startRedisCluster call(s), ${reasons} "// Own Redis Cluster (not the shared one): why" comment(s)`,
        );
      }
    }
    expect(offending).toEqual([]);
  });

  it('would catch a unit test that starts a process', () => {
    expect(STARTS_PROCESSES.test('const redis = await startRedisServer();')).toBe(true);
    expect(layerOf('packages/cache/test/keys.test.ts')).toBe('unit');
    expect(USES_SERVICES.test("const url = inject('redisUrl');")).toBe(true);
    expect(USES_SHARED_CLUSTER.test("const seeds = inject('redisClusterNodes');")).toBe(true);
    const unexplained = 'beforeAll(async () => {\n  cluster = await startRedisCluster();\n});';
    expect(unexplained.match(STARTS_OWN_CLUSTER)).toHaveLength(1);
    expect(unexplained.match(OWN_CLUSTER_REASON)).toBeNull();
    const explained = `// Own Redis Cluster (not the shared one): it kills a master.\n${unexplained}`;
    expect(explained.match(OWN_CLUSTER_REASON)).toHaveLength(1);
  });
});
