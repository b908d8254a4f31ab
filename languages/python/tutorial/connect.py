"""Chapter 2: the Redis connection and the cache's settings."""

from __future__ import annotations

import os
from dataclasses import dataclass

import redis


# #region tutorial:settings
@dataclass(frozen=True)
class Settings:
    """The knobs of the tutorial, read once from the environment."""

    redis_url: str = "redis://127.0.0.1:6400"  # the Redis chapter 2 starts
    ttl_s: int = 60  # how long a value lives in Redis
    negative_ttl_s: int = 5  # how long a "not found" lives in Redis
    db_latency_s: float = 0.05  # the simulated cost of every database query

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            redis_url=os.environ.get("REDIS_URL", cls.redis_url),
            ttl_s=int(os.environ.get("CACHE_TTL_S", cls.ttl_s)),
            negative_ttl_s=int(os.environ.get("NEGATIVE_TTL_S", cls.negative_ttl_s)),
            db_latency_s=float(os.environ.get("DB_LATENCY_S", cls.db_latency_s)),
        )


def connect(settings: Settings) -> redis.Redis:
    """One client (a connection pool) per process; decode_responses gives str, not bytes."""
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    client.ping()  # fail at start, with a clear error, rather than on the first read
    return client


# #endregion tutorial:settings
