"""One exception hierarchy, rooted in :class:`CachelabError`; each error has a stable ``code``."""

from __future__ import annotations


class CachelabError(Exception):
    """Base of every error the library raises; ``code`` is stable (``E_INVALID_KEY``…)."""

    code = "E_CACHELAB"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidKeyError(CachelabError, ValueError):
    """A cache key that cannot be used (empty, too long, braces, spaces, control characters)."""

    code = "E_INVALID_KEY"


class InvalidEntryError(CachelabError, ValueError):
    """A loader or writer handed over something other than a value and a non-negative version."""

    code = "E_INVALID_ENTRY"


class InvalidOptionError(CachelabError, ValueError):
    """An option out of range; the message names it."""

    code = "E_INVALID_OPTION"


class RedisFailedError(CachelabError):
    """A Redis call failed; reported to ``on_error``, never raised at readers (``__cause__``)."""

    code = "E_REDIS_FAILED"


class CorruptEntryError(CachelabError):
    """Redis held a pointer or data entry this cache cannot have written; reported, then a miss."""

    code = "E_CORRUPT_ENTRY"


class InvalidationFailedError(CachelabError):
    """A write's announcement could not be sent after every attempt; reported to ``on_error``."""

    code = "E_INVALIDATION_FAILED"


class VersionUnavailableError(CachelabError):
    """A read's ``min_version`` is above what the source of truth has: no answer below it."""

    code = "E_VERSION_UNAVAILABLE"

    def __init__(self, key: str, min_version: int, available: int) -> None:
        super().__init__(
            f"{key}: version {min_version} was asked for, the source of truth has {available}"
        )
        self.key = key
        self.min_version = min_version
        self.available = available


class OverloadedError(CachelabError):
    """A miss while ``max_concurrent_loads`` loads are in flight: refused at once."""

    code = "E_OVERLOADED"


class ClosedError(CachelabError):
    """The cache was closed."""

    code = "E_CLOSED"


#: Every error class by its code.
ERRORS: dict[str, type[CachelabError]] = {
    cls.code: cls
    for cls in (
        CachelabError,
        InvalidKeyError,
        InvalidEntryError,
        InvalidOptionError,
        RedisFailedError,
        CorruptEntryError,
        InvalidationFailedError,
        VersionUnavailableError,
        OverloadedError,
        ClosedError,
    )
}
