import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';

/**
 * Builds the packages' `dist/` (`tsc -b` of `projects`, as `npm run build` does; nothing to do
 * when it is up to date), once before any test: tests import the sources, but `npm start`'s
 * cluster (test/cluster.e2e.test.ts), the bench's compiled instance and the packed library
 * (test/package-install.test.ts) run the compiled JavaScript, and test files must not build it
 * concurrently. A failed build fails the run, with tsc's output: tsc still emits on a type
 * error, so the tests of `dist/` would otherwise run against code that does not type-check, and
 * the one line saying so would scroll away.
 *
 * @throws {Error} `npm run build failed:` and what tsc printed.
 */
export async function buildPackages(root: string, projects: string[]): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-b', ...projects], { cwd: root });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed:\n${stdout}${stderr}`, { cause: error });
  }
}
