-- FILL: stores the data entry of a version and moves the pointer to it only if it is newer, so
-- that a stale filler can neither move the pointer back nor make a newer version unreachable.
-- The pointer outlives the data (ARGV[4], longer than the data TTL ARGV[3]), so that a fill from
-- a reader that read the database long ago still finds the newer version once its data expired.
--
-- KEYS[1]  the version pointer, e.g. cl:{user:42}:ver
-- KEYS[2]  the data entry of this version, e.g. cl:{user:42}:v:7
-- ARGV[1]  the data key prefix, e.g. cl:{user:42}:v:
-- ARGV[2]  the version, a decimal string
-- ARGV[3]  the data TTL (ms)
-- ARGV[4]  the pointer TTL (ms)
-- ARGV[5]  the payload (the value as JSON)
-- ARGV[6]  the channel to PUBLISH on ('': the caller publishes, e.g. SPUBLISH with Redis Cluster)
-- ARGV[7]  the message to publish
-- ARGV[8]  'always' (a write) or 'advanced' (a read: publish only when this fill moved an
--          existing pointer forward, which means the write that made this version was never
--          announced)
--
-- Returns {outcome, published}: outcome 1 moved, 0 already current (entry refreshed), -1 stale;
-- published 1 when the announcement is (to be) sent.
-- Versions are decimal strings compared as strings (longer is greater, then lexicographic), so
-- that versions beyond 2^53 compare right although Lua numbers are doubles.
-- #region tutorial:fill
local function gt(a, b) return #a > #b or (#a == #b and a > b) end
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
-- #endregion tutorial:fill
