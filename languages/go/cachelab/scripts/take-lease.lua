-- TAKE_LEASE: takes the load lease of a key if nobody holds it (memcache-style leases: one loader
-- per key for the whole cluster).
--
-- KEYS[1]  the lease, e.g. cl:{user:42}:lease
-- ARGV[1]  the holder token (unique per load attempt)
-- ARGV[2]  the lease time (ms)
--
-- Returns 1 when taken, 0 when another holder has it.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
