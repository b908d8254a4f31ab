"""The asyncio front end: same protocol, coherent with the synchronous one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

import cachelab.asyncio as cl_async
from cachelab import Cache, CacheOptions, Loaded
from fakes import Source
from redis_server import RedisServer, wait_for


def test_an_asyncio_cache_and_a_sync_cache_invalidate_each_other(
    redis_server: RedisServer, namespace: str, make_cache: Callable[..., Cache[Any]]
) -> None:
    source = Source()
    source.write("k", "v1")
    sync_cache = make_cache(origin="sync")

    async def scenario() -> None:
        client = aioredis.Redis(port=redis_server.port, decode_responses=True)
        options = CacheOptions(
            namespace=namespace, origin="async", heartbeat_interval_ms=50, heartbeat_timeout_ms=500
        )
        async with cl_async.Cache[Any](client, options) as cache:
            assert await cache.wait_until_trusted(5)

            async def load(key: str) -> Loaded[Any]:
                return source.load(key)

            assert (await cache.get_or_load("k", load)).tier == "MISS"
            assert (await cache.get_or_load("k", load)).tier == "L1"
            assert cache.get_local("k") is not None
            sync_cache.set("k", source.write("k", "v2"))
            deadline = asyncio.get_running_loop().time() + 5
            while cache.stats()["invalidations_received"] < 1:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.005)  # a poll interval under the deadline above
            read = await cache.get_or_load("k", load)
            assert (read.tier, read.version) == ("L2", 2)
            await cache.set("k", source.write("k", "v3"))
            assert (await cache.get_or_load("k", load)).tier == "L1"
            wait_for(lambda: sync_cache.stats()["invalidations_received"] == 1)
        await client.aclose()

    asyncio.run(scenario())
    assert sync_cache.get_or_load("k", source.load).version == 3


def test_asyncio_concurrent_misses_share_one_load_and_strict_reads_confirm(
    redis_server: RedisServer, namespace: str
) -> None:
    source = Source()
    source.write("hot", 1)

    async def scenario() -> None:
        client = aioredis.Redis(port=redis_server.port)
        cache = await cl_async.create_cache(
            client, namespace=namespace, pubsub="sharded", heartbeat_interval_ms=50
        )
        assert await cache.wait_until_trusted(5)
        gate = asyncio.Event()

        async def slow(key: str) -> Loaded[Any]:
            await gate.wait()
            return source.load(key)

        reads = [asyncio.create_task(cache.get_or_load("hot", slow)) for _ in range(10)]
        while cache.stats()["misses"] < 10:
            await asyncio.sleep(0)
        gate.set()
        assert {r.version for r in await asyncio.gather(*reads)} == {1}
        assert source.loads == 1
        strict = await cache.get_or_load("hot", slow, consistency="strict")
        assert (strict.tier, cache.stats()["strict_confirmed"]) == ("L1", 1)
        await cache.close()
        await client.aclose()

    asyncio.run(scenario())
