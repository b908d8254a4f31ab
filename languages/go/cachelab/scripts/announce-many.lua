-- ANNOUNCE_MANY: ANNOUNCE for many keys in one script (one round trip for a relayed batch), each
-- exactly as ANNOUNCE does it; only where every key may be in one script (not Redis Cluster).
--
-- KEYS[i]     the version pointer of entry i
-- ARGV[1]     the pointer TTL (ms)
-- ARGV[2]     the channel to PUBLISH on ('': nothing is published)
-- ARGV[3i]    entry i's data key prefix
-- ARGV[3i+1]  entry i's version, a decimal string
-- ARGV[3i+2]  entry i's message
--
-- Returns the outcome of each entry, in order: 1 moved, 0 already current, -1 stale.
local function gt(a, b) return #a > #b or (#a == #b and a > b) end
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
