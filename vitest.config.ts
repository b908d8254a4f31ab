import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import the sources, not a build: every `@cachelab/*` import resolves to its `src/` file
// through the `paths` of the root tsconfig.json, the same map tsx uses for the scripts (published
// consumers get `dist/` through each package's `exports`; test/source-resolution.test.ts keeps
// the two in step). Exact matches only, so that `@cachelab/store` does not also catch
// `@cachelab/store/embedded`.
const tsconfig = JSON.parse(readFileSync(new URL('tsconfig.json', import.meta.url), 'utf8')) as {
  compilerOptions: { paths: Record<string, [string]> };
};
const alias = Object.entries(tsconfig.compilerOptions.paths).map(([name, [path]]) => ({
  find: new RegExp(`^${name.replaceAll('/', '\\/')}$`),
  replacement: fileURLToPath(new URL(path, import.meta.url)),
}));

const E2E = '**/*.e2e.test.ts';
const INTEGRATION = '**/*.integration.test.ts';
const TESTS = ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'];

// Three projects, one per layer (docs/development.md): `npm test` runs them all, and each has its
// own script. `unit`: no services and no build, in seconds. `integration`: the shared redis-server
// and databases of test/setup/services.ts. `e2e`: processes (instances, `npm start`, the lab, the
// bench, Redis and database processes a test stops or freezes), on the packages' `dist/` built by
// test/setup/build.ts first, with the same services and a shared Redis Cluster besides.
export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: TESTS, exclude: [E2E, INTEGRATION, '**/node_modules/**'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: TESTS.map((glob) => glob.replace('*.test.ts', '*.integration.test.ts')),
          globalSetup: ['test/setup/services.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: TESTS.map((glob) => glob.replace('*.test.ts', '*.e2e.test.ts')),
          globalSetup: ['test/setup/build.ts', 'test/setup/services-e2e.ts'],
        },
      },
    ],
  },
});
