"""The in-process tier (L1) and the high-water marks, both bounded. Not locked themselves: the
caches call them under one lock (the subscriber thread and the readers share them)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Generic

from cachelab.types import CacheRead, Loaded, V


def jitter_ttl(ttl_ms: int, jitter: float) -> int:
    """``ttl_ms`` shortened by a random part of up to ``jitter`` of it (never longer)."""
    return ttl_ms - int(random.random() * jitter * ttl_ms) if jitter > 0 else ttl_ms


@dataclass(slots=True)
class L1Entry(Generic[V]):
    version: int
    #: The answer handed out on every hit, built once per fill.
    read: CacheRead[V]
    #: Monotonic clock (ms, time.monotonic() * 1000), the clock the bus's liveness check reads.
    expires_at: float
    used: bool = False


class L1Store(Generic[V]):
    """At most ``max_entries`` entries, each living ``ttl_ms`` (jittered). When full, the oldest
    entry not used since the last sweep goes (CLOCK, an LRU approximation whose hit costs one
    boolean write); ``max_entries`` 0 disables L1."""

    def __init__(self, max_entries: int, ttl_ms: int, jitter: float = 0.0) -> None:
        self._entries: dict[str, L1Entry[V]] = {}
        self._max_entries = max_entries
        self._ttl_ms = ttl_ms
        self._jitter = jitter
        self.evictions = 0

    def get(self, key: str, now: float) -> L1Entry[V] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[key]
            return None
        entry.used = True
        return entry

    def set(self, key: str, loaded: Loaded[V], now: float) -> None:
        """Stores ``loaded`` unless a newer version is held; evicts one entry when full."""
        if self._max_entries == 0:
            return
        current = self._entries.get(key)
        if current is not None and current.version > loaded.version:
            return
        if current is None and len(self._entries) >= self._max_entries:
            self._evict_one()
        read = CacheRead(loaded.value, loaded.version, "L1")
        expires_at = now + jitter_ttl(self._ttl_ms, self._jitter)
        self._entries.pop(key, None)
        self._entries[key] = L1Entry(loaded.version, read, expires_at)

    def _evict_one(self) -> None:
        # Bounded: after one full pass every entry has had its `used` bit cleared.
        for _ in range(len(self._entries) + 1):
            key = next(iter(self._entries))
            entry = self._entries.pop(key)
            if not entry.used:
                self.evictions += 1
                return
            entry.used = False
            self._entries[key] = entry

    def drop_older_than(self, key: str, version: int) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry.version < version:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class HighWaterMarks:
    """Per key, the highest version announced (or written here). Max is idempotent and
    commutative: duplicates and reordering change nothing. Past ``max_entries`` the least
    recently raised mark is forgotten; ``evictions`` lets a fill tell that it happened."""

    def __init__(self, max_entries: int) -> None:
        self._marks: dict[str, int] = {}
        self._max_entries = max_entries
        self.evictions = 0

    def get(self, key: str) -> int:
        return self._marks.get(key, 0)

    def raise_(self, key: str, version: int) -> bool:
        """Raises the mark of ``key`` to ``version``; True when it rose."""
        current = self._marks.get(key)
        if current is not None and current >= version:
            return False
        if current is None and len(self._marks) >= self._max_entries:
            del self._marks[next(iter(self._marks))]
            self.evictions += 1
        # Re-inserted, so that the marks raised last are the ones kept longest.
        self._marks.pop(key, None)
        self._marks[key] = version
        return True

    def clear(self) -> None:
        self._marks.clear()

    def __len__(self) -> int:
        return len(self._marks)
