-- ANNOUNCE: announces a version committed elsewhere (an outbox row relayed from the database)
-- without its value: moves the pointer forward if newer, drops the superseded data entry, and
-- publishes the invalidation unless the pointer is already past this version (whose own
-- announcement then covers it). The next read finds a pointer without data and loads the row.
--
-- KEYS[1]  the version pointer, e.g. cl:{user:42}:ver
-- ARGV[1]  the data key prefix, e.g. cl:{user:42}:v:
-- ARGV[2]  the version, a decimal string
-- ARGV[3]  the pointer TTL (ms)
-- ARGV[4]  the channel to PUBLISH on ('': the caller publishes)
-- ARGV[5]  the message to publish
--
-- Returns 1 moved, 0 already current (published again), -1 stale (nothing published).
local function gt(a, b) return #a > #b or (#a == #b and a > b) end
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
