"""Two cache instances over one Redis: A writes through, B reads the new version once A's
invalidation has reached it (the Python twin of packages/cache/examples/two-instances.js).

    REDIS_URL=redis://127.0.0.1:6379 python two_instances.py

Prints one JSON line per read (MISS at version 1, then L2 at version 2) and exits 0.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import redis

from cachelab import Cache, CacheOptions, CacheRead, Loaded

# The source of truth: every write bumps the row's version (a database does it in the UPDATE).
rows: dict[str, Loaded[Any]] = {"user:42": Loaded({"name": "Ada"}, 1)}


def loader(key: str) -> Loaded[Any]:
    return rows.get(key, Loaded(None, 0))


def show(read: CacheRead[Any]) -> None:
    print(json.dumps({"value": read.value, "version": read.version, "tier": read.tier}))


def main() -> None:
    client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    arrived = threading.Event()
    # An instance is usually one per process; both share the client's pool here.
    a: Cache[Any] = Cache(client, CacheOptions(origin="a"))
    b: Cache[Any] = Cache(client, CacheOptions(origin="b", on_propagated=lambda _ms: arrived.set()))
    with a, b:
        if not (a.wait_until_trusted(10) and b.wait_until_trusted(10)):
            raise SystemExit("the instances never heard their own heartbeats")
        show(b.get_or_load("user:42", loader))  # tier MISS, version 1
        # A writes: the source of truth first, then the cache (Redis, A's L1, B's announcement).
        written = Loaded({"name": "Grace"}, 2)
        rows["user:42"] = written
        a.set("user:42", written)
        if not arrived.wait(10):  # B heard of version 2 and dropped its version 1
            raise SystemExit("no invalidation reached B")
        show(b.get_or_load("user:42", loader))  # tier L2, version 2
    client.close()


if __name__ == "__main__":
    main()
