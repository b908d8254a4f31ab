"""The example of languages/python/README.md ("Use"), shown from the region below: one cache over
one Redis, a stand-in database, a read that misses, a read from L1, a write and a strict read.

    REDIS_URL=redis://127.0.0.1:6379 python languages/python/examples/quickstart.py

tests/library/test_readme.py runs it against a fresh redis-server and expects the output the
README shows.
"""

# #region tutorial:readme
import os
from typing import Any

import redis

from cachelab import Cache, CacheOptions, Loaded

# A stand-in for the database: every row has a version, which each write of the row bumps.
db: dict[str, dict[str, Any]] = {"42": {"name": "Ada", "version": 1}}


def load_user(key: str) -> Loaded[dict[str, Any]]:
    row = db.get(key.removeprefix("user:"))  # value and version from one row read
    return Loaded(None, 0) if row is None else Loaded({"name": row["name"]}, row["version"])


url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")
client = redis.Redis.from_url(url, socket_timeout=2)
client.ping()  # fail here if there is no Redis: the cache itself would only read the database
with Cache[dict[str, Any]](client, CacheOptions(origin="app-1")) as cache:
    if not cache.wait_until_trusted(5):  # L1 serves once the cache has heard its own heartbeat
        raise SystemExit("no heartbeat came back from Redis")
    read = cache.get_or_load("user:42", load_user)  # .value, .version, .tier: L1|L2|MISS
    print(read.tier, read.version, read.value)  # MISS: loaded, now in Redis and in L1
    read = cache.get_or_load("user:42", load_user)
    print(read.tier, read.version, read.value)  # L1: from this process's memory
    db["42"] = {"name": "Grace", "version": 2}  # a write: the database first …
    cache.set("user:42", Loaded({"name": "Grace"}, 2))  # … then Redis, this L1, the others
    read = cache.get_or_load("user:42", load_user, consistency="strict", min_version=2)
    print(read.tier, read.version, read.value)
client.close()
# #endregion tutorial:readme
