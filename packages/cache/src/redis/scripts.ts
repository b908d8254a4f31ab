import { createHash } from 'node:crypto';

/** A Lua script, run by SHA with a fallback to its text when Redis does not know it yet. */
export interface Script {
  readonly text: string;
  readonly sha: string;
}

function script(text: string): Script {
  return { text, sha: createHash('sha1').update(text).digest('hex') };
}

// Versions travel as decimal strings and are compared as strings (longer is greater, then
// lexicographic), so versions beyond 2^53 compare right although Lua numbers are doubles.
const GREATER = 'local function gt(a, b) return #a > #b or (#a == #b and a > b) end\n';

/**
 * Reads the pointer and the data entry it points to, in one round trip.
 * KEYS[1] pointer; ARGV[1] data key prefix (same hash slot as the pointer).
 * Returns nil (no pointer), {version} (pointer without data) or {version, payload}.
 */
export const READ = script(`
local version = redis.call('GET', KEYS[1])
if not version then return nil end
local payload = redis.call('GET', ARGV[1] .. version)
if not payload then return {version} end
return {version, payload}
`);

/**
 * Stores the data entry of a version and moves the pointer to it only if it is newer: a stale
 * filler can neither move the pointer back nor make a newer version unreachable. Publishes the
 * message when one is given (the write path), in the same round trip.
 * KEYS[1] pointer; ARGV[1] data key prefix, ARGV[2] version, ARGV[3] payload, ARGV[4] TTL (ms),
 * ARGV[5] channel and ARGV[6] message (optional).
 * Returns {outcome, receivers}: outcome 1 moved, 0 already current (entry refreshed), -1 stale.
 */
export const FILL = script(`${GREATER}
local current = redis.call('GET', KEYS[1])
local outcome = -1
if not current or gt(ARGV[2], current) then
  redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3], 'PX', ARGV[4])
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
  -- Readers fetch pointer and data atomically, so the superseded entry is garbage now.
  if current then redis.call('DEL', ARGV[1] .. current) end
  outcome = 1
elseif current == ARGV[2] then
  redis.call('SET', ARGV[1] .. ARGV[2], ARGV[3], 'PX', ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  outcome = 0
end
local receivers = 0
if ARGV[6] then receivers = redis.call('PUBLISH', ARGV[5], ARGV[6]) end
return {outcome, receivers}
`);
