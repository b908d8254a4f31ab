import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { copyLuaScripts } from '../../scripts/build/copy-lua.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Builds the packages' `dist/` (`npm run build`: tsc, nothing to do when it is up to date, then
 * the protocol's Lua scripts copied into the library's), once before any test: tests import the
 * sources, but `npm start`'s cluster (test/cluster.e2e.test.ts), the bench's compiled instance and
 * the packed library (test/package-install.e2e.test.ts) run the compiled JavaScript, and test files
 * must not build it concurrently. A type error is reported, not
 * thrown: tsc still emits, and the tests of the sources run as they would without a build.
 */
export default async function buildPackages(): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const args = [tsc, '-b', 'packages/cache', 'packages/store', 'packages/app'];
  await promisify(execFile)(process.execPath, args, { cwd: ROOT }).catch((error) => {
    console.warn(`npm run build failed (tests of dist/ may fail):\n${error.stdout}${error.stderr}`);
  });
  // The rest of `npm run build`: the protocol's Lua scripts next to the compiled library.
  copyLuaScripts(ROOT);
}
