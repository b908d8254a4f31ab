from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode

import cachelab.asyncio as cl_async
from cachelab import Cache, CacheOptions
from redis_server import RedisClusterServers, RedisServer

_namespaces = itertools.count()


@pytest.fixture
def namespace() -> str:
    """Each test its own namespace: its keys and channel, no FLUSHALL."""
    return f"t{next(_namespaces)}"


@pytest.fixture
def make_cache(redis_server: RedisServer, namespace: str) -> Iterator[Callable[..., Cache[Any]]]:
    """Builds trusted caches on the session's Redis; closes them after the test."""
    caches: list[Cache[Any]] = []

    def build(
        client: redis.Redis | None = None, trusted: bool = True, **options: Any
    ) -> Cache[Any]:
        options.setdefault("namespace", namespace)
        options.setdefault("heartbeat_interval_ms", 50)
        options.setdefault("heartbeat_timeout_ms", 500)
        cache: Cache[Any] = Cache(client or redis_server.client(), CacheOptions(**options))
        caches.append(cache)
        if trusted:
            assert cache.wait_until_trusted(5)
        return cache

    yield build
    for cache in caches:
        cache.close()


@pytest.fixture
def cluster_namespace(namespace: str) -> str:
    return f"c{namespace}"


@pytest.fixture
def cluster_cache(
    redis_cluster: RedisClusterServers, cluster_namespace: str
) -> Iterator[Callable[..., Cache[Any]]]:
    """Builds sync caches on the cluster, sharded Pub/Sub, trusted unless ``trusted=False``;
    closes them after the test."""
    caches: list[Cache[Any]] = []

    def build(trusted: bool = True, **options: Any) -> Cache[Any]:
        options = {
            "namespace": cluster_namespace,
            "pubsub": "sharded",
            "heartbeat_interval_ms": 50,
            "heartbeat_timeout_ms": 500,
            **options,
        }
        cache: Cache[Any] = Cache(redis_cluster.client(), CacheOptions(**options))
        caches.append(cache)
        if trusted:
            assert cache.wait_until_trusted(5)
        return cache

    yield build
    for cache in caches:
        cache.close()


@pytest.fixture
def async_cluster_cache(
    redis_cluster: RedisClusterServers, cluster_namespace: str
) -> Callable[[], contextlib.AbstractAsyncContextManager[cl_async.Cache[Any]]]:
    """Opens an asyncio cache on the cluster (sharded Pub/Sub, origin ``async``), trusted, inside
    the test's event loop (``async with async_cluster_cache() as cache``); closes it and its
    client after."""

    @contextlib.asynccontextmanager
    async def open_cache() -> AsyncIterator[cl_async.Cache[Any]]:
        client = aioredis.RedisCluster(
            startup_nodes=[ClusterNode("127.0.0.1", port) for port in redis_cluster.ports],
            decode_responses=True,
        )
        options = CacheOptions(
            namespace=cluster_namespace,
            pubsub="sharded",
            origin="async",
            heartbeat_interval_ms=50,
            heartbeat_timeout_ms=500,
        )
        try:
            async with cl_async.Cache[Any](client, options) as cache:
                assert await cache.wait_until_trusted(5)
                yield cache
        finally:
            await client.aclose()

    return open_cache
