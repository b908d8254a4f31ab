/**
 * `npm run build` (and `npm pack -w @cachelab/cache`) runs this after `tsc -b`: the Lua scripts of
 * protocol/scripts/ into packages/cache/dist/lua/, which the package ships.
 *
 *   node --import tsx scripts/copy-lua.ts
 */
import { fileURLToPath } from 'node:url';
import { copyLuaScripts } from './build/copy-lua.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
// Silent, like tsc: `npm pack --json` runs it and its stdout must stay JSON.
copyLuaScripts(root);
