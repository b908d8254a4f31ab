"""The cache's options: one dataclass with the Node library's defaults, validated up front."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from cachelab.errors import CachelabError, InvalidOptionError
from cachelab.keys import NAMESPACE_RULE, is_valid_namespace

PubSubMode = Literal["global", "sharded"]
_ORIGIN = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
_MAX_TIMER_MS = 2_147_483_647
_MIN_SECRET_LENGTH = 16


def _ignore(_: CachelabError) -> None:
    return None


@dataclass(frozen=True, kw_only=True)
class CacheOptions:
    """Options of :func:`cachelab.create_cache` (defaults as ``DEFAULT_CACHE_OPTIONS`` in Node)."""

    #: Prefix of every Redis key and channel (``cl:{user:42}:ver``, ``cl:invalidations``).
    namespace: str = "cl"
    #: ``global``: PUBLISH/SUBSCRIBE on one channel; ``sharded``: SPUBLISH/SSUBSCRIBE, 16 channels.
    pubsub: PubSubMode = "global"
    #: This instance's id in messages (``[A-Za-z0-9_.:/-]{1,64}``); random when None.
    origin: str | None = None
    #: Lifetime of a data entry in Redis (ms).
    ttl_ms: int = 60_000
    #: Each TTL is shortened by a random part of up to this share of it (0 … 0.9).
    ttl_jitter: float = 0.1
    #: Lifetime of a "not found" entry in Redis (ms).
    negative_ttl_ms: int = 5_000
    #: L1 size bound (0: no L1).
    l1_max_entries: int = 10_000
    #: Lifetime of an L1 entry (ms).
    l1_ttl_ms: int = 30_000
    #: Most keys whose high-water mark is kept.
    high_water_mark_max_entries: int = 100_000
    #: Heartbeat period (ms).
    heartbeat_interval_ms: int = 500
    #: No own heartbeat back for this long (ms): the subscription is presumed dead.
    heartbeat_timeout_ms: int = 2_000
    #: Bound on each Redis call of the asyncio API (ms); the sync API uses the client's timeouts.
    redis_timeout_ms: int = 250
    #: Loads in flight at most; a miss beyond it raises OverloadedError.
    max_concurrent_loads: int = 32
    #: Attempts of a write's fill-and-announce before it is kept for background retry.
    invalidate_attempts: int = 3
    #: Secrets that sign and verify messages (the first signs); empty: unsigned.
    signing_secrets: Sequence[str] = ()
    #: Called with the delay (ms) of every invalidation received from another instance.
    on_propagated: Callable[[float], None] | None = None
    #: Told of failures that are never raised at readers (Redis down, corrupt entries…).
    on_error: Callable[[CachelabError], None] = field(default=_ignore)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def pointer_ttl_ms(self) -> int:
        """The pointer outlives its data, so that a very late fill still finds the newer one."""
        return 2 * max(self.ttl_ms, self.negative_ttl_ms)


_RANGES: dict[str, tuple[int, int]] = {
    "ttl_ms": (1, _MAX_TIMER_MS),
    "negative_ttl_ms": (1, _MAX_TIMER_MS),
    "l1_max_entries": (0, 2**53 - 1),
    "l1_ttl_ms": (1, _MAX_TIMER_MS),
    "high_water_mark_max_entries": (1, 2**53 - 1),
    "heartbeat_interval_ms": (1, _MAX_TIMER_MS),
    "heartbeat_timeout_ms": (1, _MAX_TIMER_MS),
    "redis_timeout_ms": (1, _MAX_TIMER_MS),
    "max_concurrent_loads": (1, 2**53 - 1),
    "invalidate_attempts": (1, 1000),
}


def validate(options: CacheOptions) -> None:
    """Raises :class:`InvalidOptionError` naming the first option out of range."""
    if not is_valid_namespace(options.namespace):
        raise InvalidOptionError(f"`namespace` {NAMESPACE_RULE}")
    if options.pubsub not in ("global", "sharded"):
        raise InvalidOptionError("`pubsub` must be 'global' or 'sharded'")
    if options.origin is not None and _ORIGIN.fullmatch(options.origin) is None:
        raise InvalidOptionError("`origin` must be 1-64 characters of [A-Za-z0-9_.:/-]")
    for name, (low, high) in _RANGES.items():
        value = getattr(options, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidOptionError(f"`{name}` must be an integer in {low}…{high}")
    if not 0 <= options.ttl_jitter <= 0.9:
        raise InvalidOptionError("`ttl_jitter` must be a number in 0…0.9")
    if isinstance(options.signing_secrets, str):
        raise InvalidOptionError("`signing_secrets` must be a list of strings, not one string")
    for secret in options.signing_secrets:
        if not isinstance(secret, str) or len(secret) < _MIN_SECRET_LENGTH:
            raise InvalidOptionError(
                f"`signing_secrets` must hold strings of at least {_MIN_SECRET_LENGTH} characters"
            )
