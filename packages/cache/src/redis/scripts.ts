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
 * KEYS[1] pointer; ARGV[1] data key prefix. The data key depends on the version read, so it is
 * built here rather than passed in KEYS; its hash tag puts it in the pointer's slot.
 * Returns nil (no pointer), {version} (pointer without data) or {version, payload}.
 */
// #region tutorial:read
export const READ = script(`
local version = redis.call('GET', KEYS[1])
if not version then return nil end
local payload = redis.call('GET', ARGV[1] .. version)
if not payload then return {version} end
return {version, payload}
`);
// #endregion tutorial:read

/**
 * Stores the data entry of a version and moves the pointer to it only if it is newer: a stale
 * filler can neither move the pointer back nor make a newer version unreachable. The pointer
 * outlives the data (`ARGV[4]`, longer than the data TTL `ARGV[3]`), so that a fill from a reader
 * that read the database long ago still finds the newer version once its data has expired.
 * KEYS[1] pointer, KEYS[2] data entry of this version; ARGV[1] data key prefix, ARGV[2] version,
 * ARGV[3] data TTL (ms), ARGV[4] pointer TTL (ms), ARGV[5] payload, ARGV[6] channel ('': the
 * caller publishes), ARGV[7]
 * message, ARGV[8] 'always' (a write) or 'advanced' (a read: only when it moved an existing pointer
 * forward, which means the write that made this version was never announced).
 * Returns {outcome, published}: published 1 when the announcement is (to be) sent; outcome 1 moved, 0 already current (entry refreshed), -1 stale.
 */
// #region tutorial:fill
export const FILL = script(`${GREATER}
local current = redis.call('GET', KEYS[1])
-- A pointer this cache did not write is treated as absent.
if current and not string.match(current, '^%d+$') then current = false end
local outcome = -1
if not current or gt(ARGV[2], current) then
  redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[3])
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
  -- Readers fetch pointer and data atomically, so the superseded entry is garbage now.
  -- (Its key is built here, not passed in KEYS: it has the same hash tag, hence the same slot.)
  if current then redis.call('DEL', ARGV[1] .. current) end
  outcome = 1
elseif current == ARGV[2] then
  redis.call('SET', KEYS[2], ARGV[5], 'PX', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  outcome = 0
end
local published = 0
if ARGV[8] == 'always' or (ARGV[8] == 'advanced' and outcome == 1 and current) then
  -- No channel: the caller publishes (sharded Pub/Sub: the channel is in another slot).
  if ARGV[6] ~= '' then redis.call('PUBLISH', ARGV[6], ARGV[7]) end
  published = 1
end
return {outcome, published}
`);
// #endregion tutorial:fill

/**
 * Announces a version committed elsewhere (an outbox row relayed from the database) without its
 * value: moves the pointer forward if newer, drops the superseded data entry, and publishes the
 * invalidation unless the pointer is already past this version (whose own announcement then
 * covers it). The next read finds a pointer without data and loads the row from the database.
 * KEYS[1] pointer; ARGV[1] data key prefix, ARGV[2] version, ARGV[3] pointer TTL (ms), ARGV[4]
 * channel, ARGV[5] message. Returns 1 moved, 0 already current, -1 stale (nothing published).
 */
export const ANNOUNCE = script(`${GREATER}
local current = redis.call('GET', KEYS[1])
if current and not string.match(current, '^%d+$') then current = false end
if current and not gt(ARGV[2], current) then
  if current ~= ARGV[2] then return -1 end
  if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if current then redis.call('DEL', ARGV[1] .. current) end
if ARGV[4] ~= '' then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return 1
`);

/**
 * {@link ANNOUNCE} for many keys in one script (one round trip for a relayed batch), each exactly
 * as ANNOUNCE does it; only where every key may be in one script (not Redis Cluster).
 * KEYS[i] pointer of entry i; ARGV[1] pointer TTL (ms), ARGV[2] channel; entry i's data key
 * prefix, version and message are ARGV[3i], ARGV[3i+1], ARGV[3i+2].
 * Returns the outcome of each entry, in order: 1 moved, 0 already current, -1 stale.
 */
export const ANNOUNCE_MANY = script(`${GREATER}
local outcomes = {}
for i = 1, #KEYS do
  local prefix, version, message = ARGV[3 * i], ARGV[3 * i + 1], ARGV[3 * i + 2]
  local current = redis.call('GET', KEYS[i])
  if current and not string.match(current, '^%d+$') then current = false end
  if current and not gt(version, current) then
    if current ~= version then
      outcomes[i] = -1
    else
      if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], message) end
      outcomes[i] = 0
    end
  else
    redis.call('SET', KEYS[i], version, 'PX', ARGV[1])
    if current then redis.call('DEL', prefix .. current) end
    if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], message) end
    outcomes[i] = 1
  end
end
return outcomes
`);

/**
 * Takes the load lease of a key if nobody holds it (memcache-style leases: one loader per key for
 * the whole cluster). KEYS[1] lease; ARGV[1] holder token, ARGV[2] lease time (ms).
 * Returns 1 when taken, 0 when another holder has it.
 */
export const TAKE_LEASE = script(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
`);

/**
 * Gives a lease back, only if this holder still has it (it may have expired and been taken by
 * another). KEYS[1] lease; ARGV[1] holder token. Returns 1 when released.
 */
export const RELEASE_LEASE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);
