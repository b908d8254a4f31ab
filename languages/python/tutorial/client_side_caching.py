"""Chapter 4, the redis-py way: server-assisted client-side caching (RESP3 + CLIENT TRACKING).

redis-py (5.1 and later) can keep its own in-process copy of read replies and have Redis tell it
when a key it read changes. It is a different tool from this tutorial's L1: it caches replies of
commands by key, with no notion of versions or of a database behind Redis.
"""

from __future__ import annotations

import redis
from redis.cache import CacheConfig


# #region tutorial:client-side-cache
def tracked_client(url: str) -> redis.Redis:
    """A client whose GET replies are cached in-process and invalidated by Redis itself."""
    return redis.Redis.from_url(
        url, protocol=3, cache_config=CacheConfig(max_size=1000), decode_responses=True
    )


# #endregion tutorial:client-side-cache


def server_gets(r: redis.Redis) -> int:
    """How many GETs the server has executed so far (INFO commandstats)."""
    stats = r.info("commandstats").get("cmdstat_get", {"calls": 0})
    return int(stats["calls"])


def main() -> None:
    from connect import Settings

    url = Settings.from_env().redis_url
    plain, tracked = redis.Redis.from_url(url, decode_responses=True), tracked_client(url)
    plain.set("tut:csc", "v1")
    before = server_gets(plain)
    print([tracked.get("tut:csc") for _ in range(3)], "server GETs:", server_gets(plain) - before)
    plain.set("tut:csc", "v2")  # Redis pushes an invalidation to the tracking client
    print(tracked.get("tut:csc"))


if __name__ == "__main__":
    main()
