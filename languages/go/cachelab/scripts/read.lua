-- READ: the version pointer and the data entry it points to, in one round trip.
--
-- KEYS[1]  the version pointer, e.g. cl:{user:42}:ver
-- ARGV[1]  the data key prefix, e.g. cl:{user:42}:v: (the data key is the prefix + the version
--          read here, so it cannot be passed in KEYS; its hash tag puts it in the pointer's slot)
--
-- Returns nil (no pointer), {version} (a pointer without its data entry) or {version, payload}.
-- #region tutorial:read
local version = redis.call('GET', KEYS[1])
if not version then return nil end
local payload = redis.call('GET', ARGV[1] .. version)
if not payload then return {version} end
return {version, payload}
-- #endregion tutorial:read
