"""redis-py's own server-assisted client-side caching (RESP3, ``CacheConfig``), measured like
bench/l1_hit.py: ns per ``get`` of a cached key, and how long after another connection's ``SET``
returns the tracked client stops answering the old value (Redis pushes the invalidation; redis-py
reads it before its next command). The writer is a plain connection of this same process.

    python bench/client_side_cache.py '{"redisUrl": "redis://…", "iterations": 200000,
                                         "runs": 7, "writes": 200}'

Prints one JSON line: ``{"applicable": false, "reason": ...}`` when this redis-py or this Redis
does not offer it (redis-py 8 asks for Redis 7.4 or later), else ``{"applicable": true,
"nsPerHit": [...], "fromWriteReturnMs": [...], "lost": n, "runtime": ...}``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from typing import Any

import redis

#: A write not seen by the tracked client within this long counts as lost (s).
BOUND_S = 2.0


def tracked_client(url: str) -> redis.Redis:
    # Imported here: redis-py 5.0 (which cachelab accepts) has no redis.cache, and says so.
    from redis.cache import CacheConfig  # noqa: PLC0415

    return redis.Redis.from_url(url, protocol=3, cache_config=CacheConfig(max_size=1000))


def main() -> None:
    settings: dict[str, Any] = json.loads(sys.argv[1])
    url = settings["redisUrl"]
    key = f"bench-csc-{os.getpid()}"
    runtime = f"{platform.python_implementation()} {platform.python_version()}"
    runtime += f", redis-py {redis.__version__}"
    plain = redis.Redis.from_url(url)
    plain.set(key, "0")
    try:
        tracked = tracked_client(url)
        tracked.get(key)
    except (ImportError, redis.RedisError) as error:
        plain.close()
        print(json.dumps({"applicable": False, "reason": str(error), "runtime": runtime}))
        return
    iterations, runs = int(settings["iterations"]), int(settings["runs"])
    hits: list[float] = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        for _ in range(iterations):
            tracked.get(key)
        hits.append((time.perf_counter_ns() - started) / iterations)
    delays, lost = [], 0
    for version in range(1, int(settings["writes"]) + 1):
        tracked.get(key)  # cached again (the previous write's invalidation emptied it)
        plain.set(key, str(version))
        returned = time.perf_counter_ns()
        while tracked.get(key) != str(version).encode():
            if time.perf_counter_ns() - returned > BOUND_S * 1e9:
                lost += 1
                break
        else:
            delays.append((time.perf_counter_ns() - returned) / 1e6)
    tracked.close()
    plain.delete(key)
    plain.close()
    result = {"applicable": True, "nsPerHit": hits, "fromWriteReturnMs": delays, "lost": lost}
    print(json.dumps({**result, "runtime": runtime}))


if __name__ == "__main__":
    main()
