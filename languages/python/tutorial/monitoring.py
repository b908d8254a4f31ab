"""Chapter 6: hit/miss counters, hit ratio, and times with and without the cache."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cache_aside import UserCache


# #region tutorial:pass
@dataclass
class PassReport:
    """One pass over a list of users: tiers, hit ratio, median time."""

    label: str
    hits: int
    misses: int
    median_ms: float

    @property
    def hit_ratio(self) -> float:
        reads = self.hits + self.misses
        return self.hits / reads if reads else 0.0


def timed_pass(label: str, read: Callable[[str], Any], ids: Iterable[str]) -> PassReport:
    """Reads every id once, timing each read on the monotonic clock."""
    times, hits, misses = [], 0, 0
    for user_id in ids:
        started = time.perf_counter()
        _, tier = read(user_id)
        times.append((time.perf_counter() - started) * 1000)
        hits, misses = hits + (tier == "HIT"), misses + (tier != "HIT")
    return PassReport(label, hits, misses, statistics.median(times))


# #endregion tutorial:pass


# #region tutorial:cold-warm
def cold_warm_flush(cache: UserCache, ids: list[str]) -> list[PassReport]:
    """Cold cache, warm cache, the database alone, then flushed and cold again."""
    no_cache = lambda user_id: (cache.source.get(user_id), "MISS")  # noqa: E731
    reports = [
        timed_pass("cold", cache.get_user, ids),
        timed_pass("warm", cache.get_user, ids),
        timed_pass("no cache", no_cache, ids),
    ]
    for key in cache.r.scan_iter(match="tut:{user:*", count=500):
        cache.r.unlink(key)  # only the tutorial's keys, never FLUSHALL
    reports.append(timed_pass("flushed", cache.get_user, ids))
    return reports


# #endregion tutorial:cold-warm


def main() -> None:
    from connect import Settings, connect
    from slow_source import SlowUserSource

    settings = Settings.from_env()
    cache = UserCache(connect(settings), SlowUserSource(latency_s=settings.db_latency_s))
    ids = [str(i) for i in range(101, 151)]
    cache.r.delete(*(cache.key(user_id) for user_id in ids))  # start cold, however often it runs
    for report in cold_warm_flush(cache, ids):
        print(
            f"{report.label:9} hit ratio {report.hit_ratio:6.1%}  median {report.median_ms:.1f} ms"
        )
    c = cache.counters
    print(
        f"counters: hits={c.hits} misses={c.misses} loads={c.loads} queries={cache.source.queries}"
    )


if __name__ == "__main__":
    main()
