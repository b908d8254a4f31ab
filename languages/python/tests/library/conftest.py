from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

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
