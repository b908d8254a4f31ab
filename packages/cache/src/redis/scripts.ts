import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

/** A Lua script, run by SHA with a fallback to its text when Redis does not know it yet. */
export interface Script {
  /** The file it was read from, e.g. `fill.lua`. */
  readonly name: string;
  readonly text: string;
  readonly sha: string;
}

// The scripts are the protocol's (protocol/scripts/*.lua, documented in protocol/SPEC.md), one
// copy shared by every implementation. The built package carries a copy in dist/lua/ (made by
// `npm run build` and `npm pack`); run from the sources, or from a dist/ built without the copy
// inside this repository, the protocol's own directory is used (both are four levels below it).
const PACKAGED = new URL('../lua/', import.meta.url);
const REPOSITORY = new URL('../../../../protocol/scripts/', import.meta.url);
const DIRECTORY = existsSync(new URL('read.lua', PACKAGED)) ? PACKAGED : REPOSITORY;

/** Reads the script `name` (`read.lua`) of the protocol. */
export function loadScript(name: string): Script {
  const text = readFileSync(new URL(name, DIRECTORY), 'utf8');
  return { name, text, sha: createHash('sha1').update(text).digest('hex') };
}

/** Reads the pointer and the data entry it points to, in one round trip (`read.lua`). */
export const READ = loadScript('read.lua');

/**
 * Stores a version's data entry and moves the pointer to it only if newer, publishing the
 * announcement in the same script as told (`fill.lua`).
 */
export const FILL = loadScript('fill.lua');

/** Moves the pointer forward to a version known without its value, and announces it (`announce.lua`). */
export const ANNOUNCE = loadScript('announce.lua');

/** {@link ANNOUNCE} for many keys in one script; not for Redis Cluster (`announce-many.lua`). */
export const ANNOUNCE_MANY = loadScript('announce-many.lua');

/** Takes a key's load lease if nobody holds it (`take-lease.lua`). */
export const TAKE_LEASE = loadScript('take-lease.lua');

/** Gives a load lease back if this holder still has it (`release-lease.lua`). */
export const RELEASE_LEASE = loadScript('release-lease.lua');
