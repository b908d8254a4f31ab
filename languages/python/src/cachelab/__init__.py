"""cachelab: two-tier cache-aside for Redis (in-process L1, Redis L2) kept coherent by versioned
keys, the protocol's Lua scripts and Pub/Sub invalidation — interoperable with ``@cachelab/cache``.

The synchronous API is here (:class:`Cache`, :func:`create_cache`); the asyncio one is
:mod:`cachelab.asyncio`.
"""

from __future__ import annotations

from typing import Any

import redis

from cachelab.errors import (
    ERRORS,
    CachelabError,
    ClosedError,
    CorruptEntryError,
    InvalidationFailedError,
    InvalidEntryError,
    InvalidKeyError,
    InvalidOptionError,
    OverloadedError,
    RedisFailedError,
    VersionUnavailableError,
)
from cachelab.keys import Keys
from cachelab.options import CacheOptions
from cachelab.sync import Cache
from cachelab.types import CacheRead, Consistency, Loaded, Loader, Tier

__all__ = [
    "ERRORS",
    "Cache",
    "CacheOptions",
    "CacheRead",
    "CachelabError",
    "ClosedError",
    "Consistency",
    "CorruptEntryError",
    "InvalidEntryError",
    "InvalidKeyError",
    "InvalidOptionError",
    "InvalidationFailedError",
    "Keys",
    "Loaded",
    "Loader",
    "OverloadedError",
    "RedisFailedError",
    "Tier",
    "VersionUnavailableError",
    "create_cache",
]


def create_cache(client: redis.Redis, **options: Any) -> Cache[Any]:
    """A synchronous :class:`Cache` over ``client``; keyword options as :class:`CacheOptions`."""
    return Cache(client, CacheOptions(**options))
