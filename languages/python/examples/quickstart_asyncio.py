"""The asyncio example of languages/python/README.md ("Use"), shown from the region below: the
same cache over redis.asyncio, with an async loader.

    REDIS_URL=redis://127.0.0.1:6379 python languages/python/examples/quickstart_asyncio.py

tests/library/test_readme.py runs it against a fresh redis-server and expects the output the
README shows.
"""

# #region tutorial:readme-asyncio
import asyncio
import os
from typing import Any

import redis.asyncio

import cachelab.asyncio
from cachelab import CacheOptions, Loaded

db: dict[str, dict[str, Any]] = {"7": {"name": "Lin", "version": 1}}  # the stand-in database


async def load_user(key: str) -> Loaded[dict[str, Any]]:
    row = db.get(key.removeprefix("user:"))  # an async database driver would be awaited here
    return Loaded(None, 0) if row is None else Loaded({"name": row["name"]}, row["version"])


async def main() -> None:
    client = redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    await client.ping()  # fail here if there is no Redis
    async with cachelab.asyncio.Cache[dict[str, Any]](client, CacheOptions()) as cache:
        if not await cache.wait_until_trusted(5):
            raise SystemExit("no heartbeat came back from Redis")
        read = await cache.get_or_load("user:7", load_user)
        print(read.tier, read.version, read.value)
        hit = cache.get_local("user:7")  # an L1 hit without awaiting anything, or None
        print(hit and (hit.tier, hit.version, hit.value))
    await client.aclose()


asyncio.run(main())
# #endregion tutorial:readme-asyncio
