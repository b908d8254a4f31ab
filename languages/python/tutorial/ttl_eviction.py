"""Chapter 5: TTL on every entry (with jitter), and what Redis does when maxmemory is reached."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import redis


# #region tutorial:jitter
def jittered_ttl_ms(ttl_ms: int, jitter: float = 0.1) -> int:
    """Cut each TTL by a random part of up to `jitter` of it, so that entries filled together
    do not expire together; the TTL you set stays an upper bound."""
    return ttl_ms - int(random.random() * jitter * ttl_ms)


# #endregion tutorial:jitter


@dataclass
class EvictionReport:
    policy: str
    written: int
    evicted: int  # INFO stats evicted_keys, during this run
    hot_kept: int  # how many of the hot keys, read all along, are still in Redis
    hot: int


# #region tutorial:eviction
def fill_until_evicting(
    r: redis.Redis, policy: str, cold: int = 5_000, hot: int = 50
) -> EvictionReport:
    """Fills Redis with cold keys and a few hot ones, caps memory at what that uses, reads the hot
    keys, then writes 2,000 more keys: Redis must evict to make room for each."""
    r.config_set("maxmemory", 0)  # no cap while filling
    r.config_set("maxmemory-policy", policy)
    value = "x" * 200
    hot_keys = [f"tut:{{hot:{i}}}" for i in range(hot)]
    with r.pipeline(transaction=False) as pipe:
        for i in range(cold):
            pipe.set(f"tut:{{cold:{i}}}", value, px=jittered_ttl_ms(600_000))
        for key in hot_keys:
            pipe.set(key, value, px=jittered_ttl_ms(600_000))
        pipe.execute()
    # Redis's LRU clock ticks once a second: let the cold keys grow a second older than the reads.
    wait_for_lru_tick(r)
    for _ in range(20):
        r.mget(hot_keys)  # read often and recently: what LRU and LFU both keep
    r.config_set("maxmemory", int(r.info("memory")["used_memory"]))
    evicted_before = int(r.info("stats")["evicted_keys"])
    with r.pipeline(transaction=False) as pipe:
        for i in range(2_000):
            pipe.set(f"tut:{{new:{i}}}", value, px=jittered_ttl_ms(600_000))
        pipe.execute()
    evicted = int(r.info("stats")["evicted_keys"]) - evicted_before
    kept = sum(1 for v in r.mget(hot_keys) if v is not None)
    return EvictionReport(policy, cold + hot + 2_000, evicted, kept, hot)


# #endregion tutorial:eviction


def wait_for_lru_tick(r: redis.Redis, timeout_s: float = 5.0) -> None:
    """Polls INFO's lru_clock (seconds) until it has moved on twice, at most `timeout_s`."""
    start = int(r.info("server")["lru_clock"])
    deadline = time.monotonic() + timeout_s
    while int(r.info("server")["lru_clock"]) < start + 2:
        if time.monotonic() > deadline:
            raise TimeoutError("Redis's LRU clock did not move")
        time.sleep(0.05)  # a poll interval, bounded by the deadline above


def main() -> None:
    from connect import Settings

    # Reconfigures and fills the Redis it is given: never point it at a Redis that matters.
    r = redis.Redis.from_url(Settings.from_env().redis_url, decode_responses=True)
    for policy in ["allkeys-lru", "allkeys-lfu", "allkeys-random"]:
        r.flushdb()
        print(fill_until_evicting(r, policy))


if __name__ == "__main__":
    main()
