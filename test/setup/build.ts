import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { copyLuaScripts } from '../../scripts/build/copy-lua.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Runs `tsc -b` on `projects` in `root`. A failed build fails the run, with tsc's output: tsc still
 * emits on a type error, so the tests of `dist/` would otherwise run against code that does not
 * type-check, and the one line saying so would scroll away.
 *
 * @throws {Error} `npm run build failed:` and what tsc printed.
 */
export async function buildProjects(root: string, projects: string[]): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    await promisify(execFile)(process.execPath, [tsc, '-b', ...projects], { cwd: root });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm run build failed:\n${stdout}${stderr}`, { cause: error });
  }
}

/**
 * Builds the packages' `dist/` (`npm run build`: tsc, nothing to do when it is up to date, then
 * the protocol's Lua scripts copied into the library's), once before any test: tests import the
 * sources, but `npm start`'s cluster (test/cluster.e2e.test.ts), the bench's compiled instance and
 * the packed library (test/package-install.e2e.test.ts) run the compiled JavaScript, and test files
 * must not build it concurrently. A type error fails the run ({@link buildProjects}).
 */
export default async function buildPackages(): Promise<void> {
  await buildProjects(ROOT, ['packages/cache', 'packages/store', 'packages/app']);
  // The rest of `npm run build`: the protocol's Lua scripts next to the compiled library.
  copyLuaScripts(ROOT);
}
