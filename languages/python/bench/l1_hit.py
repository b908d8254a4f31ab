"""What an L1 hit costs in process, in Python: ns per ``cache.get_or_load`` (the sync API) on a
warm key, next to a plain ``dict.get``, in alternating runs in one process (the twin of
packages/lab/src/bench/workers/l1.ts). Redis only brings the invalidation bus to trust; the
measured loop never leaves the process.

    python bench/l1_hit.py '{"redisUrl": "redis://…", "iterations": 200000, "runs": 7}'

Prints one JSON line: ``{"nsPerHit": [...], "nsPerDictGet": [...], "l1Hits": n, "runtime": ...}``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import redis

from cachelab import Cache, CacheOptions, Loaded

USER = {"name": "Ada"}


def loader(_key: str) -> Loaded[Any]:
    return Loaded(USER, 1)


def ns_per_op(run: Callable[[], object], iterations: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(iterations):
        run()
    return (time.perf_counter_ns() - started) / iterations


def main() -> None:
    settings = json.loads(sys.argv[1])
    iterations, runs = int(settings["iterations"]), int(settings["runs"])
    client = redis.Redis.from_url(settings["redisUrl"])
    options = CacheOptions(namespace=f"bench-l1-py-{os.getpid()}")
    with Cache[Any](client, options) as cache:
        if not cache.wait_until_trusted(10):
            raise SystemExit("the invalidation bus never became trusted")
        cache.get_or_load("user:1", loader)
        table = {"user:1": USER}
        hits: list[float] = []
        dict_gets: list[float] = []
        for _ in range(runs):
            dict_gets.append(ns_per_op(lambda: table.get("user:1"), iterations))
            hits.append(ns_per_op(lambda: cache.get_or_load("user:1", loader), iterations))
        l1_hits = int(cache.stats()["l1_hits"])
    client.close()
    # A read that met a moment without trust went to Redis: a few are possible, many are a bug.
    if l1_hits < iterations * runs * 0.99:
        raise SystemExit(f"expected L1 hits only, got {l1_hits} of {iterations * runs}")
    runtime = f"{platform.python_implementation()} {platform.python_version()}"
    print(
        json.dumps(
            {
                "nsPerHit": hits,
                "nsPerDictGet": dict_gets,
                "l1Hits": l1_hits,
                "runtime": f"{runtime}, redis-py {redis.__version__}",
            }
        )
    )


if __name__ == "__main__":
    main()
