import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Copies the protocol's Lua scripts (`protocol/scripts/*.lua`, one copy for every implementation)
 * into `packages/cache/dist/lua/`, where the built `@cachelab/cache` reads them: the package must
 * carry them, and npm packs only files inside it. Returns the names copied.
 */
export function copyLuaScripts(root: string): string[] {
  const from = join(root, 'protocol', 'scripts');
  const to = join(root, 'packages', 'cache', 'dist', 'lua');
  mkdirSync(to, { recursive: true });
  const names = readdirSync(from).filter((name) => name.endsWith('.lua'));
  for (const name of names) copyFileSync(join(from, name), join(to, name));
  return names;
}
