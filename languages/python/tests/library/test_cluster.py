"""The protocol on a real Redis Cluster (three masters, a replica each): sharded Pub/Sub, one
subscription per shard channel on the node owning its slot, trust withdrawn when any breaks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import cachelab.asyncio as cl_async
from cachelab import Cache, Loaded
from cachelab.keys import key_slot, shard_of_slot
from fakes import Source
from redis_server import RedisClusterServers, wait_for

_namespaces = itertools.count()


def one_key_per_shard() -> list[str]:
    """``user:<n>`` keys, the first one found of each of the 16 shards."""
    keys: dict[int, str] = {}
    for n in itertools.count():
        keys.setdefault(shard_of_slot(key_slot(f"user:{n}")), f"user:{n}")
        if len(keys) == 16:
            return [keys[shard] for shard in range(16)]
    raise AssertionError


def test_a_write_on_one_instance_reaches_the_other_on_every_shard(
    cluster_cache: Callable[..., Cache[Any]],
) -> None:
    source = Source()
    keys = one_key_per_shard()
    writer, reader = cluster_cache(origin="writer"), cluster_cache(origin="reader")
    for key in keys:
        source.write(key, "v1")
        reader.get_or_load(key, source.load)
    assert {reader.get_or_load(key, source.load).tier for key in keys} == {"L1"}
    for key in keys:
        writer.set(key, source.write(key, "v2"))
    wait_for(lambda: reader.stats()["invalidations_received"] == 16)
    reads = [reader.get_or_load(key, source.load) for key in keys]
    assert {(read.tier, read.version, read.value) for read in reads} == {("L2", 2, "v2")}
    assert source.loads == 16


def test_a_killed_shard_subscriber_withdraws_trust_until_l1_is_flushed(
    cluster_cache: Callable[..., Cache[Any]], redis_cluster: RedisClusterServers
) -> None:
    source = Source()
    key = one_key_per_shard()[0]
    source.write(key, "v1")
    writer, reader = cluster_cache(origin="writer"), cluster_cache(origin="reader")
    reader.get_or_load(key, source.load)
    assert reader.get_or_load(key, source.load).tier == "L1"
    # One master only: the subscriptions on the other two still work, trust goes all the same.
    killed = redis_cluster.masters()[0].client().client_kill_filter(_type="pubsub")
    assert killed >= 2  # the writer's and the reader's subscriber there
    wait_for(lambda: reader.stats()["trust_lost"] == 1, timeout_s=5)
    wait_for(lambda: reader.trusted, timeout_s=5)
    stats = reader.stats()
    assert (stats["l1_size"], stats["l1_flushes"]) == (0, 2)  # flushed at start and on regain
    assert reader.get_or_load(key, source.load).tier == "L2"
    writer.set(key, source.write(key, "v2"))
    wait_for(lambda: reader.stats()["invalidations_received"] == 1)
    assert reader.get_or_load(key, source.load).version == 2


def test_scripts_flushed_on_every_node_are_loaded_again_where_the_key_lives(
    cluster_cache: Callable[..., Cache[Any]], redis_cluster: RedisClusterServers
) -> None:
    source = Source()
    cache = cluster_cache()
    for server in redis_cluster.masters():
        server.client().script_flush()
    for key in one_key_per_shard():
        cache.set(key, source.write(key, "v1"))
        cache.announce(key, 2)
    assert cache.stats()["redis_errors"] == 0


def test_an_asyncio_cache_on_the_cluster_is_coherent_with_a_sync_one_and_survives_a_kill(
    cluster_cache: Callable[..., Cache[Any]],
    redis_cluster: RedisClusterServers,
    async_cluster_cache: Callable[[], AbstractAsyncContextManager[cl_async.Cache[Any]]],
) -> None:
    source = Source()
    keys = one_key_per_shard()
    sync_cache = cluster_cache(origin="sync")

    async def load(key: str) -> Loaded[Any]:
        return source.load(key)

    async def until(check: Callable[[], bool]) -> None:
        deadline = asyncio.get_running_loop().time() + 5
        while not check():
            assert asyncio.get_running_loop().time() < deadline, "not true within 5 s"
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        async with async_cluster_cache() as cache:
            for key in keys:
                source.write(key, "v1")
                await cache.get_or_load(key, load)
            sync_cache.set(keys[5], source.write(keys[5], "v2"))
            await until(lambda: cache.stats()["invalidations_received"] == 1)
            assert (await cache.get_or_load(keys[5], load)).tier == "L2"
            await cache.set(keys[9], source.write(keys[9], "v2"))
            wait_for(lambda: sync_cache.stats()["invalidations_received"] == 1)

            await asyncio.to_thread(
                redis_cluster.masters()[-1].client().client_kill_filter, _type="pubsub"
            )
            await until(lambda: cache.stats()["trust_lost"] == 1)
            await until(lambda: cache.trusted)
            assert cache.stats()["l1_size"] == 0

    asyncio.run(scenario())
