-- RELEASE_LEASE: gives a lease back, only if this holder still has it (it may have expired and
-- been taken by another).
--
-- KEYS[1]  the lease, e.g. cl:{user:42}:lease
-- ARGV[1]  the holder token given to TAKE_LEASE
--
-- Returns 1 when released, 0 otherwise.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
