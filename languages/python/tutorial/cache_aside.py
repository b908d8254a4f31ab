"""Chapter 3: basic cache-aside — check Redis, return a hit, load a miss, store it with a TTL.

Redis is the only cache tier here: no in-process cache, no versions (chapter 4 adds them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from slow_source import SlowUserSource, User


@dataclass
class Counters:
    """What chapter 6 reads: where each read was answered."""

    hits: int = 0
    misses: int = 0
    loads: int = 0


# #region tutorial:single-flight
class SingleFlight:
    """Concurrent misses of one key share one load (threads wait for the first one's result)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, tuple[threading.Event, list[Any]]] = {}

    def run(self, key: str, load: Callable[[], Any]) -> Any:
        with self._lock:
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = (threading.Event(), [])
                self._flights[key] = flight
        done, result = flight
        if not leader:
            done.wait()
            if not result:
                raise RuntimeError(f"the shared load of {key} failed")
            return result[0]
        try:
            result.append(load())
            return result[0]
        finally:
            with self._lock:
                del self._flights[key]
            done.set()


# #endregion tutorial:single-flight


class UserCache:
    """Cache-aside for users in front of a :class:`SlowUserSource`."""

    def __init__(
        self, r: redis.Redis, source: SlowUserSource, ttl_s: int = 60, negative_ttl_s: int = 5
    ) -> None:
        self.r = r
        self.source = source
        self.ttl_s = ttl_s
        self.negative_ttl_s = negative_ttl_s
        self.counters = Counters()
        self.flights = SingleFlight()

    @staticmethod
    def key(user_id: str) -> str:
        # The hash tag ({…}) keeps every key of one user in one Redis Cluster slot.
        return f"tut:{{user:{user_id}}}:val"

    # #region tutorial:basic-read
    def get_user(self, user_id: str) -> tuple[dict[str, Any] | None, str]:
        """The user (None: not found) and the tier that answered: "HIT" or "MISS"."""
        cached = self.r.get(self.key(user_id))  # 1. check the cache
        if cached is not None:  # 2. hit: return it
            self.counters.hits += 1
            return json.loads(cached), "HIT"
        self.counters.misses += 1  # 3. miss: load from the source of truth, once
        user = self.flights.run(user_id, lambda: self._load(user_id))
        return user, "MISS"  # 5. return it

    def _load(self, user_id: str) -> dict[str, Any] | None:
        self.counters.loads += 1
        row = self.source.get(user_id)
        user = asdict(row) if row and not row.deleted else None
        # 4. store it with a TTL; "not found" too (as JSON null), but briefly
        ttl = self.ttl_s if user is not None else self.negative_ttl_s
        self.r.set(self.key(user_id), json.dumps(user), ex=ttl)
        return user

    # #endregion tutorial:basic-read

    # #region tutorial:delete-on-write
    def put_user(self, user_id: str, name: str, email: str) -> User:
        """The database first; only once it committed, remove the cached copy."""
        row = self.source.put(user_id, name, email)
        self.r.delete(self.key(user_id))
        return row

    # #endregion tutorial:delete-on-write


def main() -> None:
    from connect import Settings, connect

    settings = Settings.from_env()
    cache = UserCache(connect(settings), SlowUserSource(latency_s=settings.db_latency_s))
    cache.r.delete(cache.key("42"), cache.key("nobody"))  # start cold, however often it runs
    for user_id in ["42", "42", "nobody", "nobody"]:
        user, tier = cache.get_user(user_id)
        print(user_id, tier, user and user["version"])


if __name__ == "__main__":
    main()
